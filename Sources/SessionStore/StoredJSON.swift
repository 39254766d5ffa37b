import DiagnosisModel
import Foundation

/// How both stores keep values in text columns: the project's JSON coding (stable dates).
enum StoredJSON {
    static let encoder = JSONCoding.encoder()
    static let decoder = JSONCoding.decoder()

    static func text(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try decoder.decode(T.self, from: Data(text.utf8))
    }
}
