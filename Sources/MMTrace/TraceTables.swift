import MMCore
/// Name tables of the trace importers, looked up by hashed bytes.

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
