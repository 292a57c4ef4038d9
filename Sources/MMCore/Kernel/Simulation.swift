/// Errors for requests that refer to nothing or to something that cannot act
/// (the HTTP layer turns them into 404 / 409). A simulated syscall that fails
/// is not one of these: it returns an errno.
public enum SimulationError: Error, Equatable, Sendable {
    case noSuchProcess(Int)
    case processExited(Int)
    /// A tid that is not a thread of the process (pid, tid).
    case noSuchThread(Int, Int)
    case fileExists(String)
    case limitExceeded(String)
}

/// Configuration of a simulation (session).
public struct SimulationConfig: Sendable, Equatable {
    public var layout: LayoutConfig
    /// Record trace steps (off in summary mode).
    public var tracing: Bool

    public init(layout: LayoutConfig = LayoutConfig(), tracing: Bool = true) {
        self.layout = layout
        self.tracing = tracing
    }
}

/// One session's simulated machine: a file system, processes, the anon_vma
/// forest and every folio. Deterministic: the same operations give the same
/// state, ids included. Not thread-safe: callers apply one operation at a time.
public final class Simulation {
    public let model: KernelModel
    public let options: ModelOptions
    public var config: SimulationConfig
    public var tracer: Tracer
    /// Effects of the operation in progress.
    public var effects = Effects()
    public var stats = Stats()
    /// Faults run on behalf of the syscall in progress (populate).
    public var pendingFaults: [FaultResult] = []

    /// Inodes by path.
    public private(set) var inodes: [String: Inode] = [:]
    /// Processes by pid (exited ones stay, state .exited).
    public internal(set) var processes: [Int: Process] = [:] { didSet { byPid = [] } }
    /// `processes` as an array indexed by pid, filled on lookup (no hashing
    /// on the fault path); emptied whenever `processes` changes.
    private var byPid: ContiguousArray<Process?> = []
    /// Live anon_vmas by id.
    public internal(set) var anonVMAs: [Int: AnonVMA] = [:]
    /// The shared zero page (folio id 0).
    public let zeroFolio = Folio(id: 0, kind: .zero, index: 0)

    var nextPid = 1
    var nextVMAId = 1
    var nextAnonVMAId = 1
    var nextAVCId = 1
    var nextFolioId = 1
    var nextFileId = 1
    var nextIno = 1
    var nextShmemObject = 1

    public init(model: KernelModel = .default, options: ModelOptions = ModelOptions(),
                config: SimulationConfig = SimulationConfig()) {
        self.model = model
        self.options = options
        self.config = config
        self.tracer = Tracer(enabled: config.tracing)
    }

    public var layout: LayoutConfig { config.layout }

    // MARK: objects

    /// Creates an inode (a file of the session's file system).
    @discardableResult
    public func createFile(path: String, size: UInt64, mode: UInt32 = 0o644) throws(SimulationError) -> Inode {
        if inodes[path] != nil { throw .fileExists(path) }
        let inode = Inode(ino: nextIno, path: path, size: size, mode: mode)
        nextIno += 1
        inodes[path] = inode
        return inode
    }

    /// Creates a process with an empty address space and fds 0-2 reserved.
    @discardableResult
    public func createProcess(comm: String = "sim", ppid: Int? = nil) -> Process {
        let mm = MM(mmapBase: layout.mmapBase, taskSize: layout.taskSize, startBrk: layout.startBrk)
        let p = Process(pid: nextPid, ppid: ppid, comm: comm, mm: mm)
        nextPid += 1
        processes[p.pid] = p
        return p
    }

    /// A running process, or the error the API reports.
    @inline(__always)
    public func process(_ pid: Int) throws(SimulationError) -> Process {
        if pid >= 0, pid < byPid.count, let p = byPid[pid], p.state == .running { return p }
        return try processSlow(pid)
    }

    private func processSlow(_ pid: Int) throws(SimulationError) -> Process {
        guard let p = processes[pid] else { throw .noSuchProcess(pid) }
        guard p.state == .running else { throw .processExited(pid) }
        if pid >= 0 && pid < 1 << 16 {
            if byPid.count <= pid { byPid.append(contentsOf: repeatElement(nil, count: pid + 1 - byPid.count)) }
            byPid[pid] = p
        }
        return p
    }

    /// All processes by pid order.
    public var processList: [Process] { processes.keys.sorted().compactMap { processes[$0] } }

    func makeVMA(start: UInt64, end: UInt64, pgoff: UInt64, flags: VMFlags, kind: VMAKind,
                 file: OpenFile? = nil, name: String? = nil) -> VMA {
        let v = VMA(id: nextVMAId, start: start, end: end, pgoff: pgoff, flags: flags,
                    kind: kind, file: file, name: name)
        nextVMAId += 1
        stats.vmas.created += 1
        return v
    }

    func makeOpenFile(_ inode: Inode, flags: UInt64) -> OpenFile {
        let f = OpenFile(id: nextFileId, inode: inode, flags: flags)
        nextFileId += 1
        return f
    }

    /// A new shmem object for MAP_SHARED|MAP_ANONYMOUS (shmem_zero_setup()).
    func makeShmemFile(size: UInt64) -> OpenFile {
        let obj = nextShmemObject
        nextShmemObject += 1
        let inode = Inode(ino: nextIno, path: "/dev/zero", size: size, mode: 0o666, kind: .shmem(object: obj))
        nextIno += 1
        return makeOpenFile(inode, flags: Linux.O_RDWR)
    }

    func makeFolio(kind: Folio.Kind, index: UInt64, inode: Inode? = nil, anonVMA: AnonVMA? = nil) -> Folio {
        let f = Folio(id: nextFolioId, kind: kind, index: index, inode: inode, anonVMA: anonVMA)
        nextFolioId += 1
        return f
    }

    // MARK: VMA write locking (docs/KERNEL-MODEL.md §4.3 write side)

    /// vma_start_write(): the VMA is write-locked until the mmap_lock writer leaves.
    @inline(__always)
    func vmaStartWrite(_ mm: MM, _ vma: VMA) { vma.vmLockSeq = mm.mmLockSeq }

    /// mmap_write_unlock() → vma_end_write_all(): advances mm_lock_seq.
    @inline(__always)
    func mmapWriteUnlock(_ mm: MM) { mm.mmLockSeq += 1 }

    /// Whether the VMA is write-locked in the current write period.
    public func isWriteLocked(_ mm: MM, _ vma: VMA) -> Bool { vma.vmLockSeq == mm.mmLockSeq }
}
