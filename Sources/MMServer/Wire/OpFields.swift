import MMHTTP
import MMCore

/// The typed fields of one operation's request object, as `Op.decode` and
/// `Requests` read them: `Args` over a parsed JSON tree, or `BatchFields`
/// straight over the bytes of a batch (which declines, by throwing,
/// anything it does not handle exactly like `Args`).
///
/// Keys are `StaticString`s: `RawFields` compares their bytes in place,
/// without building a String per lookup.
protocol OpFields {
    /// Prefix for field names in messages (e.g. "ops[3].").
    var context: String { get }
    /// Whether the member exists and is not null.
    func has(_ key: StaticString) -> Bool
    /// A required (`def` nil) or defaulted integer.
    func int(_ key: StaticString, default def: Int?) throws(APIError) -> Int
    /// A byte count or offset.
    func u64(_ key: StaticString, default def: UInt64?) throws(APIError) -> UInt64
    /// An address: "0x…" string, integer, or null.
    func address(_ key: StaticString, default def: UInt64?) throws(APIError) -> UInt64
    /// Flags in strace spelling, an array of names, or a number.
    func flags(_ key: StaticString, _ table: FlagTable, default def: UInt64?) throws(APIError) -> UInt64
    /// A required or defaulted string.
    func string(_ key: StaticString, default def: String?) throws(APIError) -> String
    /// A required (`def` nil) or defaulted string, matched by `match` over
    /// its UTF-8 bytes: `def` when absent, nil when `match` rejects it (the
    /// caller names the allowed values). `def` must be what `match` makes
    /// of the default's spelling.
    func keyword<T>(_ key: StaticString, default def: T?,
                    _ match: (UnsafeBufferPointer<UInt8>) -> T?) throws(APIError) -> T?
    /// A nested object, if present.
    func object(_ key: StaticString) throws(APIError) -> Args?
    /// The fields as `Args` over a JSON tree, for the rare ops that need the tree.
    func tree() throws(APIError) -> Args
    /// Called when an op has read its fields: throws if a member was not
    /// read (`RawFields` declines; `Args` checked its keys up front).
    func finish() throws(APIError)
}

extension OpFields {
    func int(_ key: StaticString) throws(APIError) -> Int { try int(key, default: nil) }
    func u64(_ key: StaticString) throws(APIError) -> UInt64 { try u64(key, default: nil) }
    func address(_ key: StaticString) throws(APIError) -> UInt64 { try address(key, default: nil) }
    func flags(_ key: StaticString, _ table: FlagTable) throws(APIError) -> UInt64 { try flags(key, table, default: nil) }
    func string(_ key: StaticString) throws(APIError) -> String { try string(key, default: nil) }
}

/// `Args` answers through its String-keyed accessors (which name the
/// field in errors); the key is made into a String only on this path.
extension Args: OpFields {
    func has(_ key: StaticString) -> Bool { has(key.description) }
    func int(_ key: StaticString, default def: Int?) throws(APIError) -> Int { try int(key.description, default: def) }
    func u64(_ key: StaticString, default def: UInt64?) throws(APIError) -> UInt64 { try u64(key.description, default: def) }
    func address(_ key: StaticString, default def: UInt64?) throws(APIError) -> UInt64 {
        try address(key.description, default: def)
    }
    func flags(_ key: StaticString, _ table: FlagTable, default def: UInt64?) throws(APIError) -> UInt64 {
        try flags(key.description, table, default: def)
    }
    func string(_ key: StaticString, default def: String?) throws(APIError) -> String {
        try string(key.description, default: def)
    }
    func keyword<T>(_ key: StaticString, default def: T?,
                    _ match: (UnsafeBufferPointer<UInt8>) -> T?) throws(APIError) -> T? {
        // As `string(key, default:)` with the default's spelling, then matched.
        if let def, !has(key.description) { return def }
        var s = try string(key.description, default: nil)
        return s.withUTF8(match)
    }
    func object(_ key: StaticString) throws(APIError) -> Args? { try object(key.description) }
    func tree() -> Args { self }
    func finish() {}
}
