/// The ordered set of a process's VMAs (the maple tree `mm_mt`), with
/// O(log n) lookups and cheap inserts and removals.
///
/// Stored as address-ordered chunks of at most `chunkCapacity` VMAs (a
/// one-level B+tree): a lookup binary-searches the chunks, then one chunk;
/// an insert or removal moves at most one chunk's worth of references. Keys
/// are read from the live VMA objects, so callers may move a VMA's boundaries
/// in place as long as VMAs stay non-overlapping and ordered — which is what
/// every kernel operation guarantees.
public struct VMATree: Sequence {
    static let chunkCapacity = 64

    /// One chunk: a non-empty, address-ordered run of VMAs.
    final class Chunk {
        var vmas: [VMA]
        init(_ vmas: [VMA]) { self.vmas = vmas }
        @inline(__always) var lastEnd: UInt64 { vmas[vmas.count - 1].end }
    }

    private var chunks: [Chunk] = []
    public private(set) var count = 0

    public init() {}

    /// A position in the tree: chunk index and slot. `chunk == chunks.count` is the end.
    public struct Cursor: Equatable {
        public fileprivate(set) var chunk: Int
        public fileprivate(set) var slot: Int
    }

    public var isEmpty: Bool { count == 0 }
    public var first: VMA? { chunks.first?.vmas.first }
    public var last: VMA? { chunks.last?.vmas.last }
    /// All VMAs in address order (O(n): for rendering, not for hot paths).
    public var all: [VMA] { chunks.flatMap(\.vmas) }

    /// Iterates VMAs in address order.
    public struct Iterator: IteratorProtocol {
        let tree: VMATree
        var cur: Cursor
        public mutating func next() -> VMA? {
            guard let v = tree.vma(at: cur) else { return nil }
            cur = tree.after(cur)
            return v
        }
    }

    public func makeIterator() -> Iterator { Iterator(tree: self, cur: Cursor(chunk: 0, slot: 0)) }

    // MARK: cursors

    /// The cursor of the first VMA with `end > addr` (the end cursor if none).
    public func cursor(firstEndAbove addr: UInt64) -> Cursor {
        var lo = 0, hi = chunks.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if chunks[mid].lastEnd <= addr { lo = mid + 1 } else { hi = mid }
        }
        guard lo < chunks.count else { return Cursor(chunk: chunks.count, slot: 0) }
        let c = chunks[lo]
        var l = 0, h = c.vmas.count
        while l < h {
            let mid = (l + h) >> 1
            if c.vmas[mid].end <= addr { l = mid + 1 } else { h = mid }
        }
        return Cursor(chunk: lo, slot: l)
    }

    /// The VMA at a cursor (nil at the end).
    @inline(__always)
    public func vma(at cur: Cursor) -> VMA? {
        cur.chunk < chunks.count ? chunks[cur.chunk].vmas[cur.slot] : nil
    }

    /// The cursor after `cur`.
    public func after(_ cur: Cursor) -> Cursor {
        guard cur.chunk < chunks.count else { return cur }
        if cur.slot + 1 < chunks[cur.chunk].vmas.count { return Cursor(chunk: cur.chunk, slot: cur.slot + 1) }
        return Cursor(chunk: cur.chunk + 1, slot: 0)
    }

    /// The cursor before `cur`, or nil at the first VMA.
    public func before(_ cur: Cursor) -> Cursor? {
        if cur.slot > 0 { return Cursor(chunk: cur.chunk, slot: cur.slot - 1) }
        guard cur.chunk > 0 else { return nil }
        return Cursor(chunk: cur.chunk - 1, slot: chunks[cur.chunk - 1].vmas.count - 1)
    }

    private func cursor(of vma: VMA) -> Cursor? {
        let cur = cursor(firstEndAbove: vma.start)
        return self.vma(at: cur) === vma ? cur : nil
    }

    // MARK: lookups

    /// find_vma(): the first VMA with `end > addr` (may start above addr).
    public func findVMA(_ addr: UInt64) -> VMA? { vma(at: cursor(firstEndAbove: addr)) }

    /// vma_lookup(): the VMA containing addr.
    public func find(containing addr: UInt64) -> VMA? {
        guard let v = findVMA(addr), v.start <= addr else { return nil }
        return v
    }

    /// The last VMA that ends at or below `addr` (the `prev` of a range starting at addr).
    public func vmaEnding(atOrBefore addr: UInt64) -> VMA? {
        before(cursor(firstEndAbove: addr)).flatMap { vma(at: $0) }
    }

    /// The VMA before `vma` in address order (vma_prev()).
    public func prev(of vma: VMA) -> VMA? {
        guard let cur = cursor(of: vma), let b = before(cur) else { return nil }
        return self.vma(at: b)
    }

    /// The VMA after `vma` in address order (vma_next()).
    public func next(of vma: VMA) -> VMA? {
        guard let cur = cursor(of: vma) else { return nil }
        return self.vma(at: after(cur))
    }

    /// Every VMA intersecting [start, end), in address order.
    public func overlapping(_ start: UInt64, _ end: UInt64) -> [VMA] {
        var out: [VMA] = []
        var cur = cursor(firstEndAbove: start)
        while let v = vma(at: cur), v.start < end {
            out.append(v)
            cur = after(cur)
        }
        return out
    }

    /// Whether any VMA intersects [start, end).
    public func intersects(_ start: UInt64, _ end: UInt64) -> Bool {
        guard let v = findVMA(start) else { return false }
        return v.start < end
    }

    /// Whether `vma` is in the tree.
    public func contains(_ vma: VMA) -> Bool { cursor(of: vma) != nil }

    // MARK: updates

    /// Inserts a VMA that overlaps none present.
    public mutating func insert(_ vma: VMA) {
        count += 1
        if chunks.isEmpty { chunks.append(Chunk([vma])); return }
        var cur = cursor(firstEndAbove: vma.start)
        if cur.chunk == chunks.count { cur = Cursor(chunk: chunks.count - 1, slot: chunks[chunks.count - 1].vmas.count) }
        let c = chunk(cur.chunk)
        precondition(cur.slot == c.vmas.count || c.vmas[cur.slot].start >= vma.end, "overlapping VMA insert")
        c.vmas.insert(vma, at: cur.slot)
        if c.vmas.count > Self.chunkCapacity {
            let upper = Array(c.vmas[(c.vmas.count / 2)...])
            c.vmas.removeLast(upper.count)
            chunks.insert(Chunk(upper), at: cur.chunk + 1)
        }
    }

    /// Removes a VMA (by identity).
    public mutating func remove(_ vma: VMA) {
        guard let cur = cursor(of: vma) else { preconditionFailure("VMA not in tree") }
        count -= 1
        let c = chunk(cur.chunk)
        c.vmas.remove(at: cur.slot)
        if c.vmas.isEmpty { chunks.remove(at: cur.chunk) }
    }

    /// The chunk at `i`, copied first if another tree value shares it
    /// (value semantics for a copied MM).
    private mutating func chunk(_ i: Int) -> Chunk {
        if !isKnownUniquelyReferenced(&chunks[i]) { chunks[i] = Chunk(chunks[i].vmas) }
        return chunks[i]
    }
}
