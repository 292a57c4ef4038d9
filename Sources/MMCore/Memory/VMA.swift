/// What a VMA's `vm_ops` are: NULL for anonymous memory, a file's ops, or a
/// special mapping's.
public enum VMAKind: Sendable, Equatable {
    /// vma_is_anonymous(): private anonymous memory, heap and stack.
    case anonymous
    /// A file mapping (regular file or shmem); `vm_file` is set.
    case file
    /// A special mapping (`[vdso]`, `[vvar]`, `[vvar_vclock]`, `[vsyscall]`):
    /// its vm_ops have no `map_pages`, so under the VMA lock a read fault retries.
    case special(name: String)
}

/// A virtual memory area (`struct vm_area_struct`).
public final class VMA {
    /// Object identity for traces (deterministic per session).
    public let id: Int
    public var start: UInt64
    public var end: UInt64 {
        didSet { if let n = node, end != oldValue { n.endMoved(self, from: oldValue, to: end) } }
    }
    /// The VMATree chunk holding this VMA, which caches `end` as its search
    /// key (set and cleared by the tree; the chunk clears it when freed).
    unowned(unsafe) var node: VMATree.Chunk?
    /// vm_pgoff: page offset of `start`.
    public var pgoff: UInt64
    public var flags: VMFlags
    public var kind: VMAKind
    /// vm_file (compared by identity).
    public var file: OpenFile?
    /// `[heap]`, `[stack]` or nil — the name /proc/PID/maps prints.
    public var name: String?
    /// The anon_vma new anonymous folios of this VMA go into (lazy).
    public var anonVMA: AnonVMA?
    /// anon_vma_chain, oldest link first (the kernel's list is newest first;
    /// `chainNewestFirst` gives that order).
    public var chain: [AnonVMAChain] = []
    /// vm_lock_seq: equal to the mm's mm_lock_seq while write-locked.
    public var vmLockSeq: Int = -1
    /// Statistics: whether a fault ever hit this VMA, and whether any was a write.
    public var faultedRead = false
    public var faultedWrite = false

    public init(id: Int, start: UInt64, end: UInt64, pgoff: UInt64, flags: VMFlags,
                kind: VMAKind, file: OpenFile? = nil, name: String? = nil) {
        self.id = id
        self.start = start
        self.end = end
        self.pgoff = pgoff
        self.flags = flags
        self.kind = kind
        self.file = file
        self.name = name
    }

    /// Number of pages.
    public var pages: UInt64 { (end - start) >> Linux.PAGE_SHIFT }
    /// vma_is_anonymous().
    public var isAnonymous: Bool { kind == .anonymous }
    /// Whether `addr` lies in [start, end).
    @inline(__always) public func contains(_ addr: UInt64) -> Bool { addr >= start && addr < end }
    /// linear_page_index(vma, addr).
    public func linearPageIndex(_ addr: UInt64) -> UInt64 { ((addr - start) >> Linux.PAGE_SHIFT) &+ pgoff }
    /// Chain length (entries on anon_vma_chain).
    public var chainLength: Int { chain.count }
    /// A fork child: has an anon_vma and a chain length other than 1 (docs/KERNEL-MODEL.md §0.4).
    public var isForkChild: Bool { anonVMA != nil && chain.count != 1 }
    /// The anon_vma chain as the kernel's list orders it (newest first).
    public var chainNewestFirst: [AnonVMA] { chain.reversed().map(\.anonVMA) }
    /// "0xstart-0xend" as the API names a VMA.
    public var rangeDescription: String { hexRange(start, end) }
}

/// A value copy of a VMA's visible state, for effects and snapshots.
public struct VMASnapshot: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    public var pgoff: UInt64
    public var flags: VMFlags
    public var fileID: Int?
    public var anonVMA: Int?

    public init(_ v: __shared VMA) {
        start = v.start
        end = v.end
        pgoff = v.pgoff
        flags = v.flags
        fileID = v.file?.id
        anonVMA = v.anonVMA?.id
    }
}
