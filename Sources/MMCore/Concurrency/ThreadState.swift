/// One thread of the explored process: where it is in its program and the
/// locals of the operation in progress (docs/CONCURRENCY.md §5.1).
struct ThreadState: Hashable {
    let index: Int
    /// The operation in progress (index into the program).
    var op = 0
    /// The step of that operation to run next.
    var pc = 0
    /// Steps taken so far.
    var steps = 0
    var done = false
    /// What the thread is parked on; nil when runnable.
    var blocked: Block?
    /// World.clock at rcu_read_lock(); nil outside an RCU read section.
    var rcuSince: Int?

    // MARK: locals of the operation in progress

    /// The VMA the operation works on (the fault's VMA, the split/merge target).
    var v: Int?
    /// A second VMA (a neighbour under examination, a merge partner).
    var n: Int?
    /// find_mergeable_anon_vma()'s hit.
    var candidate: Int?
    /// An anon_vma allocated by __anon_vma_prepare() and not yet published.
    var allocated: Int?
    /// The anon_vma root whose rwsem this thread holds.
    var lockedAV: Int?
    /// The VMA whose read lock this thread holds.
    var readLocked: Int?
    /// The maple-tree leaf loaded by the last walk, and its slots as loaded.
    var masNode = 0
    var mas: [TreeEntry] = []
    /// VMAs an operation iterates over, and the position.
    var list: [Int] = []
    var k = 0
    /// Addresses of the operation (range start/end, destination).
    var a0: UInt64 = 0
    var a1: UInt64 = 0
    var a2: UInt64 = 0
    /// Where a shared sub-sequence (anon_vma preparation) returns to.
    var ret = 0
    /// The fault's lock code so far (the first abort/fallback reason).
    var code: LockCode?
    /// The fault took the per-VMA path first.
    var perVMA = false
    /// The fault is running its handler under the VMA lock.
    var underVMALock = false
    /// __anon_vma_prepare() ran under a successful mmap_read_trylock().
    var trylocked = false
    /// vmf_anon_prepare() took mmap_lock for read around __anon_vma_prepare() (released after it).
    var prepareHoldsMmap = false
    /// The only anon_vma test that admitted the fault ran before vma_start_read().
    var testedBeforeLock = false
    /// Folio allocated by the handler.
    var folio: Int?
    /// The mempolicy get_vma_policy() read for the allocation (a fault).
    var pol: Int?
    /// Lookup retries (detached VMA, -EAGAIN).
    var retries = 0
    /// A fork's child mm.
    var child = 0
    /// VMAs still to write-lock, one per step (`lockNext()`).
    var queue: [Int] = []
    /// The merge an mprotect decided on (`MergePlan`), its flags and its anon_vma source.
    var plan = 0
    var newFlags: UInt64 = 0
    var source: Int?

    // MARK: results

    /// The lock code of every finished fault, in program order.
    var faultCodes: [LockCode] = []

    init(index: Int) {
        self.index = index
    }

    /// Clears the locals when an operation starts.
    mutating func startOp() {
        let keep = (index, op, steps, faultCodes, rcuSince)
        self = ThreadState(index: keep.0)
        op = keep.1
        steps = keep.2
        faultCodes = keep.3
        rcuSince = keep.4
    }
}
