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
    public var avcs = AVCMap()
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

/// The AVCs linked to one anon_vma, by AVC id: an array sorted by id (ids
/// only grow, so a new link is an append) with the dictionary operations
/// the model uses — no hashing or hash table per anon_vma (fork links every
/// anon_vma of every copied VMA).
public struct AVCMap {
    private var chains: [AnonVMAChain] = []

    public init() {}

    public var count: Int { chains.count }
    public var isEmpty: Bool { chains.isEmpty }
    /// The AVC ids, ascending.
    public var keys: [Int] { chains.map(\.id) }
    /// The AVCs, by ascending id.
    public var values: [AnonVMAChain] { chains }

    /// Where the AVC with `id` is or would be inserted.
    private func position(_ id: Int) -> Int {
        if let last = chains.last, last.id < id { return chains.count }   // the usual case: a new link
        var lo = 0, hi = chains.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if chains[mid].id < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public subscript(id: Int) -> AnonVMAChain? {
        get {
            let i = position(id)
            return i < chains.count && chains[i].id == id ? chains[i] : nil
        }
        set {
            precondition(newValue.map { $0.id == id } ?? true, "AVCs are keyed by their own id")
            let i = position(id)
            let present = i < chains.count && chains[i].id == id
            switch (present, newValue) {
            case (true, let avc?): chains[i] = avc
            case (true, nil): chains.remove(at: i)
            case (false, let avc?):
                // append() for a new link: insert(_:at:) at the end goes through replaceSubrange.
                if i == chains.count { chains.append(avc) } else { chains.insert(avc, at: i) }
            case (false, nil): break
            }
        }
    }

    /// Removes and returns the AVC with `id`.
    @discardableResult
    public mutating func removeValue(forKey id: Int) -> AnonVMAChain? {
        let old = self[id]
        if old != nil { self[id] = nil }
        return old
    }
}
