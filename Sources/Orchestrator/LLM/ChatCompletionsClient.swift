import DiagnosisModel
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, llama.cpp server,
/// LiteLLM): `POST {base_url}/chat/completions` with tools.
public struct ChatCompletionsClient: Sendable {
    public struct Settings: Sendable {
        public var baseURL: URL
        public var model: String
        public var apiKey: String?
        public var timeout: Duration

        public init(baseURL: URL, model: String, apiKey: String?, timeout: Duration) {
            self.baseURL = baseURL
            self.model = model
            self.apiKey = apiKey
            self.timeout = timeout
        }
    }

    public struct ToolCall: Sendable {
        public var name: String
        /// The raw JSON text the model produced (it may be malformed).
        public var arguments: String
    }

    public struct Reply: Sendable {
        public var content: String?
        public var toolCalls: [ToolCall]
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    let settings: Settings
    /// Scrubs every request body once more before it leaves (the daemon's secret scrubber).
    let scrub: @Sendable (String) -> String

    public init(settings: Settings, scrub: @escaping @Sendable (String) -> String) {
        self.settings = settings
        self.scrub = scrub
    }

    /// Sends messages (and tools) and returns the first choice's message.
    public func complete(messages: [[String: Any]], tools: [[String: Any]]? = nil, jsonObject: Bool = false) async throws -> Reply {
        var body: [String: Any] = ["model": settings.model, "messages": messages, "temperature": 0]
        if let tools, !tools.isEmpty {
            body["tools"] = tools
            body["tool_choice"] = "auto"
        }
        if jsonObject { body["response_format"] = ["type": "json_object"] }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        let scrubbed = Data(scrub(String(decoding: data, as: UTF8.self)).utf8)
        var request = URLRequest(url: settings.baseURL.appendingPathComponent("chat/completions"), timeoutInterval: Double(settings.timeout.components.seconds) + 1)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let key = settings.apiKey, !key.isEmpty { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        request.httpBody = scrubbed

        let timeout = settings.timeout
        let prepared = request
        let result: (Data, URLResponse)? = try await withThrowingTaskGroup(of: (Data, URLResponse)?.self) { group in
            group.addTask { try await URLSession.shared.data(for: prepared) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        guard let (responseData, response) = result else { throw Failure("no answer within \(timeout)") }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else {
            throw Failure("HTTP \(status): \(String(decoding: responseData.prefix(200), as: UTF8.self))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: responseData) as? [String: Any],
              let choices = object["choices"] as? [[String: Any]], let message = choices.first?["message"] as? [String: Any] else {
            throw Failure("the answer is not a chat completion")
        }
        let calls = (message["tool_calls"] as? [[String: Any]] ?? []).compactMap { call -> ToolCall? in
            guard let function = call["function"] as? [String: Any], let name = function["name"] as? String else { return nil }
            return ToolCall(name: name, arguments: function["arguments"] as? String ?? "{}")
        }
        return Reply(content: message["content"] as? String, toolCalls: calls)
    }
}
