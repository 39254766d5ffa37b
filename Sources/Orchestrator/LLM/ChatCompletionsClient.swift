import DiagnosisModel
import Foundation
import OutboundHTTP

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
        var headers = [(name: "Content-Type", value: "application/json")]
        if let key = settings.apiKey, !key.isEmpty { headers.append((name: "Authorization", value: "Bearer \(key)")) }
        let answer: OutboundResponse
        do {
            answer = try await OutboundHTTPClient.shared.send(OutboundRequest(.post, settings.baseURL.appendingPathComponent("chat/completions"), headers: headers, body: scrubbed, timeout: settings.timeout))
        } catch {
            throw Failure(error.description)
        }
        let responseData = answer.body
        guard answer.status == 200 else {
            throw Failure("HTTP \(answer.status): \(String(decoding: responseData.prefix(200), as: UTF8.self))")
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
