import MMHTTP
import MMCore

/// Typed access to the members of a JSON request object, with 400 errors
/// that name the field (docs/API.md "Conventions").
public struct Args {
    public let value: JSONValue
    /// The members of `value`.
    private let members: [(String, JSONValue)]
    /// What `context` is made of; an `ops` entry's prefix is only formatted
    /// for an error message.
    private enum Prefix { case text(String), op(Int) }
    private let prefix: Prefix
    /// The keys allowed, when checked (`init(_:schema:)`); nested objects
    /// are checked against the field's schema.
    private let schema: Schema?

    /// Prefix for field names in messages (e.g. "ops[3].").
    public var context: String { Self.text(prefix) }

    private static func text(_ prefix: Prefix) -> String {
        switch prefix {
        case let .text(t): t
        case let .op(n): "ops[\(n)]."
        }
    }

    public init(_ value: JSONValue, context: String = "") throws(APIError) {
        try self.init(value, .text(context), schema: nil)
    }

    /// The members of a request object of `schema`: a key it does not list
    /// is a 400 naming the field (and so is one of a nested object).
    init(_ value: JSONValue, schema: Schema, context: String = "") throws(APIError) {
        try self.init(value, .text(context), schema: schema)
    }

    /// Arguments of entry `index` of a batch (context "ops[index].").
    init(_ value: JSONValue, opIndex index: Int) throws(APIError) {
        try self.init(value, .op(index), schema: nil)
    }

    private init(_ value: JSONValue, _ prefix: Prefix, schema: Schema?) throws(APIError) {
        self.prefix = prefix
        guard case let .object(members) = value else {
            let context = Self.text(prefix)
            throw .badRequest("\(context.isEmpty ? "body" : String(context.dropLast()))) must be a JSON object")
        }
        self.value = value
        self.members = members
        self.schema = schema
        if let schema {
            for (k, _) in members where !schema.allows(k) {
                throw .badRequest("field \(name(k)): unknown key (\(schema.name) takes \(schema.fields.map(\.name).joined(separator: ", ")))")
            }
        }
    }

    /// The same members checked against `schema`.
    func checked(against schema: Schema) throws(APIError) -> Args {
        try Args(value, prefix, schema: schema)
    }

    private func name(_ key: String) -> String { "'\(context)\(key)'" }

    /// The first member named `key`, if any (like `JSONValue`'s subscript).
    @inline(__always)
    private func member(_ key: String) -> JSONValue? {
        let n = key.utf8.count
        for (k, v) in members where k.utf8.count == n && k == key { return v }
        return nil
    }

    /// Whether the member exists and is not null.
    public func has(_ key: String) -> Bool {
        if let v = member(key), v != .null { return true }
        return false
    }

    /// A required or defaulted integer.
    public func int(_ key: String, default def: Int? = nil) throws(APIError) -> Int {
        guard let v = member(key), v != .null else {
            if let def { return def }
            throw .badRequest("field \(name(key)) is required")
        }
        guard case let .int(i) = v else { throw .badRequest("field \(name(key)) must be an integer") }
        return Int(i)
    }

    /// A byte count or offset: a non-negative-or-wrapping integer (`-1` and
    /// huge values reach the simulated kernel unchanged, as in C).
    public func u64(_ key: String, default def: UInt64? = nil) throws(APIError) -> UInt64 {
        guard let v = member(key), v != .null else {
            if let def { return def }
            throw .badRequest("field \(name(key)) is required")
        }
        switch v {
        case let .int(i): return UInt64(bitPattern: i)
        case let .double(d) where d >= 0 && d < 1.8446744073709552e19 && d == d.rounded(): return UInt64(d)
        case let .string(s):
            if let n = FlagTable.parseNumber(s) { return n }
            throw .badRequest("field \(name(key)) must be an integer or a 0x hex string")
        default: throw .badRequest("field \(name(key)) must be an integer")
        }
    }

    /// An address: "0x…" string, integer, or null (= 0 / NULL).
    public func address(_ key: String, default def: UInt64? = nil) throws(APIError) -> UInt64 {
        guard let v = member(key), v != .null else {
            if let def { return def }
            throw .badRequest("field \(name(key)) is required")
        }
        switch v {
        case let .int(i): return UInt64(bitPattern: i)
        case let .string(s):
            if let n = Self.hexAddress(s) { return n }
            let t = s.lowercased()
            if t == "null" { return 0 }
            if t.hasPrefix("0x"), let n = UInt64(t.dropFirst(2), radix: 16) { return n }
            if let n = UInt64(t) { return n }
            throw .badRequest("field \(name(key)) must be a 0x hex address or an integer, got \"\(s)\"")
        default: throw .badRequest("field \(name(key)) must be a 0x hex address or an integer")
        }
    }

    /// "0x…" with 1…16 hex digits, parsed without allocating; nil for
    /// anything else (which `address` then parses the general way).
    static func hexAddress(_ s: String) -> UInt64? {
        s.utf8.withContiguousStorageIfAvailable(RawFields.hexAddress) ?? nil
    }

    /// Flags in strace spelling ("A|B"), an array of names, or a number.
    public func flags(_ key: String, _ table: FlagTable, default def: UInt64? = nil) throws(APIError) -> UInt64 {
        guard let v = member(key), v != .null else {
            if let def { return def }
            throw .badRequest("field \(name(key)) is required")
        }
        do {
            switch v {
            case let .int(i): return UInt64(bitPattern: i)
            case let .string(s): return try table.parse(s)
            case let .array(items):
                var names: [String] = []
                for item in items {
                    guard case let .string(s) = item else { throw APIError.badRequest("field \(name(key)) must hold names") }
                    names.append(s)
                }
                return try table.parse(names)
            default: throw APIError.badRequest("field \(name(key)) must be a name, an array of names or a number")
            }
        } catch let e as FlagParseError {
            throw .badRequest("field \(name(key)): unknown name '\(e.token)'")
        } catch let e as APIError {
            throw e
        } catch {
            throw .badRequest("field \(name(key)) is invalid")
        }
    }

    /// A string member.
    public func string(_ key: String, default def: String? = nil) throws(APIError) -> String {
        guard let v = member(key), v != .null else {
            if let def { return def }
            throw .badRequest("field \(name(key)) is required")
        }
        guard case let .string(s) = v else { throw .badRequest("field \(name(key)) must be a string") }
        return s
    }

    /// An optional boolean.
    public func bool(_ key: String, default def: Bool) throws(APIError) -> Bool {
        guard let v = member(key), v != .null else { return def }
        guard case let .bool(b) = v else { throw .badRequest("field \(name(key)) must be a boolean") }
        return b
    }

    /// A nested object, if present.
    public func object(_ key: String) throws(APIError) -> Args? {
        guard let v = member(key), v != .null else { return nil }
        guard case .object = v else { throw .badRequest("field \(name(key)) must be an object") }
        if case let .object(sub)? = schema?.field(key)?.type {
            return try Args(v, .text("\(context)\(key)."), schema: sub)
        }
        return try Args(v, context: "\(context)\(key).")
    }
}
