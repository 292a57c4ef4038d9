import MMCore
/// One line of `/proc/PID/maps`:
/// `start-end perms offset major:minor inode [path]`.
public struct MapsEntry: Sendable, Equatable {
    /// What the mapping is backed by, from its path column.
    public enum Kind: Sendable, Equatable {
        /// A file (the path starts with `/`, or anything that is not bracketed).
        case file
        /// Anonymous memory: empty path, or a name like `[anon:name]`.
        case anonymous
        /// `[heap]`: the brk area.
        case heap
        /// `[stack]` (or the old `[stack:TID]`).
        case stack
        /// `[vdso]`.
        case vdso
        /// `[vvar]`, `[vvar_vclock]`.
        case vvar
        /// `[vsyscall]`.
        case vsyscall
        /// Any other bracketed kernel name (`[uprobes]`, `[anon_shmem:x]`...).
        case pseudo
    }

    /// First address of the mapping.
    public var start: UInt64
    /// First address after the mapping.
    public var end: UInt64
    /// `r` in the permissions column.
    public var read: Bool
    /// `w` in the permissions column.
    public var write: Bool
    /// `x` in the permissions column.
    public var exec: Bool
    /// `s` (shared) rather than `p` (private) in the permissions column.
    public var shared: Bool
    /// File offset of `start`, in bytes.
    public var offset: UInt64
    /// Device major number (hex in the file).
    public var devMajor: UInt32
    /// Device minor number (hex in the file).
    public var devMinor: UInt32
    /// Inode number, 0 for anonymous memory.
    public var inode: UInt64
    /// The path or pseudo-name as printed, without a ` (deleted)` suffix;
    /// empty for anonymous memory.
    public var path: String
    /// Whether the path carried the ` (deleted)` suffix.
    public var deleted: Bool
    /// The backing classified from `path`.
    public var kind: Kind

    /// Length in bytes.
    public var length: UInt64 { end - start }

    /// The permissions as `PROT_*` bits.
    public var prot: UInt64 {
        (read ? Linux.PROT_READ : 0) | (write ? Linux.PROT_WRITE : 0) | (exec ? Linux.PROT_EXEC : 0)
    }

    /// Creates an entry.
    public init(start: UInt64, end: UInt64, read: Bool, write: Bool, exec: Bool, shared: Bool,
                offset: UInt64, devMajor: UInt32, devMinor: UInt32, inode: UInt64, path: String,
                deleted: Bool = false, kind: Kind) {
        self.start = start
        self.end = end
        self.read = read
        self.write = write
        self.exec = exec
        self.shared = shared
        self.offset = offset
        self.devMajor = devMajor
        self.devMinor = devMinor
        self.inode = inode
        self.path = path
        self.deleted = deleted
        self.kind = kind
    }
}

/// A `/proc/PID/maps` line that could not be parsed.
public struct MapsParseError: Error, Sendable, Equatable {
    /// 1-based line number.
    public var line: Int
    /// The line's text.
    public var text: String
    /// What was wrong.
    public var reason: String
}

/// Parses `/proc/PID/maps` text (no I/O: pass the file's contents).
public enum MapsParser {
    /// Parses every non-blank line, failing on the first malformed one.
    public static func parse(_ text: String) throws(MapsParseError) -> [MapsEntry] {
        var entries: [MapsEntry] = []
        var failure: MapsParseError?
        var copy = text
        copy.withUTF8 { all in
            var start = 0, number = 1
            while start < all.count {
                var end = start
                while end < all.count, all[end] != Ch.nl { end += 1 }
                let line = UnsafeBufferPointer(rebasing: all[start..<end])
                let r = Scan.trim(line, 0..<line.count)
                if !r.isEmpty {
                    switch parse(line) {
                    case .success(let e): entries.append(e)
                    case .failure(let why):
                        failure = MapsParseError(line: number, text: Scan.string(line, r), reason: why.reason)
                        return
                    }
                }
                start = end + 1
                number += 1
            }
        }
        if let failure { throw failure }
        return entries
    }

    /// Parses one line; nil if it is malformed.
    public static func parseLine(_ line: String) -> MapsEntry? {
        var copy = line
        return copy.withUTF8 { try? parse($0).get() }
    }

    private struct Why: Error { let reason: String }

    private static func parse(_ b: Bytes) -> Result<MapsEntry, Why> {
        var end = b.count
        while end > 0, Scan.isSpace(b[end - 1]) || b[end - 1] == Ch.cr { end -= 1 }
        var i = 0
        Scan.skipSpaces(b, &i, end)
        func hex() -> UInt64? {
            var v: UInt64 = 0
            let s = i
            while i < end, let d = Scan.hexDigit(b[i]) { v = v << 4 | d; i += 1 }
            return i > s && i - s <= 16 ? v : nil
        }
        guard let start = hex(), i < end, b[i] == Ch.minus else { return .failure(Why(reason: "bad start address")) }
        i += 1
        guard let stop = hex(), stop >= start else { return .failure(Why(reason: "bad end address")) }
        Scan.skipSpaces(b, &i, end)
        guard i + 4 <= end else { return .failure(Why(reason: "missing permissions")) }
        let p = (b[i], b[i + 1], b[i + 2], b[i + 3])
        guard p.0 == 0x72 || p.0 == Ch.minus, p.1 == 0x77 || p.1 == Ch.minus, p.2 == Ch.x || p.2 == Ch.minus,
              p.3 == 0x73 || p.3 == 0x70 else { return .failure(Why(reason: "bad permissions")) }
        i += 4
        Scan.skipSpaces(b, &i, end)
        guard let offset = hex() else { return .failure(Why(reason: "bad offset")) }
        Scan.skipSpaces(b, &i, end)
        guard let major = hex(), i < end, b[i] == Ch.colon else { return .failure(Why(reason: "bad device")) }
        i += 1
        guard let minor = hex() else { return .failure(Why(reason: "bad device")) }
        Scan.skipSpaces(b, &i, end)
        guard let inode = Scan.parseUInt(b, &i, end) else { return .failure(Why(reason: "bad inode")) }
        Scan.skipSpaces(b, &i, end)
        var pathEnd = end
        var deleted = false
        if pathEnd - i >= 10, Scan.has(b, pathEnd - 10, pathEnd, " (deleted)") {
            deleted = true
            pathEnd -= 10
        }
        let path = i < pathEnd ? Scan.string(b, i..<pathEnd) : ""
        return .success(MapsEntry(start: start, end: stop, read: p.0 == 0x72, write: p.1 == 0x77,
                                  exec: p.2 == Ch.x, shared: p.3 == 0x73, offset: offset,
                                  devMajor: UInt32(truncatingIfNeeded: major),
                                  devMinor: UInt32(truncatingIfNeeded: minor), inode: inode, path: path,
                                  deleted: deleted, kind: kind(of: path)))
    }

    private static func kind(of path: String) -> MapsEntry.Kind {
        guard let first = path.utf8.first else { return .anonymous }
        guard first == Ch.lbracket else { return .file }
        switch path {
        case "[heap]": return .heap
        case "[stack]": return .stack
        case "[vdso]": return .vdso
        case "[vvar]", "[vvar_vclock]": return .vvar
        case "[vsyscall]": return .vsyscall
        default:
            if path.hasPrefix("[stack:") { return .stack }
            if path.hasPrefix("[anon:") { return .anonymous }
            return .pseudo
        }
    }
}
