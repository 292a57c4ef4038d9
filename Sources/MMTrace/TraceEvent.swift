import MMCore
/// One event read from a trace (strace, perf script), in a form that does
/// not depend on the tool that recorded it.
///
/// Importers produce exactly one event, usually, for every non-blank input
/// line: either something a replayer can apply or `.skipped` with the reason
/// and the line's text. A few lines produce two events (for example the first
/// line of a vfork child reports the fork before the child's own call).
public struct TraceEvent: Sendable, Equatable {
    /// 1-based number of the input line the event comes from. An event
    /// completed from an `<unfinished ...>` start carries the line that
    /// completed it; a syscall that never completed carries its start line.
    public var line: Int
    /// The task (thread) id the tool printed, or the parser's default pid
    /// when the line has none (strace without -f, strace -ff files).
    public var pid: Int?
    /// The thread-group (process) id when the tool prints it (perf's
    /// `pid/tid` header); nil otherwise. Use it in preference to `pid`.
    public var tgid: Int?
    /// The time stamp printed on the line, in seconds: since midnight for
    /// strace -t/-tt, since the epoch for -ttt, perf's clock for perf.
    public var time: Double?
    /// Time spent in the syscall (strace -T), in seconds.
    public var duration: Double?
    /// What happened.
    public var kind: Kind

    /// Creates an event.
    public init(line: Int, pid: Int? = nil, tgid: Int? = nil, time: Double? = nil,
                duration: Double? = nil, kind: Kind) {
        self.line = line
        self.pid = pid
        self.tgid = tgid
        self.time = time
        self.duration = duration
        self.kind = kind
    }

    /// What a trace line reports.
    public enum Kind: Sendable, Equatable {
        /// A memory-management syscall mmsim models, with what it returned.
        /// `openat`/`openat2`/`creat` are reported as `.open`.
        case syscall(Syscall, result: TraceResult)
        /// `pid` created a new process (fork, vfork, clone/clone3 without
        /// CLONE_VM, or with CLONE_VM|CLONE_VFORK): the child gets a copy
        /// of the parent's address space. Only reported for successful calls.
        case fork(childPid: Int)
        /// `pid` created a task sharing its address space (CLONE_THREAD, or
        /// CLONE_VM without CLONE_VFORK): map `childPid` to `pid`'s process.
        /// The strace importer also uses it, with `pid == nil`, when the pid
        /// of the process whose lines had no pid prefix becomes known (strace
        /// without -o prints no prefix while it traces a single process).
        case thread(childPid: Int)
        /// A successful execve/execveat: the process gets a fresh address
        /// space. `path` is `"<unknown>"` when the trace does not show it.
        case execve(path: String)
        /// The whole process ended (exit_group, or the tool's report that the
        /// process exited or was killed). `status` is the 8-bit exit status,
        /// 128 + signal number when killed by a signal, or -1 when the trace
        /// does not show it. A process may be reported as ended more than
        /// once (e.g. by exit_group and then by its last thread): treat it as
        /// idempotent.
        case exit(status: Int)
        /// One task ended (exit(2), or the tool's report that a known thread
        /// exited). The process ends with its last task. `status` as for
        /// `.exit`.
        case threadExit(status: Int)
        /// A page fault (perf exceptions:page_fault_user/_kernel), decoded
        /// from the x86 error code: bit 1 write, bit 4 instruction fetch,
        /// bit 2 user mode. `ip` is nil when the tool printed a symbol.
        case fault(address: UInt64, ip: UInt64?, write: Bool, exec: Bool, user: Bool)
        /// One of perf's mmap_lock tracepoints.
        case mmapLock(LockEvent)
        /// A line that was recognised but is not modelled, or could not be
        /// parsed; `text` is the whole line as read.
        case skipped(reason: String, text: String)
    }
}

/// What a traced syscall returned.
public enum TraceResult: Sendable, Equatable {
    /// The return value (addresses, fds, 0), as an unsigned 64-bit value.
    case value(UInt64)
    /// The call failed. `raw` is the kernel's return value (-errno) when
    /// the errno number is known, otherwise the number the tool printed.
    case error(TraceErrno, raw: Int64)
    /// The trace does not show a result: strace's `= ?`, or a call left
    /// `<unfinished ...>` / entered without exit when the trace ended.
    case unknown
}

/// The errno of a failed traced call.
public enum TraceErrno: Sendable, Equatable {
    /// An errno the simulator models.
    case known(Errno)
    /// Any other errno, by the name the tool printed or derived from the
    /// number (`"ENOTDIR"`, `"ERESTARTSYS"`, `"E1234"`).
    case other(String)

    /// The symbolic name.
    public var name: String {
        switch self {
        case .known(let e): TraceTables.errnoName(e.rawValue) ?? "E\(e.rawValue)"
        case .other(let name): name
        }
    }

    /// The errno for a name, known to the simulator or not ("EWOULDBLOCK"
    /// and other aliases stay `.other`).
    public init(name: String) {
        if let n = TraceTables.errnoNumbers.value(of: name), let e = Errno(rawValue: Int(n)),
           TraceTables.errnoName(Int(n)) == name {
            self = .known(e)
        } else {
            self = .other(name)
        }
    }

    /// The errno for a positive errno number.
    public init(number: Int) {
        if let e = Errno(rawValue: number) {
            self = .known(e)
        } else if let name = TraceTables.errnoName(number) {
            self = .other(name)
        } else {
            self = .other("E\(number)")
        }
    }
}

/// One mmap_lock tracepoint (include/trace/events/mmap_lock.h).
public struct LockEvent: Sendable, Equatable {
    /// Which tracepoint fired.
    public enum Phase: String, Sendable, Equatable {
        /// mmap_lock_start_locking: a task starts waiting for the lock.
        case startLocking
        /// mmap_lock_acquire_returned: the attempt finished (see `success`).
        case acquireReturned
        /// mmap_lock_released.
        case released
    }

    /// Which tracepoint fired.
    public var phase: Phase
    /// Whether the lock is taken for writing (mmap_write_lock).
    public var write: Bool
    /// For `.acquireReturned`: whether the lock was acquired (trylock and
    /// killable variants can fail); nil for the other phases.
    public var success: Bool?
    /// The kernel address of the `mm_struct`, identifying the address space.
    public var mm: UInt64?

    /// Creates a lock event.
    public init(phase: Phase, write: Bool, success: Bool? = nil, mm: UInt64? = nil) {
        self.phase = phase
        self.write = write
        self.success = success
        self.mm = mm
    }
}
