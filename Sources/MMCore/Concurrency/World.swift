/// The engine's value-type machine state (docs/CONCURRENCY.md §5.1): the
/// process's VMAs, its VMA tree as versioned nodes, anon_vmas, PTEs, folios
/// and the lock table. Copied freely by the explorer; compared and hashed
/// for state pruning. Objects are indices into arrays that only grow
/// (a freed object stays, marked freed, so a late access can be detected).

/// A `struct vm_area_struct` as the engine tracks it.
struct EVMA: Hashable {
    /// The Simulation's VMA id (new ids continue its counter).
    var id: Int
    /// 0: the explored process; 1…: fork children.
    var mm: Int
    var start: UInt64
    var end: UInt64
    var pgoff: UInt64
    var flags: VMFlags
    /// vma_is_anonymous().
    var anonymous: Bool
    /// vm_file identity (an OpenFile id).
    var file: Int?
    /// vma->anon_vma: an index into `World.avs`.
    var anonVMA: Int?
    /// anon_vma_chain: indices into `World.avs`, oldest link first.
    var chain: [Int] = []
    /// vma->detached (rwsem form) / vm_refcnt == 0 (refcount form).
    var detached = false
    /// Queued for freeing after a grace period (call_rcu / SLAB_TYPESAFE_BY_RCU).
    var pendingFree = false
    var freed = false
    /// vm_lock_seq.
    var lockSeq = -1
    /// Threads holding the read lock (vma_start_read()).
    var readers: [Int] = []
    /// A thread parked in vma_start_write() waiting for the readers.
    var writerWaiting: Int?
    /// vma->vm_policy: an index into `World.policies` (nil: the default policy).
    var policy: Int? = nil

    func contains(_ a: UInt64) -> Bool { a >= start && a < end }
}

/// A `struct anon_vma`.
struct EAV: Hashable {
    var id: Int
    /// Index of the root anon_vma (self for a root).
    var root: Int
    var parent: Int
    /// anon_vma_chain links pointing here (the interval tree's size).
    var links: Int
    /// Child anon_vmas holding a reference (fork).
    var children: Int
    /// put_anon_vma() dropped the last reference (SLAB_TYPESAFE_BY_RCU: no grace period).
    var freed = false
    /// The thread holding the root's rwsem for write.
    var lockHolder: Int?
}

/// A `struct mempolicy`: every VMA holds its own copy (mpol_dup()), so
/// replacing or removing the VMA's policy drops its last reference.
struct EPolicy: Hashable {
    var id: Int
    var mode: MempolicyMode
    /// References (mpol_get()/mpol_put()); 0: freed (kfree, no grace period).
    var refs: Int
}

/// A present PTE.
struct EPTE: Hashable {
    var mm: Int
    var vpn: UInt64
    /// Index into `World.folios`; 0 is the zero page.
    var folio: Int
    var writable: Bool
}

/// A folio mapped by some PTE.
struct EFolio: Hashable {
    var id: Int
    var anon: Bool
    /// anon_vma index of an anonymous folio (folio->mapping).
    var anonVMA: Int?
    var mapcount: Int
}

/// One slot of a maple-tree leaf: a VMA or a gap.
struct TreeEntry: Hashable {
    var start: UInt64
    var end: UInt64
    /// VMA index; nil for a gap.
    var vma: Int?
}

/// The mm's VMA tree as one versioned leaf node (docs/CONCURRENCY.md §2.6):
/// a store that removes a gap replaces the node (RCU mode), the old one
/// waits for a grace period; other stores change it in place.
struct ETree: Hashable {
    /// VMA indices in address order.
    var vmas: [Int] = []
    /// The current node's id ("node#N").
    var node = 1
    /// Replaced nodes: id → whether a gap removal replaced it, and whether a grace period freed it.
    var replaced: [Int: NodeFate] = [:]
}

struct NodeFate: Hashable {
    var gapDeleted: Bool
    var freed: Bool
}

/// An object freed after the next grace period.
enum RCUObject: Hashable {
    case vma(Int)
    case node(Int)
}

/// `mm->mmap_lock` (docs/CONCURRENCY.md §1.1): readers, a writer and one FIFO queue.
struct MmapLock: Hashable {
    var readers: [Int] = []
    var writer: Int?
    /// Parked threads in arrival order, with whether each wants write.
    var queue: [Waiter] = []

    struct Waiter: Hashable {
        var thread: Int
        var write: Bool
    }
}

/// What a parked thread waits for.
enum Block: Hashable {
    case mmap(write: Bool)
    /// vma_start_write() waiting for the VMA's readers.
    case vmaWrite(Int)
    /// anon_vma_lock_write() on a root.
    case avLock(Int)
    case pageTableLock

    func describe(_ w: World) -> String {
        switch self {
        case let .mmap(write): write ? "mmap_lock (write)" : "mmap_lock (read)"
        case let .vmaWrite(v): "V#\(w.vmas[v].id) readers"
        case let .avLock(a): "av\(w.avs[a].id) root rwsem"
        case .pageTableLock: "page_table_lock"
        }
    }
}

struct World: Hashable {
    var vmas: [EVMA] = []
    var avs: [EAV] = []
    var ptes: [EPTE] = []
    var folios: [EFolio] = []
    var policies: [EPolicy] = []
    var tree = ETree()
    /// mm_lock_seq.
    var mmLockSeq = 0
    var mmap = MmapLock()
    /// mm->page_table_lock holder.
    var ptl: Int?
    /// Monotonic clock of RCU events (entries and frees).
    var clock = 0
    /// Objects waiting for a grace period, with the clock value when queued.
    var pending: [PendingFree] = []
    /// fork: parent PTEs write-protected and not yet flushed (vpn → forking thread).
    var tlbPending: [UInt64: Int] = [:]
    /// Ids for objects the threads create (continuing the Simulation's counters).
    var nextVMAId: Int
    var nextAVId: Int
    var nextFolioId: Int
    var nextMM = 1
    /// mm_struct bounds used by placement.
    let mmapBase: UInt64
    let mmapMinAddr: UInt64
    let stackGuardGap: UInt64
    var brk: UInt64
    let startBrk: UInt64

    struct PendingFree: Hashable {
        var at: Int
        var object: RCUObject
    }

    // MARK: lookups

    /// The tree's VMA covering `a` (vma_lookup()).
    func find(containing a: UInt64) -> Int? {
        for i in tree.vmas where vmas[i].contains(a) { return i }
        return nil
    }

    /// find_vma(): the first VMA ending above `a`.
    func findVMA(_ a: UInt64) -> Int? { tree.vmas.first { vmas[$0].end > a } }

    /// The tree's VMA just below `v` (vma_prev()).
    func prev(of v: Int) -> Int? {
        guard let i = tree.vmas.firstIndex(of: v), i > 0 else { return nil }
        return tree.vmas[i - 1]
    }

    func next(of v: Int) -> Int? {
        guard let i = tree.vmas.firstIndex(of: v), i + 1 < tree.vmas.count else { return nil }
        return tree.vmas[i + 1]
    }

    /// The tree's VMAs intersecting [start, end), in address order.
    func overlapping(_ start: UInt64, _ end: UInt64) -> [Int] {
        tree.vmas.filter { vmas[$0].start < end && vmas[$0].end > start }
    }

    /// The leaf's slots: VMAs and the gaps between them (from 0 to the top of the window).
    func entries() -> [TreeEntry] {
        var out: [TreeEntry] = []
        var at: UInt64 = 0
        for i in tree.vmas {
            let v = vmas[i]
            if v.start > at { out.append(TreeEntry(start: at, end: v.start, vma: nil)) }
            out.append(TreeEntry(start: v.start, end: v.end, vma: i))
            at = v.end
        }
        out.append(TreeEntry(start: at, end: UInt64.max, vma: nil))
        return out
    }

    func pte(_ mm: Int, _ vpn: UInt64) -> Int? { ptes.firstIndex { $0.mm == mm && $0.vpn == vpn } }

    /// __is_vma_write_locked(): vm_lock_seq equals mm_lock_seq.
    func isWriteLocked(_ v: Int) -> Bool { vmas[v].lockSeq == mmLockSeq }

    func mmapHolder(_ t: Int) -> Bool { mmap.writer == t || mmap.readers.contains(t) }

    // MARK: object creation

    mutating func newVMA(_ proto: EVMA) -> Int {
        var v = proto
        v.id = nextVMAId
        nextVMAId += 1
        v.readers = []
        v.writerWaiting = nil
        v.detached = false
        v.lockSeq = -1
        vmas.append(v)
        return vmas.count - 1
    }

    /// anon_vma_alloc(): a new root.
    mutating func newAnonVMA() -> Int {
        let i = avs.count
        avs.append(EAV(id: nextAVId, root: i, parent: i, links: 0, children: 0))
        nextAVId += 1
        return i
    }

    mutating func newFolio(anonVMA: Int?) -> Int {
        folios.append(EFolio(id: nextFolioId, anon: anonVMA != nil, anonVMA: anonVMA, mapcount: 0))
        nextFolioId += 1
        return folios.count - 1
    }

    // MARK: tree stores

    /// Inserts or removes VMAs of the tree and replaces the node when a gap
    /// entry disappears (a store in RCU mode; docs/CONCURRENCY.md §2.6).
    /// Returns whether the node was replaced.
    @discardableResult
    mutating func storeTree(_ change: (inout [Int]) -> Void, layout: (inout World) -> Void = { _ in }) -> Bool {
        let before = entries().filter { $0.vma == nil }
        change(&tree.vmas)
        layout(&self)
        tree.vmas.sort { vmas[$0].start < vmas[$1].start }
        let after = entries().filter { $0.vma == nil }
        // A gap entry is deleted when no gap of the new layout overlaps it.
        let gapDeleted = before.contains { g in !after.contains { $0.start < g.end && $0.end > g.start } }
        guard gapDeleted else { return false }
        tree.replaced[tree.node] = NodeFate(gapDeleted: true, freed: false)
        queueFree(.node(tree.node))
        tree.node = nextNodeId()
        return true
    }

    private func nextNodeId() -> Int { (tree.replaced.keys.max() ?? tree.node) + 1 }

    /// call_rcu(): the object is freed after the next grace period.
    mutating func queueFree(_ o: RCUObject) {
        clock += 1
        pending.append(PendingFree(at: clock, object: o))
        if case let .vma(v) = o { vmas[v].pendingFree = true }
    }
}
