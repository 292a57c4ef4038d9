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
    enum Call: Sendable, Equatable {
        case mmap, munmap, mprotect, madvise, mremap, brk, open, openat, close
        case clone, clone3, fork, vfork, execve, exit, exitGroup
    }

    enum Event: Sendable {
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

    struct Pending: Sendable {
        var call: Call
        var a: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        var line: Int
        var pid: Int?
        var tgid: Int?
        var time: Double?
    }

    struct Context {
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
        func unknown(_ reason: String) -> TraceEvent {
            event(.unrecognised(reason: reason, text: Scan.string(b, 0..<end)))
        }
    }

    var pending: [Int: Pending] = [:]
    var reportedChildren: Set<Int> = []
    var execReported: Set<Int> = []
    /// Tasks whose exec `PERF_RECORD_COMM exec` reported (its
    /// sched_process_exec and sys_exit_execve are then not reported again).
    var commExec: Set<Int> = []
    /// A `PERF_RECORD_FORK` of a new process whose clone flags are not known
    /// yet: held for one line, since copy_process() emits task_newtask
    /// (which has them) right after it.
    var heldFork: (child: Int, event: TraceEvent)?
    var exitReported: Set<Int> = []
    /// Tasks whose end was reported (by an exit syscall or sched_process_exit):
    /// their `PERF_RECORD_EXIT` (perf_event_exit_task(), later in do_exit()) is not.
    var exitSeen: Set<Int> = []
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
        let first = i
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
            if let at = Scan.find(b, 0, end, "PERF_RECORD_"), at == 0 || Scan.isSpace(b[at - 1]) {
                record(b, at, end, number, &events)
                return
            }
            releaseHeldFork(&events)
            let ctx = Context(b: b, end: end, number: number, pid: nil, tgid: nil, time: nil)
            if b[first] == 0x23 {
                events.append(ctx.skip("comment"))
            } else if Self.isCallchainFrame(b, first, end) {
                events.append(ctx.skip("callchain frame (perf script -g)"))
            } else {
                events.append(ctx.event(.unrecognised(reason: "not a perf script event line", text: Scan.string(b, 0..<end))))
            }
            return
        }
        let (pid, tgid, time) = PerfFields.header(b, evStart)
        let ctx = Context(b: b, end: end, number: number, pid: pid, tgid: tgid, time: time)
        var f = evEnd + 1
        Scan.skipSpaces(b, &f, end)
        let known = Self.events[Scan.hash(b, evStart..<evEnd)]
        if heldFork != nil {
            if case .newTask? = known {} else { releaseHeldFork(&events) }
        }
        guard let event = known else {
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
        releaseHeldFork(&events)
        for key in pending.keys.sorted(by: { pending[$0]!.line < pending[$1]!.line }) {
            flush(key, into: &events)
        }
    }

    /// `perf script -g` prints each callchain frame on its own line:
    /// blanks, a hex address, a symbol, `(dso)`.
    private static func isCallchainFrame(_ b: Bytes, _ i: Int, _ end: Int) -> Bool {
        guard i > 0 else { return false }
        var k = i
        while k < end, Scan.hexDigit(b[k]) != nil { k += 1 }
        return k > i && (k == end || Scan.isSpace(b[k]))
    }

    private mutating func reason(_ prefix: String, _ b: Bytes, _ name: Range<Int>) -> String {
        let key = Scan.hash(b, name) &+ UInt64(prefix.utf8.count)
        if let r = reasons[key] { return r }
        let r = prefix + Scan.string(b, name)
        reasons[key] = r
        return r
    }
}
