/// `struct anon_vma` (include/linux/rmap.h): the reverse-map object new
/// anonymous folios point at.
public final class AnonVMA {
    /// "av1", "av2", … in allocation order.
    public let id: Int
    /// The tree's root (self for a fresh anon_vma).
    public var root: AnonVMA { rootLink ?? self }
    /// The anon_vma this one was forked from (self for a fresh anon_vma).
    public var parent: AnonVMA { parentLink ?? self }
    /// Strong links up the tree; nil means "self" (avoids a retain cycle).
    public var rootLink: AnonVMA?
    public var parentLink: AnonVMA?
    public var refcount = 1
    public var numChildren = 0
    public var numActiveVMAs = 0
    /// The interval tree (rb_root) of AVCs, keyed by AVC id.
    public var avcs: [Int: AnonVMAChain] = [:]
    /// Whether put_anon_vma() freed it.
    public var freed = false

    /// anon_vma_alloc() (mm/rmap.c): refcount 1, root = parent = self.
    public init(id: Int) {
        self.id = id
    }

    /// Whether this anon_vma is its own root.
    public var isRoot: Bool { root === self }
}

/// `struct anon_vma_chain`: links one VMA to one anon_vma.
public final class AnonVMAChain {
    public let id: Int
    public unowned(unsafe) let vma: VMA
    public let anonVMA: AnonVMA
    /// The pid of the process owning `vma` (for the API's chain listing).
    public let pid: Int

    public init(id: Int, vma: VMA, anonVMA: AnonVMA, pid: Int) {
        self.id = id
        self.vma = vma
        self.anonVMA = anonVMA
        self.pid = pid
    }
}
