import MMHTTP
import MMCore
/// A parsed JSON value. Objects keep their key order (small objects are
/// looked up linearly, which beats hashing at the sizes an API body has).
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.int(x), .int(y)): x == y
        case let (.double(x), .double(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// Member lookup on an object (nil for other kinds or a missing key).
    public subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        for (k, v) in members where k == key { return v }
        return nil
    }

    /// The JSON type name, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int, .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Convenience constructors for building responses.
    public static func str(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    public static func num(_ i: Int) -> JSONValue { .int(Int64(i)) }
    public static func num(_ i: Int?) -> JSONValue { i.map { .int(Int64($0)) } ?? .null }
    public static func num(_ u: UInt64) -> JSONValue { .int(Int64(bitPattern: u)) }
    /// A lower-case 0x hex address string (docs/API.md "Addresses").
    public static func addr(_ u: UInt64) -> JSONValue { .string(hex(u)) }
}

/// A JSON syntax error with the byte offset where it was found.
public struct JSONSyntaxError: Error, Equatable, Sendable {
    public let offset: Int
    public let message: String
}
