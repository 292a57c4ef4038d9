import MMCore
/// Decoding of the argument lists and return values of the syscalls the
/// strace importer understands.
enum StraceCall: Sendable, Equatable {
    case mmap, munmap, mprotect, pkeyMprotect, madvise, mremap, brk
    case open, openat, openat2, creat, close
    case clone, clone3, fork, vfork, execve, execveat, exit, exitGroup
    /// Memory syscalls the simulator does not model (mlock, msync, ...).
    case unmodelled
    /// dup, dup2, dup3: the fd table is not modelled.
    case dup

    /// Syscall name hash → call, for the names the importer looks at.
    static let byName: HashMap<StraceCall> = {
        var t = HashMap<StraceCall>(capacity: 64)
        let named: [(String, StraceCall)] = [
            ("mmap", .mmap), ("munmap", .munmap), ("mprotect", .mprotect),
            ("pkey_mprotect", .pkeyMprotect), ("madvise", .madvise), ("mremap", .mremap),
            ("brk", .brk), ("open", .open), ("openat", .openat), ("openat2", .openat2),
            ("creat", .creat), ("close", .close), ("clone", .clone), ("clone3", .clone3),
            ("fork", .fork), ("vfork", .vfork), ("execve", .execve), ("execveat", .execveat),
            ("exit", .exit), ("exit_group", .exitGroup), ("dup", .dup), ("dup2", .dup),
            ("dup3", .dup),
        ]
        for (n, c) in named { t[Scan.hash(n)] = c }
        for n in ["mlock", "mlock2", "munlock", "mlockall", "munlockall", "msync", "mincore",
                  "remap_file_pages", "mseal", "shmat", "shmdt", "shmget", "shmctl",
                  "process_madvise", "process_mrelease", "set_mempolicy", "get_mempolicy",
                  "set_mempolicy_home_node", "mbind", "migrate_pages", "move_pages", "pkey_alloc",
                  "pkey_free", "memfd_create", "memfd_secret", "userfaultfd", "map_shadow_stack",
                  "mmap2", "old_mmap"] {
            t[Scan.hash(n)] = .unmodelled
        }
        return t
    }()

    /// Whether the importer joins `<unfinished ...>` halves of this call.
    var isTracked: Bool {
        switch self {
        case .unmodelled, .dup: false
        default: true
        }
    }
}

/// What a call's arguments say, before its result is known.
enum DecodedCall {
    case sys(Syscall)
    /// A process or thread creation; `flags` are the clone flags.
    case clone(flags: UInt64)
    case execve(path: String)
    case exit(status: Int, group: Bool)
    /// The arguments could not be decoded; the reason says why.
    case invalid(String)
}

/// Iterates the top-level, comma-separated arguments of a strace call,
/// skipping over quoted strings and (), [], {} nesting.
struct ArgCursor {
    let b: Bytes
    var i: Int
    let end: Int
    private(set) var closed = false
    /// Whether the closing parenthesis was seen.
    private(set) var terminated = false

    init(_ b: Bytes, _ start: Int, _ end: Int) {
        self.b = b
        self.i = start
        self.end = end
    }

    /// The next argument (trimmed), or nil after the closing parenthesis.
    mutating func next() -> Range<Int>? {
        if closed { return nil }
        Scan.skipSpaces(b, &i, end)
        if i < end, b[i] == Ch.rparen { closed = true; terminated = true; i += 1; return nil }
        let start = i
        var depth = 0
        while i < end {
            let c = b[i]
            switch c {
            case Ch.quote:
                i += 1
                while i < end, b[i] != Ch.quote { i += b[i] == Ch.backslash ? 2 : 1 }
            case Ch.lparen, Ch.lbracket, Ch.lbrace:
                depth += 1
            case Ch.rparen, Ch.rbracket, Ch.rbrace:
                if depth > 0 { depth -= 1 } else if c == Ch.rparen {
                    closed = true
                    terminated = true
                    i += 1
                    return Scan.trim(b, start..<(i - 1))
                }
            case Ch.comma where depth == 0:
                i += 1
                return Scan.trim(b, start..<(i - 1))
            case Ch.lt where i > start && Scan.isIdent(b[i - 1]) && i + 1 < end && b[i + 1] != Ch.lt:
                // strace -y: "3</usr/lib/libc.so.6>", "AT_FDCWD</home>"
                while i < end, b[i] != Ch.gt { i += 1 }
            default:
                break
            }
            i += 1
        }
        closed = true
        i = end
        return start < end ? Scan.trim(b, start..<end) : nil
    }

    /// Skips the remaining arguments; the index after `)`, or nil if the
    /// line ends first.
    mutating func close() -> Int? {
        while !closed { _ = next() }
        return terminated ? i : nil
    }
}

enum StraceDecode {
    /// A pointer argument: NULL or a number.
    static func pointer(_ b: Bytes, _ r: Range<Int>?) -> UInt64? {
        guard let r else { return nil }
        if Scan.has(b, r.lowerBound, r.upperBound, "NULL") { return 0 }
        var i = r.lowerBound
        return Scan.parseUInt(b, &i, r.upperBound)
    }

    /// A signed integer argument ("-1", "3", "3</path>").
    static func int(_ b: Bytes, _ r: Range<Int>?) -> Int? {
        guard let r else { return nil }
        var i = r.lowerBound
        guard let v = Scan.parseInt(b, &i, r.upperBound) else { return nil }
        return Int(truncatingIfNeeded: v)
    }

    /// The value of `name=` inside an argument such as `flags=A|B` or
    /// `{flags=A|B, exit_signal=SIGCHLD}`.
    static func field(_ b: Bytes, _ r: Range<Int>, _ name: StaticString) -> Range<Int>? {
        guard let at = Scan.find(b, r.lowerBound, r.upperBound, name) else { return nil }
        let start = at + name.utf8CodeUnitCount
        var j = start
        while j < r.upperBound, b[j] != Ch.comma, b[j] != Ch.rbrace, !Scan.isSpace(b[j]) { j += 1 }
        return start..<j
    }

    /// A path argument: the decoded string, or "<unknown>" when strace
    /// printed a pointer instead.
    static func path(_ b: Bytes, _ r: Range<Int>?) -> String? {
        guard let r else { return nil }
        var i = r.lowerBound
        if i < r.upperBound, b[i] == Ch.quote { return Scan.parseQuoted(b, &i, r.upperBound) }
        return pointer(b, r) != nil ? "<unknown>" : nil
    }

    static func flags(_ t: FlagLookup, _ b: Bytes, _ r: Range<Int>?) -> UInt64? {
        guard let r else { return nil }
        return t.parse(b, r)
    }

    /// Decodes the arguments of `call`; the cursor is left on the rest.
    static func decode(_ call: StraceCall, _ a: inout ArgCursor) -> DecodedCall {
        let b = a.b
        switch call {
        case .mmap:
            guard let addr = pointer(b, a.next()), let len = pointer(b, a.next()),
                  let prot = flags(TraceTables.prot, b, a.next()),
                  let fl = flags(TraceTables.map, b, a.next()), let fd = int(b, a.next()),
                  let off = pointer(b, a.next())
            else { return .invalid("cannot decode mmap arguments") }
            return .sys(.mmap(addr: addr, length: len, prot: prot, flags: fl, fd: fd, offset: off))
        case .munmap:
            guard let addr = pointer(b, a.next()), let len = pointer(b, a.next())
            else { return .invalid("cannot decode munmap arguments") }
            return .sys(.munmap(addr: addr, length: len))
        case .mprotect, .pkeyMprotect:
            guard let addr = pointer(b, a.next()), let len = pointer(b, a.next()),
                  let prot = flags(TraceTables.prot, b, a.next())
            else { return .invalid("cannot decode mprotect arguments") }
            if call == .pkeyMprotect, int(b, a.next()) != -1 {
                return .invalid("pkey_mprotect with a protection key is not modelled")
            }
            return .sys(.mprotect(addr: addr, length: len, prot: prot))
        case .madvise:
            guard let addr = pointer(b, a.next()), let len = pointer(b, a.next()),
                  let adv = flags(TraceTables.madv, b, a.next())
            else { return .invalid("cannot decode madvise arguments") }
            return .sys(.madvise(addr: addr, length: len, advice: adv))
        case .mremap:
            guard let old = pointer(b, a.next()), let oldSize = pointer(b, a.next()),
                  let newSize = pointer(b, a.next()), let fl = flags(TraceTables.mremap, b, a.next())
            else { return .invalid("cannot decode mremap arguments") }
            let newAddress = a.closed ? 0 : (pointer(b, a.next()) ?? 0)
            return .sys(.mremap(oldAddress: old, oldSize: oldSize, newSize: newSize, flags: fl,
                                newAddress: newAddress))
        case .brk:
            guard let addr = pointer(b, a.next()) else { return .invalid("cannot decode brk arguments") }
            return .sys(.brk(addr: addr))
        case .open, .openat, .openat2, .creat:
            if call == .openat || call == .openat2 { _ = a.next() }
            guard let p = path(b, a.next()) else { return .invalid("cannot decode \(call) path") }
            let fl: UInt64?
            switch call {
            case .creat: fl = 0o1101  // O_CREAT|O_WRONLY|O_TRUNC
            case .openat2: fl = a.next().flatMap { field(b, $0, "flags=") }.flatMap { TraceTables.open.parse(b, $0) }
            default: fl = flags(TraceTables.open, b, a.next())
            }
            guard let fl else { return .invalid("cannot decode \(call) flags") }
            return .sys(.open(path: p, flags: fl))
        case .close:
            guard let fd = int(b, a.next()) else { return .invalid("cannot decode close arguments") }
            return .sys(.close(fd: fd))
        case .clone, .clone3:
            // clone(child_stack=NULL, flags=...|SIGCHLD, ...) / clone3({flags=..., ...}, 88)
            var fl: UInt64 = 0
            while let r = a.next() {
                if let f = field(b, r, "flags="), let v = TraceTables.cloneFlags.parse(b, f, ignoreUnknown: true) {
                    fl = v
                    break
                }
            }
            return .clone(flags: fl)
        case .fork:
            return .clone(flags: 0)
        case .vfork:
            return .clone(flags: TraceTables.CLONE_VM | TraceTables.CLONE_VFORK)
        case .execve, .execveat:
            if call == .execveat { _ = a.next() }
            guard let p = path(b, a.next()) else { return .invalid("cannot decode execve path") }
            return .execve(path: p)
        case .exit, .exitGroup:
            guard let s = int(b, a.next()) else { return .invalid("cannot decode exit status") }
            return .exit(status: s & 0xff, group: call == .exitGroup)
        case .unmodelled, .dup:
            return .invalid("not modelled")
        }
    }

    /// Parses `= value`, `= -1 ENOMEM (...)`, `= ? ERESTARTSYS (...)`,
    /// `= ?` after the closing parenthesis. No `=` means unknown.
    static func result(_ b: Bytes, _ from: Int, _ end: Int) -> TraceResult {
        var i = from
        Scan.skipSpaces(b, &i, end)
        guard i < end, b[i] == Ch.equal else { return .unknown }
        i += 1
        Scan.skipSpaces(b, &i, end)
        guard i < end else { return .unknown }
        var printed: Int64 = -1
        let question = b[i] == Ch.question
        if question {
            i += 1
        } else {
            guard let v = Scan.parseInt(b, &i, end) else { return .unknown }
            printed = v
        }
        Scan.skipSpaces(b, &i, end)
        // An errno name follows failed calls.
        if i < end, Scan.isUpper(b[i]) {
            var j = i
            while j < end, Scan.isIdent(b[j]) { j += 1 }
            let name = i..<j
            let number = TraceTables.errnoNumbers.value(b, name)
            let err: TraceErrno
            if let n = number, let e = Errno(rawValue: Int(n)),
               TraceTables.errnoName(Int(n))?.utf8.count == name.count {  // not an alias
                err = .known(e)
            } else {
                err = .other(Scan.string(b, name))
            }
            return .error(err, raw: number.map { -Int64($0) } ?? printed)
        }
        if question { return .unknown }
        return .value(UInt64(bitPattern: printed))
    }
}

/// The parts of a strace line around the call: pid prefix (`[pid N]` or
/// `N  `), `-t`/`-tt`/`-ttt`/`-r` time stamp, `-i`/`-n` brackets, `-T` suffix.
struct StraceLineHeader {
    var pid: Int?
    var time: Double?
    var duration: Double?
    /// Where the call (or signal, `+++` line...) starts.
    var body = 0
    /// Where it ends, before a `-T` suffix.
    var end: Int

    init(_ b: Bytes, _ lineEnd: Int) {
        end = lineEnd
        var i = 0
        if Scan.has(b, 0, end, "[pid") {
            i = 4
            Scan.skipSpaces(b, &i, end)
            if let p = Scan.parseUInt(b, &i, end) { pid = Int(p) }
            if i < end, b[i] == Ch.rbracket { i += 1 }
        } else if Scan.isDigit(b[0]) {
            var j = 0
            while j < end, Scan.isDigit(b[j]) { j += 1 }
            if j < end, Scan.isSpace(b[j]) {
                var k = 0
                pid = Scan.parseUInt(b, &k, j).map { Int($0) }
                i = j
            }
        }
        Scan.skipSpaces(b, &i, end)
        if i < end, Scan.isDigit(b[i]) {
            var j = i
            while j < end, Scan.isDigit(b[j]) { j += 1 }
            if j < end, b[j] == Ch.colon {  // -t / -tt: hh:mm:ss[.ffffff]
                var k = i, t = 0.0
                for _ in 0..<2 {
                    guard let v = Scan.parseDecimal(b, &k, end), k < end, b[k] == Ch.colon else { break }
                    t = (t + v) * 60
                    k += 1
                }
                if let s = Scan.parseDecimal(b, &k, end) { time = t + s; i = k }
            } else if j < end, b[j] == Ch.dot, let t = Scan.parseDecimal(b, &i, end) {  // -ttt, -r
                time = t
            }
            Scan.skipSpaces(b, &i, end)
        }
        while i < end, b[i] == Ch.lbracket {  // -i "[00007f...]", -n "[  9]"
            var j = i + 1
            while j < end, Scan.hexDigit(b[j]) != nil || Scan.isSpace(b[j]) || b[j] == Ch.question { j += 1 }
            guard j < end, b[j] == Ch.rbracket else { break }
            i = j + 1
            Scan.skipSpaces(b, &i, end)
        }
        if end - i > 3, b[end - 1] == Ch.gt {  // -T "<0.000012>"
            var k = end - 2
            while k > i, Scan.isDigit(b[k]) || b[k] == Ch.dot { k -= 1 }
            if b[k] == Ch.lt, k > i, Scan.isSpace(b[k - 1]), k + 1 < end - 1 {
                var p = k + 1
                duration = Scan.parseDecimal(b, &p, end - 1)
                end = k - 1
                while end > i, Scan.isSpace(b[end - 1]) { end -= 1 }
            }
        }
        body = i
    }
}
