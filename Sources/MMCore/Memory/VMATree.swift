/// The ordered set of a process's VMAs (the maple tree `mm_mt`), with
/// O(log n) lookups and cheap inserts and removals.
///
/// Stored as address-ordered chunks of at most `chunkCapacity` VMAs (a
/// one-level B+tree). Each chunk caches its VMAs' `end`s next to the
/// references, so a lookup binary-searches the chunks' last ends, then one
/// chunk's ends, and touches only the VMA it returns; an insert or removal
/// moves at most one chunk's worth of entries. Callers may move a VMA's
/// boundaries in place as long as VMAs stay non-overlapping and ordered —
/// which every kernel operation guarantees: `VMA.end`'s observer keeps the
/// cached key current through the VMA's `node` back-pointer.
public struct VMATree: Sequence {
    static let chunkCapacity = 64
    /// A chunk this small is merged into a neighbour that has room.
    static let chunkMinimum = 16

    /// One chunk: a non-empty, address-ordered run of VMAs and their ends.
    final class Chunk {
        var vmas: ContiguousArray<VMA>
        /// `ends[i] == vmas[i].end`.
        var ends: ContiguousArray<UInt64>
        /// `ends.last`: the top-level search key.
        var lastEnd: UInt64

        init(_ vmas: ContiguousArray<VMA>) {
            self.vmas = vmas
            var e = ContiguousArray<UInt64>()
            e.reserveCapacity(VMATree.chunkCapacity + 1)
            for v in vmas { e.append(v.end) }
            ends = e
            lastEnd = e.last ?? 0
            for v in vmas { v.node = self }
        }

        deinit {
            for v in vmas where v.node === self { v.node = nil }
        }

        /// `vma.end` moved from `old` to `new` in place (VMA.end's observer).
        func endMoved(_ vma: VMA, from old: UInt64, to new: UInt64) {
            var i = 0, n = ends.count
            while n > 0 {
                let half = n >> 1
                if ends[i + half] < old {
                    i += half + 1
                    n -= half + 1
                } else {
                    n = half
                }
            }
            if i == vmas.count || vmas[i] !== vma {
                guard let j = vmas.firstIndex(where: { $0 === vma }) else { return }
                i = j
            }
            ends[i] = new
            if i == ends.count - 1 { lastEnd = new }
        }
    }

    private var chunks: ContiguousArray<Chunk> = []
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
    public var all: [VMA] {
        var out: [VMA] = []
        out.reserveCapacity(count)
        for c in chunks { out.append(contentsOf: c.vmas) }
        return out
    }

    /// Iterates VMAs in address order.
    public struct Iterator: IteratorProtocol {
        let chunks: ContiguousArray<Chunk>
        var chunk = 0
        var slot = 0
        public mutating func next() -> VMA? {
            guard chunk < chunks.count else { return nil }
            let c = chunks[chunk]
            let v = c.vmas[slot]
            slot += 1
            if slot == c.vmas.count {
                chunk += 1
                slot = 0
            }
            return v
        }
    }

    public func makeIterator() -> Iterator { Iterator(chunks: chunks) }
    public var underestimatedCount: Int { count }

    // MARK: cursors

    /// The cursor of the first VMA with `end > addr` (the end cursor if none).
    public func cursor(firstEndAbove addr: UInt64) -> Cursor {
        chunks.withUnsafeBufferPointer { cs in
            var lo = 0, n = cs.count
            while n > 0 {
                let half = n >> 1
                if cs[lo + half].lastEnd <= addr {
                    lo += half + 1
                    n -= half + 1
                } else {
                    n = half
                }
            }
            guard lo < cs.count else { return Cursor(chunk: lo, slot: 0) }
            let slot = cs[lo].ends.withUnsafeBufferPointer { e in
                var l = 0, m = e.count
                while m > 0 {
                    let half = m >> 1
                    if e[l + half] <= addr {
                        l += half + 1
                        m -= half + 1
                    } else {
                        m = half
                    }
                }
                return l
            }
            return Cursor(chunk: lo, slot: slot)
        }
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
        if chunks.isEmpty {
            chunks.append(Chunk([vma]))
            return
        }
        var cur = cursor(firstEndAbove: vma.start)
        if cur.chunk == chunks.count { cur = Cursor(chunk: chunks.count - 1, slot: chunks[chunks.count - 1].vmas.count) }
        let c = chunk(cur.chunk)
        precondition(cur.slot == c.vmas.count || c.vmas[cur.slot].start >= vma.end, "overlapping VMA insert")
        c.vmas.insert(vma, at: cur.slot)
        c.ends.insert(vma.end, at: cur.slot)
        vma.node = c
        if cur.slot == c.vmas.count - 1 { c.lastEnd = vma.end }
        if c.vmas.count > Self.chunkCapacity {
            let half = c.vmas.count / 2
            let upper = Chunk(ContiguousArray(c.vmas[half...]))
            c.vmas.removeLast(upper.vmas.count)
            c.ends.removeLast(upper.vmas.count)
            c.lastEnd = c.ends[c.ends.count - 1]
            chunks.insert(upper, at: cur.chunk + 1)
        }
    }

    /// Removes a VMA (by identity).
    public mutating func remove(_ vma: VMA) {
        guard let cur = cursor(of: vma) else { preconditionFailure("VMA not in tree") }
        count -= 1
        let c = chunk(cur.chunk)
        c.vmas.remove(at: cur.slot)
        c.ends.remove(at: cur.slot)
        if vma.node === c { vma.node = nil }
        if c.vmas.isEmpty {
            chunks.remove(at: cur.chunk)
            return
        }
        c.lastEnd = c.ends[c.ends.count - 1]
        if c.vmas.count < Self.chunkMinimum { mergeSmall(cur.chunk) }
    }

    /// Folds the small chunk at `i` into its next (or previous) neighbour
    /// when the result stays at most three quarters full.
    private mutating func mergeSmall(_ i: Int) {
        let limit = Self.chunkCapacity * 3 / 4
        let j: Int
        if i + 1 < chunks.count, chunks[i].vmas.count + chunks[i + 1].vmas.count <= limit {
            j = i
        } else if i > 0, chunks[i - 1].vmas.count + chunks[i].vmas.count <= limit {
            j = i - 1
        } else {
            return
        }
        let lower = chunk(j)
        let upper = chunks[j + 1]
        lower.vmas.append(contentsOf: upper.vmas)
        lower.ends.append(contentsOf: upper.ends)
        lower.lastEnd = upper.lastEnd
        for v in upper.vmas { v.node = lower }
        chunks.remove(at: j + 1)
    }

    /// The chunk at `i`, copied first if another tree value shares it
    /// (value semantics for a copied MM); the copy's VMAs point at it.
    private mutating func chunk(_ i: Int) -> Chunk {
        if !isKnownUniquelyReferenced(&chunks[i]) { chunks[i] = Chunk(chunks[i].vmas) }
        return chunks[i]
    }
}
