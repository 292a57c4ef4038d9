import MMHTTP
import MMCore

/// The fields of one flat request object read straight from the request
/// bytes, without a JSONValue tree: the fast path of POST …/faults and of
/// `ops` batches.
///
/// It only ever answers what `Args` would answer for the same object. The
/// scanner accepts just a subset of JSON (ASCII strings without escapes,
/// integers of at most 18 digits, no nesting, null or booleans), and every
/// accessor throws `RawFields.declined` where `Args` would do anything
/// but return the plain value (an error, a default it cannot be sure of, a
/// nested object). A caller that gets nil or `declined` decodes the same
/// body the general way, which then gives the exact answer or error.
struct RawFields: OpFields {
    /// One member: key and value byte ranges (string contents, unquoted),
    /// or the parsed integer.
    struct Member {
        var key: Range<Int>
        /// The key's first eight bytes (`RawFields.prefix`), compared first.
        var prefix: UInt64
        var string: Range<Int>?
        var int: Int64
    }

    /// Thrown where `Args` might not simply return a value; never shown.
    static let declined = APIError(.internalError, "fast path declined")

    let body: UnsafeBufferPointer<UInt8>
    /// The object's members, in order: the first `count` of `storage`
    /// (the scanner reuses one array for every object).
    let storage: [Member]
    let count: Int
    /// Bit k set once member k was read (`finish` declines an object with
    /// a member no accessor read: the general path names the unknown key).
    /// Owned by the scanner's caller, reset per object.
    let used: UnsafeMutablePointer<UInt64>
    /// One bit per member key (`bloomBit` of its prefix): a key whose bit is
    /// clear is not a member, answered without scanning the members (the
    /// optional keys an op does not have are most of the lookups).
    let keys: UInt64

    // The accessors are inlined into `Op.decode` and `Requests`, so the
    // key of each lookup is a literal and its prefix a constant.

    /// Never used in a message: every error is declined.
    var context: String { "" }

    /// The first member named `key` (as `Args` looks members up). Inlined,
    /// so the prefix of a literal key is a constant.
    @inline(__always)
    private func member(_ key: StaticString) -> Member? {
        key.withUTF8Buffer { k in
            let prefix = Self.prefix(k)
            guard keys & Self.bloomBit(prefix) != 0 else { return nil }
            return find(k, prefix: prefix)
        }
    }

    /// The bit of `keys` for a key with this prefix (Fibonacci hashing to 6 bits).
    @inline(__always)
    static func bloomBit(_ prefix: UInt64) -> UInt64 { 1 << ((prefix &* 0x9E37_79B9_7F4A_7C15) >> 58) }

    /// The first member whose key is `k`, given `k`'s prefix.
    private func find(_ k: UnsafeBufferPointer<UInt8>, prefix: UInt64) -> Member? {
        storage.withUnsafeBufferPointer { ms -> Member? in
            guard let m = ms.baseAddress else { return nil }
            var i = 0
            search: while i < count {
                defer { i += 1 }
                guard m[i].prefix == prefix && m[i].key.count == k.count else { continue }
                let start = m[i].key.lowerBound
                var j = 8
                while j < k.count {
                    if k[j] != body[start + j] { continue search }
                    j += 1
                }
                used.pointee |= 1 << UInt64(i)
                return m[i]
            }
            return nil
        }
    }

    func finish() throws(APIError) {
        guard used.pointee == (count == 64 ? ~0 : (1 << UInt64(count)) - 1) else { throw Self.declined }
    }

    /// The first eight bytes of `b` (fewer, zero-padded, when shorter),
    /// little-endian: at most three loads, none past the end of `b`.
    @inline(__always)
    static func prefix(_ b: UnsafeBufferPointer<UInt8>) -> UInt64 {
        guard let base = b.baseAddress else { return 0 }
        let p = UnsafeRawPointer(base)
        if b.count >= 8 { return UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)) }
        var w: UInt64 = 0, at = 0
        if b.count & 4 != 0 { w = UInt64(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))); at = 4 }
        if b.count & 2 != 0 {
            w |= UInt64(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt16.self))) << (8 * at)
            at += 2
        }
        if b.count & 1 != 0 { w |= UInt64(b[at]) << (8 * at) }
        return w
    }

    private func text(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: body[r]), as: UTF8.self) }

    @inline(__always)
    func has(_ key: StaticString) -> Bool { member(key) != nil }

    @inline(__always)
    func int(_ key: StaticString, default def: Int?) throws(APIError) -> Int {
        guard let m = member(key) else { if let def { return def }; throw Self.declined }
        guard m.string == nil else { throw Self.declined }
        return Int(m.int)
    }

    @inline(__always)
    func u64(_ key: StaticString, default def: UInt64?) throws(APIError) -> UInt64 {
        guard let m = member(key) else { if let def { return def }; throw Self.declined }
        guard let s = m.string else { return UInt64(bitPattern: m.int) }
        guard let n = FlagTable.parseNumber(text(s)) else { throw Self.declined }
        return n
    }

    @inline(__always)
    func address(_ key: StaticString, default def: UInt64?) throws(APIError) -> UInt64 {
        guard let m = member(key) else { if let def { return def }; throw Self.declined }
        guard let s = m.string else { return UInt64(bitPattern: m.int) }
        guard let n = Self.hexAddress(UnsafeBufferPointer(rebasing: body[s])) else { throw Self.declined }
        return n
    }

    @inline(__always)
    func flags(_ key: StaticString, _ table: FlagTable, default def: UInt64?) throws(APIError) -> UInt64 {
        guard let m = member(key) else { if let def { return def }; throw Self.declined }
        guard let s = m.string else { return UInt64(bitPattern: m.int) }
        // Names only (the common case) straight from the bytes; anything else via a String.
        if let v = table.parseNames(UnsafeBufferPointer(rebasing: body[s])) { return v }
        guard let v = try? table.parse(text(s)) else { throw Self.declined }
        return v
    }

    @inline(__always)
    func string(_ key: StaticString, default def: String?) throws(APIError) -> String {
        guard let m = member(key) else { if let def { return def }; throw Self.declined }
        guard let s = m.string else { throw Self.declined }
        return text(s)
    }

    @inline(__always)
    func keyword<T>(_ key: StaticString, default def: T?,
                    _ match: (UnsafeBufferPointer<UInt8>) -> T?) throws(APIError) -> T? {
        guard let m = member(key) else { if let def { return def }; throw Self.declined }
        guard let s = m.string else { throw Self.declined }
        return match(UnsafeBufferPointer(rebasing: body[s]))
    }

    @inline(__always)
    func object(_ key: StaticString) throws(APIError) -> Args? {
        guard member(key) == nil else { throw Self.declined }
        return nil
    }

    func tree() throws(APIError) -> Args { throw Self.declined }

    /// `Args.hexAddress` over bytes: "0x…" with 1…16 hex digits.
    static func hexAddress(_ b: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard b.count >= 3, b.count <= 18, b[0] == UInt8(ascii: "0"), b[1] | 0x20 == UInt8(ascii: "x") else { return nil }
        var v: UInt64 = 0
        for k in 2..<b.count {
            let c = b[k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c &- UInt8(ascii: "A") &+ 10
            default: return nil
            }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// Runs `decode` on the fields of `body` when it is exactly one flat
    /// object (surrounding whitespace allowed) the scanner accepts; nil
    /// when it is not, or when `decode` throws.
    static func decode<T>(_ body: [UInt8], _ decode: (RawFields) throws(APIError) -> T) -> T? {
        // The read mask lives on the stack for the call.
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 1) { used -> T? in
            body.withUnsafeBufferPointer { b -> T? in
                var scanner = RawJSONScanner(b, used: used.baseAddress!)
                scanner.skipSpace()
                guard let fields = scanner.flatObject() else { return nil }
                scanner.skipSpace()
                guard scanner.atEnd else { return nil }
                do { return try decode(fields) } catch { return nil }
            }
        }
    }
}

/// A scanner over the strict JSON subset RawFields accepts; every method
/// returns nil (or false) on anything else, including what JSONParser
/// would accept.
struct RawJSONScanner {
    let b: UnsafeBufferPointer<UInt8>
    private(set) var i = 0
    /// Reused between objects (no allocation per op): the current object's
    /// members are the first `memberCount`.
    private var members: [RawFields.Member] = []
    private var memberCount = 0
    /// `RawFields.keys` of the current object.
    private var keys: UInt64 = 0
    /// The read mask of the current object's RawFields.
    private let used: UnsafeMutablePointer<UInt64>

    init(_ b: UnsafeBufferPointer<UInt8>, used: UnsafeMutablePointer<UInt64>) {
        self.b = b
        self.used = used
    }

    var atEnd: Bool { i == b.count }

    /// Skips JSON whitespace.
    @inline(__always)
    mutating func skipSpace() {
        while i < b.count {
            let c = b[i]
            if c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 { i += 1 } else { break }
        }
    }

    /// Consumes `c` if it is next.
    @inline(__always)
    mutating func eat(_ c: UInt8) -> Bool {
        if i < b.count && b[i] == c { i += 1; return true }
        return false
    }

    /// Whether the bytes in `r` are `s`.
    func bytes(_ r: Range<Int>, equal s: StaticString) -> Bool {
        guard r.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for k in 0..<r.count where b[r.lowerBound + k] != p[k] { return false }
        return true
    }

    /// A string of printable ASCII without escapes: its contents' range.
    mutating func plainString() -> Range<Int>? {
        guard eat(UInt8(ascii: "\"")) else { return nil }
        let start = i
        skipPlain()
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; return start..<(i - 1) }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { return nil }
            i += 1
        }
        return nil
    }

    /// Advances over plain string bytes (none of '"', '\\', below 0x20 or
    /// above 0x7f) eight at a time while eight bytes remain, stopping at
    /// the first byte that is not plain (or short of the end); the caller
    /// goes on byte by byte. SWAR: each test marks the high bit of a byte
    /// that matches; a mark can be spurious only above a real one, so the
    /// lowest mark is always a real match.
    @inline(__always)
    private mutating func skipPlain() {
        guard let base = b.baseAddress else { return }
        let raw = UnsafeRawPointer(base)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while i + 8 <= b.count {
            let x = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let quote = x ^ (ones &* UInt64(UInt8(ascii: "\""))), backslash = x ^ (ones &* UInt64(UInt8(ascii: "\\")))
            let marks = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
                | ((x &- ones &* 0x20) & ~x) | x
            let hit = marks & highs
            if hit != 0 {
                i += hit.trailingZeroBitCount / 8
                return
            }
            i += 8
        }
    }

    /// A JSON integer of at most 18 digits with no fraction or exponent.
    mutating func integer() -> Int64? {
        let negative = eat(UInt8(ascii: "-"))
        let start = i
        guard i < b.count, b[i] &- UInt8(ascii: "0") < 10 else { return nil }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < b.count && b[i] &- UInt8(ascii: "0") < 10 { i += 1 }
        }
        guard i - start <= 18 else { return nil }
        if i < b.count && (b[i] == UInt8(ascii: ".") || b[i] | 0x20 == UInt8(ascii: "e")) { return nil }
        var v: Int64 = 0
        for k in start..<i { v = v &* 10 &+ Int64(b[k] &- UInt8(ascii: "0")) }
        return negative ? -v : v
    }

    /// `{ "key": string-or-integer, … }` (possibly empty).
    mutating func flatObject() -> RawFields? {
        guard eat(UInt8(ascii: "{")) else { return nil }
        memberCount = 0
        keys = 0
        used.pointee = 0
        skipSpace()
        if !eat(UInt8(ascii: "}")) {
            while true {
                skipSpace()
                guard let key = plainString() else { return nil }
                skipSpace()
                guard eat(UInt8(ascii: ":")) else { return nil }
                skipSpace()
                guard i < b.count else { return nil }
                if b[i] == UInt8(ascii: "\"") {
                    guard let v = plainString() else { return nil }
                    add(RawFields.Member(key: key, prefix: keyPrefix(key), string: v, int: 0))
                } else {
                    guard let n = integer() else { return nil }
                    add(RawFields.Member(key: key, prefix: keyPrefix(key), string: nil, int: n))
                }
                skipSpace()
                if eat(UInt8(ascii: ",")) { continue }
                if eat(UInt8(ascii: "}")) { break }
                return nil
            }
        }
        guard memberCount <= 64 else { return nil }
        return RawFields(body: b, storage: members, count: memberCount, used: used, keys: keys)
    }

    /// Stores member `memberCount`, overwriting a previous object's.
    @inline(__always)
    private mutating func add(_ m: RawFields.Member) {
        if memberCount < members.count { members[memberCount] = m } else { members.append(m) }
        memberCount += 1
        keys |= RawFields.bloomBit(m.prefix)
    }

    /// `RawFields.prefix` of the key bytes at `r`: one unaligned load where
    /// eight bytes remain in the body (always, but for a key near the end).
    @inline(__always)
    private func keyPrefix(_ r: Range<Int>) -> UInt64 {
        guard r.lowerBound + 8 <= b.count, let base = b.baseAddress else {
            return RawFields.prefix(UnsafeBufferPointer(rebasing: b[r]))
        }
        let w = UInt64(littleEndian: UnsafeRawPointer(base).loadUnaligned(fromByteOffset: r.lowerBound, as: UInt64.self))
        return r.count >= 8 ? w : w & ((1 << (8 * UInt64(r.count))) - 1)
    }
}
