/// Linux x86-64 ABI constants as strace spells them, shared by the
/// simulator, the HTTP layer and the trace importers.
///
/// Values come from include/uapi/asm-generic/mman-common.h,
/// include/uapi/linux/mman.h, arch/x86/include/uapi/asm/mman.h and
/// include/uapi/asm-generic/fcntl.h.
public enum Linux {
    public static let PAGE_SIZE: UInt64 = 4096
    public static let PAGE_SHIFT: UInt64 = 12

    // prot
    public static let PROT_NONE: UInt64 = 0x0
    public static let PROT_READ: UInt64 = 0x1
    public static let PROT_WRITE: UInt64 = 0x2
    public static let PROT_EXEC: UInt64 = 0x4
    public static let PROT_SEM: UInt64 = 0x8
    public static let PROT_GROWSDOWN: UInt64 = 0x0100_0000
    public static let PROT_GROWSUP: UInt64 = 0x0200_0000

    // mmap flags
    public static let MAP_SHARED: UInt64 = 0x01
    public static let MAP_PRIVATE: UInt64 = 0x02
    public static let MAP_SHARED_VALIDATE: UInt64 = 0x03
    public static let MAP_DROPPABLE: UInt64 = 0x08
    public static let MAP_TYPE: UInt64 = 0x0f
    public static let MAP_FIXED: UInt64 = 0x10
    public static let MAP_ANONYMOUS: UInt64 = 0x20
    public static let MAP_32BIT: UInt64 = 0x40
    public static let MAP_GROWSDOWN: UInt64 = 0x100
    public static let MAP_DENYWRITE: UInt64 = 0x800
    public static let MAP_EXECUTABLE: UInt64 = 0x1000
    public static let MAP_LOCKED: UInt64 = 0x2000
    public static let MAP_NORESERVE: UInt64 = 0x4000
    public static let MAP_POPULATE: UInt64 = 0x8000
    public static let MAP_NONBLOCK: UInt64 = 0x10000
    public static let MAP_STACK: UInt64 = 0x20000
    public static let MAP_HUGETLB: UInt64 = 0x40000
    public static let MAP_SYNC: UInt64 = 0x80000
    public static let MAP_FIXED_NOREPLACE: UInt64 = 0x100000
    public static let MAP_UNINITIALIZED: UInt64 = 0x4000000
    /// LEGACY_MAP_MASK (include/linux/mman.h): flags MAP_SHARED_VALIDATE accepts.
    public static let LEGACY_MAP_MASK: UInt64 = MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS
        | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_UNINITIALIZED | MAP_GROWSDOWN | MAP_LOCKED
        | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_32BIT
        | (0x3f << 26)

    // madvise
    public static let MADV_NORMAL: UInt64 = 0
    public static let MADV_RANDOM: UInt64 = 1
    public static let MADV_SEQUENTIAL: UInt64 = 2
    public static let MADV_WILLNEED: UInt64 = 3
    public static let MADV_DONTNEED: UInt64 = 4
    public static let MADV_FREE: UInt64 = 8
    public static let MADV_REMOVE: UInt64 = 9
    public static let MADV_DONTFORK: UInt64 = 10
    public static let MADV_DOFORK: UInt64 = 11
    public static let MADV_MERGEABLE: UInt64 = 12
    public static let MADV_UNMERGEABLE: UInt64 = 13
    public static let MADV_HUGEPAGE: UInt64 = 14
    public static let MADV_NOHUGEPAGE: UInt64 = 15
    public static let MADV_DONTDUMP: UInt64 = 16
    public static let MADV_DODUMP: UInt64 = 17
    public static let MADV_WIPEONFORK: UInt64 = 18
    public static let MADV_KEEPONFORK: UInt64 = 19
    public static let MADV_COLD: UInt64 = 20
    public static let MADV_PAGEOUT: UInt64 = 21
    public static let MADV_POPULATE_READ: UInt64 = 22
    public static let MADV_POPULATE_WRITE: UInt64 = 23
    public static let MADV_DONTNEED_LOCKED: UInt64 = 24
    public static let MADV_COLLAPSE: UInt64 = 25
    public static let MADV_HWPOISON: UInt64 = 100
    public static let MADV_SOFT_OFFLINE: UInt64 = 101
    public static let MADV_GUARD_INSTALL: UInt64 = 102
    public static let MADV_GUARD_REMOVE: UInt64 = 103

    // mremap
    public static let MREMAP_MAYMOVE: UInt64 = 1
    public static let MREMAP_FIXED: UInt64 = 2
    public static let MREMAP_DONTUNMAP: UInt64 = 4

    // open
    public static let O_ACCMODE: UInt64 = 0o3
    public static let O_RDONLY: UInt64 = 0o0
    public static let O_WRONLY: UInt64 = 0o1
    public static let O_RDWR: UInt64 = 0o2

    /// strace's spelling of prot values (PROT_NONE for 0).
    public static let protNames = FlagTable(zeroName: "PROT_NONE", entries: [
        ("PROT_READ", PROT_READ), ("PROT_WRITE", PROT_WRITE), ("PROT_EXEC", PROT_EXEC),
        ("PROT_SEM", PROT_SEM), ("PROT_GROWSDOWN", PROT_GROWSDOWN), ("PROT_GROWSUP", PROT_GROWSUP),
    ])

    /// strace's spelling of mmap flags; the map type (MAP_SHARED, MAP_PRIVATE,
    /// MAP_SHARED_VALIDATE, MAP_DROPPABLE) is printed first, as strace does.
    public static let mapNames = FlagTable(zeroName: "0", typeMask: MAP_TYPE, types: [
        ("MAP_SHARED", MAP_SHARED), ("MAP_PRIVATE", MAP_PRIVATE),
        ("MAP_SHARED_VALIDATE", MAP_SHARED_VALIDATE), ("MAP_DROPPABLE", MAP_DROPPABLE),
    ], entries: [
        ("MAP_FIXED", MAP_FIXED), ("MAP_ANONYMOUS", MAP_ANONYMOUS), ("MAP_32BIT", MAP_32BIT),
        ("MAP_GROWSDOWN", MAP_GROWSDOWN), ("MAP_DENYWRITE", MAP_DENYWRITE),
        ("MAP_EXECUTABLE", MAP_EXECUTABLE), ("MAP_LOCKED", MAP_LOCKED),
        ("MAP_NORESERVE", MAP_NORESERVE), ("MAP_POPULATE", MAP_POPULATE),
        ("MAP_NONBLOCK", MAP_NONBLOCK), ("MAP_STACK", MAP_STACK), ("MAP_HUGETLB", MAP_HUGETLB),
        ("MAP_SYNC", MAP_SYNC), ("MAP_FIXED_NOREPLACE", MAP_FIXED_NOREPLACE),
        ("MAP_UNINITIALIZED", MAP_UNINITIALIZED),
    ], aliases: [("MAP_ANON", MAP_ANONYMOUS), ("MAP_FILE", 0)])

    /// madvise advice values (an enumeration, not a bit set).
    public static let madvNames = FlagTable(enumeration: [
        ("MADV_NORMAL", MADV_NORMAL), ("MADV_RANDOM", MADV_RANDOM), ("MADV_SEQUENTIAL", MADV_SEQUENTIAL),
        ("MADV_WILLNEED", MADV_WILLNEED), ("MADV_DONTNEED", MADV_DONTNEED), ("MADV_FREE", MADV_FREE),
        ("MADV_REMOVE", MADV_REMOVE), ("MADV_DONTFORK", MADV_DONTFORK), ("MADV_DOFORK", MADV_DOFORK),
        ("MADV_MERGEABLE", MADV_MERGEABLE), ("MADV_UNMERGEABLE", MADV_UNMERGEABLE),
        ("MADV_HUGEPAGE", MADV_HUGEPAGE), ("MADV_NOHUGEPAGE", MADV_NOHUGEPAGE),
        ("MADV_DONTDUMP", MADV_DONTDUMP), ("MADV_DODUMP", MADV_DODUMP),
        ("MADV_WIPEONFORK", MADV_WIPEONFORK), ("MADV_KEEPONFORK", MADV_KEEPONFORK),
        ("MADV_COLD", MADV_COLD), ("MADV_PAGEOUT", MADV_PAGEOUT),
        ("MADV_POPULATE_READ", MADV_POPULATE_READ), ("MADV_POPULATE_WRITE", MADV_POPULATE_WRITE),
        ("MADV_DONTNEED_LOCKED", MADV_DONTNEED_LOCKED), ("MADV_COLLAPSE", MADV_COLLAPSE),
        ("MADV_HWPOISON", MADV_HWPOISON), ("MADV_SOFT_OFFLINE", MADV_SOFT_OFFLINE),
        ("MADV_GUARD_INSTALL", MADV_GUARD_INSTALL), ("MADV_GUARD_REMOVE", MADV_GUARD_REMOVE),
    ])

    /// mremap flags.
    public static let mremapNames = FlagTable(zeroName: "0", entries: [
        ("MREMAP_MAYMOVE", MREMAP_MAYMOVE), ("MREMAP_FIXED", MREMAP_FIXED),
        ("MREMAP_DONTUNMAP", MREMAP_DONTUNMAP),
    ])

    /// open(2) flags; the access mode (O_RDONLY, O_WRONLY, O_RDWR) prints first.
    public static let openNames = FlagTable(zeroName: "O_RDONLY", typeMask: O_ACCMODE, types: [
        ("O_RDONLY", O_RDONLY), ("O_WRONLY", O_WRONLY), ("O_RDWR", O_RDWR),
    ], entries: [
        ("O_CREAT", 0o100), ("O_EXCL", 0o200), ("O_NOCTTY", 0o400), ("O_TRUNC", 0o1000),
        ("O_APPEND", 0o2000), ("O_NONBLOCK", 0o4000), ("O_DSYNC", 0o10000), ("O_DIRECT", 0o40000),
        ("O_LARGEFILE", 0o100000), ("O_DIRECTORY", 0o200000), ("O_NOFOLLOW", 0o400000),
        ("O_NOATIME", 0o1000000), ("O_CLOEXEC", 0o2000000), ("O_PATH", 0o10000000),
    ], aliases: [("O_NDELAY", 0o4000)])
}

/// Error from parsing a flag or value spelling.
public struct FlagParseError: Error, Equatable, Sendable {
    /// The name that was not recognised.
    public let token: String
}

/// A table of names for a bit set or enumeration, as strace prints it.
///
/// A class (immutable, so Sendable) rather than a struct: passing a table
/// such as `Linux.mapNames` then retains one reference instead of copying
/// six reference-counted fields, which showed in every mmap of an ops batch.
public final class FlagTable: Sendable {
    public let zeroName: String
    public let typeMask: UInt64
    public let types: [(String, UInt64)]
    public let entries: [(String, UInt64)]
    public let isEnumeration: Bool
    private let byName: [String: UInt64]
    /// `byName` grouped by the names' UTF-8 length, for looking bytes up
    /// without making a String.
    private let byLength: [[(name: [UInt8], value: UInt64)]]

    public init(zeroName: String, typeMask: UInt64 = 0, types: [(String, UInt64)] = [],
                entries: [(String, UInt64)], aliases: [(String, UInt64)] = []) {
        self.zeroName = zeroName
        self.typeMask = typeMask
        self.types = types
        self.entries = entries
        self.isEnumeration = false
        var names: [String: UInt64] = [:]
        for (n, v) in types + entries + aliases { names[n] = v }
        self.byName = names
        self.byLength = Self.grouped(names)
    }

    public init(enumeration: [(String, UInt64)]) {
        self.zeroName = "0"
        self.typeMask = 0
        self.types = []
        self.entries = enumeration
        self.isEnumeration = true
        var names: [String: UInt64] = [:]
        for (n, v) in enumeration { names[n] = v }
        self.byName = names
        self.byLength = Self.grouped(names)
    }

    private static func grouped(_ names: [String: UInt64]) -> [[(name: [UInt8], value: UInt64)]] {
        var groups: [[(name: [UInt8], value: UInt64)]] = Array(repeating: [], count: (names.keys.map(\.utf8.count).max() ?? 0) + 1)
        for (n, v) in names { groups[n.utf8.count].append((Array(n.utf8), v)) }
        return groups
    }

    /// `byName[token]` for the token's bytes.
    @inline(__always)
    private func value(of token: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard token.count < byLength.count else { return nil }
        search: for (name, v) in byLength[token.count] {
            for k in 0..<token.count where name[k] != token[k] { continue search }
            return v
        }
        return nil
    }

    /// The value of one name, if known.
    public func value(of name: String) -> UInt64? { byName[name] }

    /// Parses "A|B|0x10", a decimal or hex number, or a single name.
    public func parse(_ text: String) throws(FlagParseError) -> UInt64 {
        switch parseASCII(text) {
        case let .value(v): return v
        case let .unknown(token): throw FlagParseError(token: token)
        case .notASCII?, nil: break
        }
        var result: UInt64 = 0
        for raw in text.split(separator: "|", omittingEmptySubsequences: false) {
            var sub = raw[...]
            while let c = sub.first, c == " " || c == "\t" { sub = sub.dropFirst() }
            while let c = sub.last, c == " " || c == "\t" { sub = sub.dropLast() }
            let token = String(sub)
            if let v = try tokenValue(token) { result |= v }
        }
        return result
    }

    /// One trimmed token's value (nil for `zeroName`), or its error.
    @inline(__always)
    private func tokenValue(_ token: String) throws(FlagParseError) -> UInt64? {
        if let v = byName[token] { return v }
        if token == zeroName { return nil }
        if let v = Self.parseNumber(token) { return v }
        throw FlagParseError(token: token)
    }

    /// `parse` of the text whose UTF-8 is `b`, when it is "A|B|…" made only
    /// of the table's names (each may be padded with spaces or tabs); nil
    /// for anything else (numbers, `zeroName`, unknown or empty tokens), for
    /// which the caller asks `parse(_:)`. Reads the bytes in place, so a
    /// caller holding request bytes makes no String.
    public func parseNames(_ b: UnsafeBufferPointer<UInt8>) -> UInt64? {
        var result: UInt64 = 0
        let complete = Self.forEachToken(b) { token in
            guard let v = value(of: token) else { return false }
            result |= v
            return true
        }
        return complete ? result : nil
    }

    /// Calls `body` with each "|"-separated token of `b`, trimmed of spaces
    /// and tabs, in order, until `body` returns false. Returns whether every
    /// token was visited.
    @inline(__always)
    private static func forEachToken(_ b: UnsafeBufferPointer<UInt8>,
                                     _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        var start = 0
        while start <= b.count {
            var end = start
            while end < b.count && b[end] != UInt8(ascii: "|") { end += 1 }
            var lo = start, hi = end
            while lo < hi && (b[lo] == 0x20 || b[lo] == 0x09) { lo += 1 }
            while hi > lo && (b[hi - 1] == 0x20 || b[hi - 1] == 0x09) { hi -= 1 }
            guard body(UnsafeBufferPointer(rebasing: b[lo..<hi])) else { return false }
            start = end + 1
        }
        return true
    }

    private enum ASCIIParse { case value(UInt64), unknown(String), notASCII }

    /// `parse` over the bytes of an all-ASCII text, where each Character is
    /// one byte, so splitting and trimming bytes is the same as splitting
    /// and trimming Characters, without the grapheme machinery.
    private func parseASCII(_ text: String) -> ASCIIParse? {
        text.utf8.withContiguousStorageIfAvailable { b -> ASCIIParse in
            for c in b where c >= 0x80 { return .notASCII }
            var result: UInt64 = 0
            var unknown: String?
            _ = Self.forEachToken(b) { bytes in
                if let v = value(of: bytes) {
                    result |= v
                    return true
                }
                do throws(FlagParseError) {
                    if let v = try tokenValue(String(decoding: bytes, as: UTF8.self)) { result |= v }
                    return true
                } catch {
                    unknown = error.token
                    return false
                }
            }
            if let unknown { return .unknown(unknown) }
            return .value(result)
        }
    }

    /// Parses an array of names (each may itself be "A|B").
    public func parse(_ names: [String]) throws(FlagParseError) -> UInt64 {
        var result: UInt64 = 0
        for n in names { result |= try parse(n) }
        return result
    }

    /// strace's rendering of a value.
    public func format(_ value: UInt64) -> String {
        if isEnumeration {
            for (n, v) in entries where v == value { return n }
            return String(value)
        }
        var parts: [String] = []
        var rest = value
        if typeMask != 0 {
            let t = value & typeMask
            if let name = types.first(where: { $0.1 == t })?.0 {
                parts.append(name)
                rest &= ~typeMask
            }
        }
        for (n, v) in entries where v != 0 && rest & v == v {
            parts.append(n)
            rest &= ~v
        }
        if rest != 0 { parts.append("0x" + String(rest, radix: 16)) }
        return parts.isEmpty ? zeroName : parts.joined(separator: "|")
    }

    /// Parses "123", "0x7b", "-1" (as two's complement) or "0o17".
    public static func parseNumber(_ token: String) -> UInt64? {
        if token.hasPrefix("0x") || token.hasPrefix("0X") { return UInt64(token.dropFirst(2), radix: 16) }
        if token.hasPrefix("-"), let v = Int64(token) { return UInt64(bitPattern: v) }
        if token.count > 1, token.hasPrefix("0"), token.allSatisfy({ $0.isNumber }) {
            return UInt64(token.dropFirst(), radix: 8)
        }
        return UInt64(token)
    }
}
