/// Byte-level scanning shared by the trace importers. Everything works on
/// the UTF-8 bytes of one line, without regular expressions or Foundation.
typealias Bytes = UnsafeBufferPointer<UInt8>

/// ASCII byte values used by the scanners.
enum Ch {
    @inline(__always) static var space: UInt8 { 0x20 }
    @inline(__always) static var tab: UInt8 { 0x09 }
    @inline(__always) static var cr: UInt8 { 0x0D }
    @inline(__always) static var nl: UInt8 { 0x0A }
    @inline(__always) static var quote: UInt8 { 0x22 }
    @inline(__always) static var backslash: UInt8 { 0x5C }
    @inline(__always) static var comma: UInt8 { 0x2C }
    @inline(__always) static var lparen: UInt8 { 0x28 }
    @inline(__always) static var rparen: UInt8 { 0x29 }
    @inline(__always) static var lbracket: UInt8 { 0x5B }
    @inline(__always) static var rbracket: UInt8 { 0x5D }
    @inline(__always) static var lbrace: UInt8 { 0x7B }
    @inline(__always) static var rbrace: UInt8 { 0x7D }
    @inline(__always) static var lt: UInt8 { 0x3C }
    @inline(__always) static var gt: UInt8 { 0x3E }
    @inline(__always) static var colon: UInt8 { 0x3A }
    @inline(__always) static var dot: UInt8 { 0x2E }
    @inline(__always) static var minus: UInt8 { 0x2D }
    @inline(__always) static var plus: UInt8 { 0x2B }
    @inline(__always) static var equal: UInt8 { 0x3D }
    @inline(__always) static var pipe: UInt8 { 0x7C }
    @inline(__always) static var slash: UInt8 { 0x2F }
    @inline(__always) static var star: UInt8 { 0x2A }
    @inline(__always) static var question: UInt8 { 0x3F }
    @inline(__always) static var zero: UInt8 { 0x30 }
    @inline(__always) static var x: UInt8 { 0x78 }
    @inline(__always) static var X: UInt8 { 0x58 }
    @inline(__always) static var underscore: UInt8 { 0x5F }
}

/// Stateless helpers over `Bytes`.
enum Scan {
    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- Ch.zero < 10 }
    @inline(__always) static func isSpace(_ c: UInt8) -> Bool { c == Ch.space || c == Ch.tab }
    @inline(__always) static func isUpper(_ c: UInt8) -> Bool { c &- 0x41 < 26 }
    @inline(__always) static func isIdent(_ c: UInt8) -> Bool {
        (c | 0x20) &- 0x61 < 26 || c &- Ch.zero < 10 || c == Ch.underscore
    }

    @inline(__always) static func hexDigit(_ c: UInt8) -> UInt64? {
        if c &- Ch.zero < 10 { return UInt64(c &- Ch.zero) }
        let l = c | 0x20
        if l &- 0x61 < 6 { return UInt64(l &- 0x61 &+ 10) }
        return nil
    }

    /// FNV-1a hash of `b[r]`, used to look names up without making Strings.
    @inline(__always) static func hash(_ b: Bytes, _ r: Range<Int>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in r { h = (h ^ UInt64(b[i])) &* 0x100_0000_01b3 }
        return h
    }

    /// FNV-1a hash of a String's UTF-8 bytes.
    static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in s.utf8 { h = (h ^ UInt64(c)) &* 0x100_0000_01b3 }
        return h
    }

    static func string(_ b: Bytes, _ r: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self)
    }

    @inline(__always) static func skipSpaces(_ b: Bytes, _ i: inout Int, _ end: Int) {
        while i < end, isSpace(b[i]) { i += 1 }
    }

    /// `r` without leading and trailing blanks.
    static func trim(_ b: Bytes, _ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi, isSpace(b[lo]) { lo += 1 }
        while hi > lo, isSpace(b[hi - 1]) || b[hi - 1] == Ch.cr || b[hi - 1] == Ch.nl { hi -= 1 }
        return lo..<hi
    }

    /// Whether `b` holds `lit` at `i`.
    static func has(_ b: Bytes, _ i: Int, _ end: Int, _ lit: StaticString) -> Bool {
        let n = lit.utf8CodeUnitCount
        guard i >= 0, i + n <= end else { return false }
        let p = lit.utf8Start
        for k in 0..<n where b[i + k] != p[k] { return false }
        return true
    }

    /// Index of the first `lit` in `b[from..<end]`.
    static func find(_ b: Bytes, _ from: Int, _ end: Int, _ lit: StaticString) -> Int? {
        let n = lit.utf8CodeUnitCount
        guard n > 0, end - from >= n else { return nil }
        let first = lit.utf8Start[0]
        var i = from
        while i + n <= end {
            if b[i] == first, has(b, i, end, lit) { return i }
            i += 1
        }
        return nil
    }

    /// Parses an unsigned number at `i` ("0x1f", "31", "017" octal) and
    /// advances past it.
    static func parseUInt(_ b: Bytes, _ i: inout Int, _ end: Int) -> UInt64? {
        guard i < end, isDigit(b[i]) else { return nil }
        var v: UInt64 = 0
        if b[i] == Ch.zero, i + 1 < end, b[i + 1] | 0x20 == Ch.x {
            var j = i + 2
            let start = j
            while j < end, let d = hexDigit(b[j]) { v = v &<< 4 | d; j += 1 }
            guard j > start, j - start <= 16 else { return nil }
            i = j
            return v
        }
        let octal = b[i] == Ch.zero
        var j = i
        var overflow = false
        while j < end, isDigit(b[j]) {
            let d = UInt64(b[j] &- Ch.zero)
            if octal {
                if d > 7 { return nil }
                v = v &<< 3 | d
            } else {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(d)
                overflow = overflow || o1 || o2
                v = s
            }
            j += 1
        }
        if overflow { return nil }
        i = j
        return v
    }

    /// Parses an optionally negative number; negative values come back as
    /// two's complement.
    static func parseInt(_ b: Bytes, _ i: inout Int, _ end: Int) -> Int64? {
        var j = i
        let negative = j < end && b[j] == Ch.minus
        if negative { j += 1 }
        guard let u = parseUInt(b, &j, end) else { return nil }
        i = j
        return negative ? 0 &- Int64(bitPattern: u) : Int64(bitPattern: u)
    }

    /// Parses "123.456" (digits, optional fraction) as a Double.
    static func parseDecimal(_ b: Bytes, _ i: inout Int, _ end: Int) -> Double? {
        var j = i
        var whole: UInt64 = 0
        while j < end, isDigit(b[j]) { whole = whole &* 10 &+ UInt64(b[j] &- Ch.zero); j += 1 }
        guard j > i else { return nil }
        var value = Double(whole)
        if j < end, b[j] == Ch.dot {
            j += 1
            var frac: UInt64 = 0, scale: Double = 1
            while j < end, isDigit(b[j]) {
                if scale < 1e18 { frac = frac &* 10 &+ UInt64(b[j] &- Ch.zero); scale *= 10 }
                j += 1
            }
            value += Double(frac) / scale
        }
        i = j
        return value
    }

    /// Decodes a C-style quoted string starting at the opening quote;
    /// advances past the closing quote. Handles \n \t \" \\ \NNN \xNN.
    static func parseQuoted(_ b: Bytes, _ i: inout Int, _ end: Int) -> String? {
        guard i < end, b[i] == Ch.quote else { return nil }
        var j = i + 1
        while j < end, b[j] != Ch.quote, b[j] != Ch.backslash { j += 1 }
        if j < end, b[j] == Ch.quote {  // no escapes
            let s = string(b, (i + 1)..<j)
            i = j + 1
            return s
        }
        j = i + 1
        var out: [UInt8] = []
        out.reserveCapacity(64)
        while j < end {
            let c = b[j]
            if c == Ch.quote { i = j + 1; return String(decoding: out, as: UTF8.self) }
            if c != Ch.backslash { out.append(c); j += 1; continue }
            j += 1
            guard j < end else { return nil }
            let e = b[j]
            switch e {
            case 0x6E: out.append(Ch.nl); j += 1
            case 0x74: out.append(Ch.tab); j += 1
            case 0x72: out.append(Ch.cr); j += 1
            case 0x76: out.append(0x0B); j += 1
            case 0x66: out.append(0x0C); j += 1
            case Ch.x:
                var v: UInt64 = 0, k = j + 1
                while k < end, k < j + 3, let d = hexDigit(b[k]) { v = v << 4 | d; k += 1 }
                out.append(UInt8(truncatingIfNeeded: v)); j = k
            case Ch.zero...0x37:
                var v: UInt64 = 0, k = j
                while k < end, k < j + 3, b[k] &- Ch.zero < 8 { v = v << 3 | UInt64(b[k] &- Ch.zero); k += 1 }
                out.append(UInt8(truncatingIfNeeded: v)); j = k
            default: out.append(e); j += 1
            }
        }
        return nil
    }
}

/// An open-addressing map keyed by an already computed 64-bit hash (FNV of
/// a name), so that hot-path lookups skip `Hasher`.
struct HashMap<Value: Sendable>: Sendable {
    private var keys: [UInt64]
    private var values: [Value?]
    private var count = 0

    init(capacity: Int = 16) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        keys = Array(repeating: 0, count: n)
        values = Array(repeating: nil, count: n)
    }

    @inline(__always) private static func slot(_ h: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: ((h ^ (h >> 31)) &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
    }

    subscript(hash: UInt64) -> Value? {
        get {
            let h = hash == 0 ? 1 : hash
            let mask = keys.count - 1
            var i = Self.slot(h, mask)
            while true {
                let k = keys[i]
                if k == h { return values[i] }
                if k == 0 { return nil }
                i = (i + 1) & mask
            }
        }
        set {
            guard let newValue else { return }  // removal is not needed
            let h = hash == 0 ? 1 : hash
            if (count + 1) * 2 > keys.count { grow() }
            let mask = keys.count - 1
            var i = Self.slot(h, mask)
            while keys[i] != 0, keys[i] != h { i = (i + 1) & mask }
            if keys[i] == 0 { count += 1 }
            keys[i] = h
            values[i] = newValue
        }
    }

    private mutating func grow() {
        var bigger = HashMap(capacity: keys.count)
        for (k, v) in zip(keys, values) where k != 0 { bigger[k] = v }
        self = bigger
    }
}

/// A name → value table looked up by hashing bytes, built from `FlagTable`s.
struct FlagLookup: Sendable {
    private var values = HashMap<UInt64>()
    /// `NAME` → shift for strace's `21<<MAP_HUGE_SHIFT` spelling.
    private var shifts = HashMap<UInt64>()

    init(_ table: FlagTable, extra: [(String, UInt64)] = [], shifts: [(String, UInt64)] = []) {
        values[Scan.hash(table.zeroName)] = 0
        for (n, v) in table.types + table.entries + extra { values[Scan.hash(n)] = v }
        for (n, s) in shifts { self.shifts[Scan.hash(n)] = s }
    }

    init(entries: [(String, UInt64)]) {
        for (n, v) in entries { values[Scan.hash(n)] = v }
    }

    func value(_ b: Bytes, _ r: Range<Int>) -> UInt64? { values[Scan.hash(b, r)] }

    func value(of name: String) -> UInt64? { values[Scan.hash(name)] }

    /// Parses "A|B|0x10|21<<MAP_HUGE_SHIFT" in `b[r]`, stopping at a blank
    /// (strace -X verbose appends a comment). Nil on an unknown name.
    func parse(_ b: Bytes, _ r: Range<Int>, ignoreUnknown: Bool = false) -> UInt64? {
        var result: UInt64 = 0
        var i = r.lowerBound
        var end = r.upperBound
        if let sp = (i..<end).first(where: { Scan.isSpace(b[$0]) }) { end = sp }
        guard i < end else { return nil }
        while i < end {
            var j = i
            while j < end, b[j] != Ch.pipe { j += 1 }
            if let v = token(b, i..<j) { result |= v } else if !ignoreUnknown { return nil }
            i = j + 1
        }
        return result
    }

    private func token(_ b: Bytes, _ r: Range<Int>) -> UInt64? {
        guard !r.isEmpty else { return nil }
        if Scan.isDigit(b[r.lowerBound]) {
            var i = r.lowerBound
            guard let v = Scan.parseUInt(b, &i, r.upperBound) else { return nil }
            if i == r.upperBound { return v }
            // "21<<MAP_HUGE_SHIFT"
            guard i + 2 < r.upperBound, b[i] == Ch.lt, b[i + 1] == Ch.lt,
                  let s = shifts[Scan.hash(b, (i + 2)..<r.upperBound)] else { return nil }
            return v << s
        }
        return values[Scan.hash(b, r)]
    }
}

/// Constants the importers need beyond `Linux`.
enum TraceTables {
    /// Errno names by number (asm-generic/errno-base.h, errno.h); "" for gaps.
    static let errnoNames: [String] = [
        "", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF",
        "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV",
        "ENODEV", "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG",
        "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK",
        "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP", "", "ENOMSG", "EIDRM", "ECHRNG",
        "EL2NSYNC", "EL3HLT", "EL3RST", "ELNRNG", "EUNATCH", "ENOCSI", "EL2HLT", "EBADE", "EBADR",
        "EXFULL", "ENOANO", "EBADRQC", "EBADSLT", "", "EBFONT", "ENOSTR", "ENODATA", "ETIME",
        "ENOSR", "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT", "ECOMM", "EPROTO",
        "EMULTIHOP", "EDOTDOT", "EBADMSG", "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG",
        "ELIBACC", "ELIBBAD", "ELIBSCN", "ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE",
        "EUSERS", "ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE", "EPROTOTYPE", "ENOPROTOOPT",
        "EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT",
        "EADDRINUSE", "EADDRNOTAVAIL", "ENETDOWN", "ENETUNREACH", "ENETRESET", "ECONNABORTED",
        "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN", "ETOOMANYREFS", "ETIMEDOUT",
        "ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "ESTALE",
        "EUCLEAN", "ENOTNAM", "ENAVAIL", "EISNAM", "EREMOTEIO", "EDQUOT", "ENOMEDIUM",
        "EMEDIUMTYPE", "ECANCELED", "ENOKEY", "EKEYEXPIRED", "EKEYREVOKED", "EKEYREJECTED",
        "EOWNERDEAD", "ENOTRECOVERABLE", "ERFKILL", "EHWPOISON",
    ]
    /// Kernel-internal errnos strace shows (include/linux/errno.h), from 512.
    static let internalErrnoNames: [String] = [
        "ERESTARTSYS", "ERESTARTNOINTR", "ERESTARTNOHAND", "ENOIOCTLCMD", "ERESTART_RESTARTBLOCK",
        "EPROBE_DEFER", "EOPENSTALE", "ENOPARAM",
    ]

    static func errnoName(_ n: Int) -> String? {
        if n > 0, n < errnoNames.count, !errnoNames[n].isEmpty { return errnoNames[n] }
        if n >= 512, n < 512 + internalErrnoNames.count { return internalErrnoNames[n - 512] }
        return nil
    }

    /// Errno name → number, including the aliases strace may print.
    static let errnoNumbers: FlagLookup = {
        var entries: [(String, UInt64)] = [("EWOULDBLOCK", 11), ("EDEADLOCK", 35), ("ENOTSUP", 95)]
        for (n, name) in errnoNames.enumerated() where !name.isEmpty { entries.append((name, UInt64(n))) }
        for (k, name) in internalErrnoNames.enumerated() { entries.append((name, UInt64(512 + k))) }
        return FlagLookup(entries: entries)
    }()

    /// Signal names (x86-64) by number, for `+++ killed by SIGSEGV +++`.
    static let signalNames: [String] = [
        "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
        "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
        "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
        "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ]

    static let signalNumbers: FlagLookup = {
        var entries: [(String, UInt64)] = [("SIGIOT", 6), ("SIGPOLL", 29), ("SIGRTMIN", 32)]
        for (n, name) in signalNames.enumerated() where !name.isEmpty { entries.append((name, UInt64(n))) }
        for k in 1...32 { entries.append(("SIGRT_\(k)", UInt64(32 + k))) }
        return FlagLookup(entries: entries)
    }()

    static let CLONE_VM: UInt64 = 0x100
    static let CLONE_VFORK: UInt64 = 0x4000
    static let CLONE_THREAD: UInt64 = 0x10000

    /// clone(2) flags as strace prints them (include/uapi/linux/sched.h).
    static let cloneFlags = FlagLookup(entries: [
        ("CLONE_NEWTIME", 0x80), ("CLONE_VM", CLONE_VM), ("CLONE_FS", 0x200),
        ("CLONE_FILES", 0x400), ("CLONE_SIGHAND", 0x800), ("CLONE_PIDFD", 0x1000),
        ("CLONE_PTRACE", 0x2000), ("CLONE_VFORK", CLONE_VFORK), ("CLONE_PARENT", 0x8000),
        ("CLONE_THREAD", CLONE_THREAD), ("CLONE_NEWNS", 0x20000), ("CLONE_SYSVSEM", 0x40000),
        ("CLONE_SETTLS", 0x80000), ("CLONE_PARENT_SETTID", 0x100000),
        ("CLONE_CHILD_CLEARTID", 0x200000), ("CLONE_DETACHED", 0x400000),
        ("CLONE_UNTRACED", 0x800000), ("CLONE_CHILD_SETTID", 0x1000000),
        ("CLONE_NEWCGROUP", 0x2000000), ("CLONE_NEWUTS", 0x4000000), ("CLONE_NEWIPC", 0x8000000),
        ("CLONE_NEWUSER", 0x1000_0000), ("CLONE_NEWPID", 0x2000_0000),
        ("CLONE_NEWNET", 0x4000_0000), ("CLONE_IO", 0x8000_0000),
        ("CLONE_CLEAR_SIGHAND", 0x1_0000_0000), ("CLONE_INTO_CGROUP", 0x2_0000_0000),
    ])

    /// Whether a child created with these clone flags shares the parent's
    /// address space for good (a thread) rather than getting a copy.
    static func sharesAddressSpace(_ flags: UInt64) -> Bool {
        flags & CLONE_THREAD != 0 || (flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0)
    }

    static let prot = FlagLookup(Linux.protNames)
    static let map = FlagLookup(Linux.mapNames,
        extra: [("MAP_ANON", Linux.MAP_ANONYMOUS), ("MAP_FILE", 0), ("MAP_HUGE_64KB", 16 << 26),
                ("MAP_HUGE_512KB", 19 << 26), ("MAP_HUGE_1MB", 20 << 26), ("MAP_HUGE_2MB", 21 << 26),
                ("MAP_HUGE_8MB", 23 << 26), ("MAP_HUGE_16MB", 24 << 26), ("MAP_HUGE_32MB", 25 << 26),
                ("MAP_HUGE_256MB", 28 << 26), ("MAP_HUGE_512MB", 29 << 26), ("MAP_HUGE_1GB", 30 << 26),
                ("MAP_HUGE_2GB", 31 << 26), ("MAP_HUGE_16GB", 34 << 26)],
        shifts: [("MAP_HUGE_SHIFT", 26)])
    static let madv = FlagLookup(Linux.madvNames)
    static let mremap = FlagLookup(Linux.mremapNames)
    static let open = FlagLookup(Linux.openNames,
        extra: [("O_NDELAY", 0o4000), ("O_ASYNC", 0o20000), ("FASYNC", 0o20000),
                ("O_SYNC", 0o4010000), ("__O_SYNC", 0o4000000), ("O_TMPFILE", 0o20200000),
                ("__O_TMPFILE", 0o20000000), ("O_FSYNC", 0o4010000)])
}
