/// `struct mm_struct` of one simulated process.
public final class MM {
    public var vmas = VMATree()
    public var pageTable = PageTable()
    /// mm_lock_seq: advanced whenever a writer releases mmap_lock, which
    /// unlocks every write-locked VMA at once (vma_end_write_all()).
    public var mmLockSeq = 0
    /// mmap_base: top of the top-down mmap area (ASLR off, deterministic).
    public var mmapBase: UInt64
    /// TASK_SIZE of the 47-bit user window.
    public let taskSize: UInt64
    /// start_brk and brk ([heap] bounds).
    public var startBrk: UInt64
    public var brk: UInt64
    /// mm->def_flags.
    public var defFlags: VMFlags = []
    /// Pages charged for VM_ACCOUNT mappings (statistics).
    public var committedPages: UInt64 = 0

    public init(mmapBase: UInt64, taskSize: UInt64, startBrk: UInt64) {
        self.mmapBase = mmapBase
        self.taskSize = taskSize
        self.startBrk = startBrk
        self.brk = startBrk
    }

    /// map_count.
    public var mapCount: Int { vmas.count }
}

/// A simulated process: an mm and a file descriptor table.
public final class Process {
    public enum State: String, Sendable { case running, exited }

    public let pid: Int
    public let ppid: Int?
    public var comm: String
    public var state: State = .running
    public var exitStatus: Int?
    public let mm: MM
    public var fds = FDTable()
    /// The thread group's task ids, the leader (tid == pid) first: every
    /// thread shares `mm` (clone(CLONE_VM|CLONE_THREAD)). See Threads.swift.
    public internal(set) var threads: [Int]

    public init(pid: Int, ppid: Int?, comm: String, mm: MM) {
        self.threads = [pid]
        self.pid = pid
        self.ppid = ppid
        self.comm = comm
        self.mm = mm
    }
}

/// Layout defaults of a new process (docs/KERNEL-MODEL.md §2.3: ASLR off).
public struct LayoutConfig: Sendable, Equatable, Codable {
    /// mmap_base for top-down placement.
    public var mmapBase: UInt64
    /// TASK_SIZE (47-bit window minus one guard page).
    public var taskSize: UInt64
    /// start_brk of a fresh process.
    public var startBrk: UInt64
    /// vm.max_map_count.
    public var maxMapCount: Int
    /// Effective mmap_min_addr (CONFIG_LSM_MMAP_MIN_ADDR on the test machine).
    public var mmapMinAddr: UInt64
    /// stack_guard_gap in bytes (256 pages).
    public var stackGuardGap: UInt64

    public init(mmapBase: UInt64 = 0x7fff_f7ff_f000, taskSize: UInt64 = 0x7fff_ffff_f000,
                startBrk: UInt64 = 0x5555_5555_9000, maxMapCount: Int = 65530,
                mmapMinAddr: UInt64 = 0x10000, stackGuardGap: UInt64 = 256 << 12) {
        self.mmapBase = mmapBase
        self.taskSize = taskSize
        self.startBrk = startBrk
        self.maxMapCount = maxMapCount
        self.mmapMinAddr = mmapMinAddr
        self.stackGuardGap = stackGuardGap
    }
}
