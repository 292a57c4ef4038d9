import MMCore
/// Parses the text output of `perf script` for the tracepoints mmsim can
/// replay, one line at a time.
///
/// Lines look like `comm pid[/tid] [cpu] secs.usecs: subsystem:event: fields`
/// (comm may contain spaces; the cpu and time columns are optional). Handled:
/// `exceptions:page_fault_user`/`_kernel`; `syscalls:sys_enter_X` paired per
/// task with `syscalls:sys_exit_X` for mmap, munmap, mprotect, madvise,
/// mremap, brk, open, openat, close, clone, clone3, fork, vfork, execve,
/// execveat, exit, exit_group; `sched:sched_process_fork/exec/exit/free`;
/// `task:task_newtask`; `mmap_lock:*`. Every non-blank line yields one event
/// (entries of paired syscalls yield `.skipped`: the call is reported at its
/// exit). perf shows open's filename only as a pointer, so opens are reported
/// as `.open(path: "<unknown>", ...)`.
///
/// Process creation is reported once per child, by the first of
/// task_newtask (whose clone flags tell threads from processes),
/// sched_process_fork and the parent's sys_exit_clone*. Record
/// `task:task_newtask` (or use `perf script -F +pid` so events carry `tgid`)
/// to tell clone3 threads from processes; without it they are `.fork`.
public struct PerfScriptParser: TraceLineParser, Sendable {
    private enum Call: Sendable, Equatable {
        case mmap, munmap, mprotect, madvise, mremap, brk, open, openat, close
        case clone, clone3, fork, vfork, execve, exit, exitGroup
    }

    private enum Event: Sendable {
        case faultUser, faultKernel, enter(Call), exit(Call)
        case schedFork, schedExec, schedExit, schedFree, newTask
        case lock(LockEvent.Phase)
    }

    private static let events: HashMap<Event> = {
        var t = HashMap<Event>(capacity: 64)
        let named: [(String, Event)] = [
            ("exceptions:page_fault_user", .faultUser), ("exceptions:page_fault_kernel", .faultKernel),
            ("sched:sched_process_fork", .schedFork), ("sched:sched_process_exec", .schedExec),
            ("sched:sched_process_exit", .schedExit), ("sched:sched_process_free", .schedFree),
            ("task:task_newtask", .newTask),
            ("mmap_lock:mmap_lock_start_locking", .lock(.startLocking)),
            ("mmap_lock:mmap_lock_acquire_returned", .lock(.acquireReturned)),
            ("mmap_lock:mmap_lock_released", .lock(.released)),
        ]
        for (n, e) in named { t[Scan.hash(n)] = e }
        let calls: [(String, Call)] = [
            ("mmap", .mmap), ("munmap", .munmap), ("mprotect", .mprotect), ("madvise", .madvise),
            ("mremap", .mremap), ("brk", .brk), ("open", .open), ("openat", .openat),
            ("close", .close), ("clone", .clone), ("clone3", .clone3), ("fork", .fork),
            ("vfork", .vfork), ("execve", .execve), ("execveat", .execve), ("exit", .exit),
            ("exit_group", .exitGroup),
        ]
        for (n, c) in calls {
            t[Scan.hash("syscalls:sys_enter_" + n)] = .enter(c)
            t[Scan.hash("syscalls:sys_exit_" + n)] = .exit(c)
        }
        return t
    }()

    private struct Pending: Sendable {
        var call: Call
        var a: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        var line: Int
        var pid: Int?
        var tgid: Int?
        var time: Double?
    }

    private struct Context {
        let b: Bytes
        let end: Int
        let number: Int
        let pid: Int?
        let tgid: Int?
        let time: Double?
        var key: Int { pid ?? -1 }
        func event(_ kind: TraceEvent.Kind) -> TraceEvent {
            TraceEvent(line: number, pid: pid, tgid: tgid, time: time, kind: kind)
        }
        func skip(_ reason: String) -> TraceEvent {
            event(.skipped(reason: reason, text: Scan.string(b, 0..<end)))
        }
    }

    private var pending: [Int: Pending] = [:]
    private var reportedChildren: Set<Int> = []
    private var execReported: Set<Int> = []
    private var exitReported: Set<Int> = []
    private var reasons = HashMap<String>()

    /// Creates a parser.
    public init() {}

    /// Parses a whole `perf script` output (lines separated by `\n`),
    /// including `finish`.
    public static func parse(_ text: String) -> [TraceEvent] {
        var parser = PerfScriptParser()
        return parser.parseAll(text, bytesPerEvent: 100)
    }

    /// Parses one line given as UTF-8 bytes (without the newline), appending
    /// its event. `number` is the 1-based line number reported in events.
    public mutating func parse(line b: UnsafeBufferPointer<UInt8>, number: Int,
                               into events: inout [TraceEvent]) {
        var end = b.count
        while end > 0, Scan.isSpace(b[end - 1]) || b[end - 1] == Ch.cr { end -= 1 }
        var i = 0
        Scan.skipSpaces(b, &i, end)
        guard i < end else { return }
        // The event name is the first blank-separated token "sub:name:".
        var (evStart, evEnd) = PerfFields.eventAfterTime(b, i, end)
        while evStart < 0, i < end {
            Scan.skipSpaces(b, &i, end)
            let s = i
            var colons = 0
            while i < end, !Scan.isSpace(b[i]) { if b[i] == Ch.colon { colons += 1 }; i += 1 }
            if colons >= 2, b[i - 1] == Ch.colon, b[s] != Ch.colon { evStart = s; evEnd = i - 1; break }
        }
        guard evStart >= 0 else {
            let ctx = Context(b: b, end: end, number: number, pid: nil, tgid: nil, time: nil)
            events.append(ctx.skip(b[0] == 0x23 ? "comment" : "not a perf script tracepoint line"))
            return
        }
        let (pid, tgid, time) = PerfFields.header(b, evStart)
        let ctx = Context(b: b, end: end, number: number, pid: pid, tgid: tgid, time: time)
        var f = evEnd + 1
        Scan.skipSpaces(b, &f, end)
        guard let event = Self.events[Scan.hash(b, evStart..<evEnd)] else {
            let name = evStart..<evEnd
            let r: String
            if Scan.has(b, evStart, end, "syscalls:sys_enter_") {
                r = reason("not a memory syscall: ", b, (evStart + 19)..<evEnd)
            } else if Scan.has(b, evStart, end, "syscalls:sys_exit_") {
                r = reason("not a memory syscall: ", b, (evStart + 18)..<evEnd)
            } else {
                r = reason("unmodelled event: ", b, name)
            }
            events.append(ctx.skip(r))
            return
        }
        handle(event, ctx, f, &events)
    }

    /// Reports syscalls entered but never exited as `.unknown` results.
    public mutating func finish(into events: inout [TraceEvent]) {
        for key in pending.keys.sorted(by: { pending[$0]!.line < pending[$1]!.line }) {
            flush(key, into: &events)
        }
    }

    private mutating func reason(_ prefix: String, _ b: Bytes, _ name: Range<Int>) -> String {
        let key = Scan.hash(b, name) &+ UInt64(prefix.utf8.count)
        if let r = reasons[key] { return r }
        let r = prefix + Scan.string(b, name)
        reasons[key] = r
        return r
    }

    // MARK: - Events

    private mutating func handle(_ event: Event, _ ctx: Context, _ f: Int, _ events: inout [TraceEvent]) {
        let b = ctx.b, end = ctx.end
        switch event {
        case .faultUser, .faultKernel:
            // "address=0x7f.. ip=0x7f.. error_code=0x6"; ip may be a symbol.
            var address: UInt64?, ip: UInt64?, code: UInt64?
            var k = f
            while let (key, v) = PerfFields.nextField(b, &k, end) {
                switch key.count {
                case 7 where Scan.has(b, key.lowerBound, end, "address"): address = PerfFields.number(b, v)
                case 2 where Scan.has(b, key.lowerBound, end, "ip"): ip = PerfFields.number(b, v)
                case 10 where Scan.has(b, key.lowerBound, end, "error_code"): code = PerfFields.number(b, v)
                default: break
                }
            }
            guard let address, let code else {
                events.append(ctx.skip("page fault without a numeric address")); return
            }
            events.append(ctx.event(.fault(address: address, ip: ip, write: code & 2 != 0,
                                           exec: code & 0x10 != 0, user: code & 4 != 0)))
        case .lock(let phase):
            // "mm=0xffff.. memcg_id=3137 write=true success=true" (older
            // kernels print memcg_path= instead of memcg_id=).
            var write: Bool?, success: Bool?, mm: UInt64?
            var k = f
            while let (key, v) = PerfFields.nextField(b, &k, end) {
                switch key.count {
                case 2 where Scan.has(b, key.lowerBound, end, "mm"):  // %p: "0xffff..." or hashed hex
                    mm = Scan.has(b, v.lowerBound, end, "0x") ? PerfFields.number(b, v) : PerfFields.number(b, v, hex: true)
                case 5 where Scan.has(b, key.lowerBound, end, "write"): write = PerfFields.flag(b, v)
                case 7 where Scan.has(b, key.lowerBound, end, "success"): success = PerfFields.flag(b, v)
                default: break
                }
            }
            guard let write else {
                events.append(ctx.skip("mmap_lock event without write=")); return
            }
            if phase != .acquireReturned { success = nil }
            events.append(ctx.event(.mmapLock(LockEvent(phase: phase, write: write, success: success, mm: mm))))
        case .enter(let call):
            enter(call, ctx, f, &events)
        case .exit(let call):
            exit(call, ctx, f, &events)
        case .newTask:
            guard let child = PerfFields.number(b, PerfFields.value(b, f, end, "pid=")).map({ Int($0) }),
                  let flags = PerfFields.number(b, PerfFields.value(b, f, end, "clone_flags="), hex: true)
            else { events.append(ctx.skip("task_newtask without pid or clone_flags")); return }
            events.append(report(child: child, flags: flags, ctx))
        case .schedFork:
            guard let child = PerfFields.number(b, PerfFields.value(b, f, end, "child_pid=")).map({ Int($0) }) else {
                events.append(ctx.skip("sched_process_fork without child_pid")); return
            }
            events.append(report(child: child, flags: pending[ctx.key].flatMap(Self.cloneFlags), ctx))
        case .schedExec:
            // "filename=/usr/bin/ls pid=12 old_pid=12"; the path may hold blanks.
            guard let at = Scan.find(b, f, end, "filename=") else {
                events.append(ctx.skip("sched_process_exec without filename")); return
            }
            var pathEnd = end
            var k = end - 5
            while k > at { if Scan.has(b, k, end, " pid=") { pathEnd = k; break }; k -= 1 }
            execReported.insert(ctx.key)
            events.append(ctx.event(.execve(path: Scan.string(b, (at + 9)..<pathEnd))))
        case .schedExit:
            let task = PerfFields.number(b, PerfFields.value(b, f, end, "pid=")).map { Int($0) } ?? ctx.key
            flush(task, into: &events)
            if exitReported.remove(task) != nil {
                events.append(ctx.skip("exit already reported by the exit syscall"))
            } else if PerfFields.flag(b, PerfFields.value(b, f, end, "group_dead=")) == true {
                events.append(ctx.event(.exit(status: -1)))
            } else {
                events.append(ctx.event(.threadExit(status: -1)))
            }
        case .schedFree:
            events.append(ctx.skip("task freed"))
        }
    }

    private mutating func enter(_ call: Call, _ ctx: Context, _ f: Int, _ events: inout [TraceEvent]) {
        var v: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        var k = 0, i = f
        let b = ctx.b
        while k < 6, i < ctx.end {  // "name: 0x..., name: 0x..."
            guard let c = Scan.find(b, i, ctx.end, ": ") else { break }
            i = c + 2
            guard let x = Scan.parseUInt(b, &i, ctx.end) else { break }
            switch k {
            case 0: v.0 = x
            case 1: v.1 = x
            case 2: v.2 = x
            case 3: v.3 = x
            case 4: v.4 = x
            default: v.5 = x
            }
            k += 1
        }
        switch call {
        case .exit, .exitGroup:
            exitReported.insert(ctx.key)
            let status = Int(v.0 & 0xff)
            events.append(ctx.event(call == .exit ? .threadExit(status: status) : .exit(status: status)))
            return
        default:
            break
        }
        flush(ctx.key, into: &events)
        pending[ctx.key] = Pending(call: call, a: v, line: ctx.number,
                                   pid: ctx.pid, tgid: ctx.tgid, time: ctx.time)
        events.append(ctx.skip("syscall entry: reported with its exit"))
    }

    private static func cloneFlags(_ p: Pending) -> UInt64? {
        switch p.call {
        case .clone: p.a.0
        case .vfork: TraceTables.CLONE_VM | TraceTables.CLONE_VFORK
        case .fork: 0
        default: nil
        }
    }

    private mutating func report(child: Int, flags: UInt64?, _ ctx: Context) -> TraceEvent {
        guard reportedChildren.insert(child).inserted else {
            return ctx.skip("child \(child) already reported")
        }
        if let flags, TraceTables.sharesAddressSpace(flags) { return ctx.event(.thread(childPid: child)) }
        return ctx.event(.fork(childPid: child))
    }

    private func result(_ raw: UInt64) -> TraceResult {
        let s = Int64(bitPattern: raw)
        if s < 0, s >= -4095 { return .error(TraceErrno(number: Int(-s)), raw: s) }
        return .value(raw)
    }

    private mutating func exit(_ call: Call, _ ctx: Context, _ f: Int, _ events: inout [TraceEvent]) {
        let b = ctx.b
        var i = f
        guard let raw = Scan.parseInt(b, &i, ctx.end).map({ UInt64(bitPattern: $0) }) else {
            events.append(ctx.skip("syscall exit without a return value")); return
        }
        let res = result(raw)
        var p = pending[ctx.key]
        if p?.call == call { pending[ctx.key] = nil } else { p = nil }
        switch call {
        case .execve:
            if case .error(let e, _) = res { events.append(ctx.skip("execve failed: " + e.name)); return }
            if execReported.remove(ctx.key) != nil {
                events.append(ctx.skip("exec already reported by sched_process_exec"))
            } else {
                events.append(ctx.event(.execve(path: "<unknown>")))
            }
            return
        case .clone, .clone3, .fork, .vfork:
            if case .error(let e, _) = res {
                events.append(ctx.skip("process creation failed: " + e.name)); return
            }
            if raw == 0 { events.append(ctx.skip("child side of process creation")); return }
            let child = Int(truncatingIfNeeded: raw)
            events.append(report(child: child, flags: p.flatMap(Self.cloneFlags), ctx))
            reportedChildren.remove(child)
            return
        default:
            break
        }
        guard let p else {
            events.append(ctx.skip("syscall exit without a recorded entry")); return
        }
        events.append(ctx.event(.syscall(Self.syscall(p), result: res)))
    }

    /// The syscall a recorded entry describes.
    private static func syscall(_ p: Pending) -> Syscall {
        let a = p.a
        let fd = { (v: UInt64) in Int(Int32(truncatingIfNeeded: v)) }
        switch p.call {
        case .mmap: return .mmap(addr: a.0, length: a.1, prot: a.2, flags: a.3, fd: fd(a.4), offset: a.5)
        case .munmap: return .munmap(addr: a.0, length: a.1)
        case .mprotect: return .mprotect(addr: a.0, length: a.1, prot: a.2)
        case .madvise: return .madvise(addr: a.0, length: a.1, advice: a.2)
        case .mremap:
            return .mremap(oldAddress: a.0, oldSize: a.1, newSize: a.2, flags: a.3, newAddress: a.4)
        case .brk: return .brk(addr: a.0)
        case .open: return .open(path: "<unknown>", flags: a.1)
        case .openat: return .open(path: "<unknown>", flags: a.2)
        case .close: return .close(fd: fd(a.0))
        case .clone, .clone3, .fork, .vfork: return .fork
        case .execve, .exit, .exitGroup: return .exit(status: Int(a.0 & 0xff))
        }
    }

    /// Reports the entered-but-not-exited syscall of `key` as unknown.
    private mutating func flush(_ key: Int, into events: inout [TraceEvent]) {
        guard let p = pending.removeValue(forKey: key) else { return }
        let kind: TraceEvent.Kind
        switch p.call {
        case .clone, .clone3, .fork, .vfork, .execve, .exit, .exitGroup:
            kind = .skipped(reason: "syscall entered but never exited", text: "")
        default:
            kind = .syscall(Self.syscall(p), result: .unknown)
        }
        events.append(TraceEvent(line: p.line, pid: p.pid, tgid: p.tgid, time: p.time, kind: kind))
    }
}
