/// The ordered set of a process's VMAs (the maple tree `mm_mt`), with
/// O(log n) lookups.
///
/// Keys are read from the live VMA objects (`start`), so callers may move a
/// VMA's boundaries in place as long as VMAs stay non-overlapping — which is
/// what every kernel operation guarantees.
public struct VMATree: Sequence {
    private var vmas: [VMA] = []

    public init() {}

    /// map_count.
    public var count: Int { vmas.count }
    public var isEmpty: Bool { vmas.isEmpty }
    public var first: VMA? { vmas.first }
    public var last: VMA? { vmas.last }
    /// All VMAs in address order.
    public var all: [VMA] { vmas }

    public func makeIterator() -> IndexingIterator<[VMA]> { vmas.makeIterator() }

    /// Index of the first VMA with end > addr.
    @inline(__always)
    private func lowerBoundEnd(_ addr: UInt64) -> Int {
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if vmas[mid].end <= addr { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// find_vma(): the first VMA with `end > addr` (may start above addr).
    public func findVMA(_ addr: UInt64) -> VMA? {
        let i = lowerBoundEnd(addr)
        return i < vmas.count ? vmas[i] : nil
    }

    /// vma_lookup(): the VMA containing addr.
    public func find(containing addr: UInt64) -> VMA? {
        guard let v = findVMA(addr), v.start <= addr else { return nil }
        return v
    }

    /// The last VMA that ends at or below `addr` (the `prev` of a range starting at addr).
    public func vmaEnding(atOrBefore addr: UInt64) -> VMA? {
        let i = lowerBoundEnd(addr)   // first with end > addr
        return i > 0 ? vmas[i - 1] : nil
    }

    private func index(of vma: VMA) -> Int? {
        let i = lowerBoundEnd(vma.start)
        return i < vmas.count && vmas[i] === vma ? i : nil
    }

    /// The VMA before `vma` in address order (vma_prev()).
    public func prev(of vma: VMA) -> VMA? {
        guard let i = index(of: vma), i > 0 else { return nil }
        return vmas[i - 1]
    }

    /// The VMA after `vma` in address order (vma_next()).
    public func next(of vma: VMA) -> VMA? {
        guard let i = index(of: vma), i + 1 < vmas.count else { return nil }
        return vmas[i + 1]
    }

    /// Every VMA intersecting [start, end), in address order.
    public func overlapping(_ start: UInt64, _ end: UInt64) -> [VMA] {
        var out: [VMA] = []
        var i = lowerBoundEnd(start)
        while i < vmas.count, vmas[i].start < end {
            out.append(vmas[i])
            i += 1
        }
        return out
    }

    /// Whether any VMA intersects [start, end).
    public func intersects(_ start: UInt64, _ end: UInt64) -> Bool {
        let i = lowerBoundEnd(start)
        return i < vmas.count && vmas[i].start < end
    }

    /// Inserts a VMA that overlaps none present.
    public mutating func insert(_ vma: VMA) {
        let i = lowerBoundEnd(vma.start)
        precondition(i == vmas.count || vmas[i].start >= vma.end, "overlapping VMA insert")
        vmas.insert(vma, at: i)
    }

    /// Removes a VMA (by identity).
    public mutating func remove(_ vma: VMA) {
        guard let i = index(of: vma) else { preconditionFailure("VMA not in tree") }
        vmas.remove(at: i)
    }

    /// Whether `vma` is in the tree.
    public func contains(_ vma: VMA) -> Bool { index(of: vma) != nil }
}
