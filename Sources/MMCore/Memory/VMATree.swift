/// The ordered set of a process's VMAs (the maple tree `mm_mt`), with
/// O(log n) lookups and cheap inserts and removals.
///
/// Stored as address-ordered chunks of at most `chunkCapacity` VMAs (a
/// one-level B+tree). The search keys — each VMA's `end` — are cached in
/// flat arrays: one per chunk, and one of every chunk's last end. A lookup
/// binary-searches the latter, then one chunk's, and touches only the VMA it
/// returns; an insert or removal moves at most one chunk's worth of entries.
/// Callers may move a VMA's boundaries in place as long as VMAs stay
/// non-overlapping and ordered — which every kernel operation guarantees:
/// `VMA.end`'s observer keeps the cached keys current through the VMA's
/// `node` back-pointer (VMA → chunk → storage).
public struct VMATree: Sequence {
    static let chunkCapacity = 64
    /// A chunk this small is merged into a neighbour that has room.
    static let chunkMinimum = 16

    /// One chunk: a non-empty, address-ordered run of VMAs and their ends.
    final class Chunk {
        var vmas: ContiguousArray<VMA>
        /// `ends[i] == vmas[i].end`.
        var ends: ContiguousArray<UInt64>
        /// The storage whose `lastEnds` holds this chunk's last end (cleared
        /// by that storage when it is freed).
        unowned(unsafe) var storage: Storage?

        init(_ vmas: ContiguousArray<VMA>, storage: Storage) {
            self.vmas = vmas
            var e = ContiguousArray<UInt64>()
            e.reserveCapacity(VMATree.chunkCapacity + 1)
            for v in vmas { e.append(v.end) }
            ends = e
            self.storage = storage
            for v in vmas { v.node = self }
        }

        deinit {
            for v in vmas where v.node === self { v.node = nil }
        }

        var lastEnd: UInt64 { ends[ends.count - 1] }

        /// `vma.end` moved from `old` to `new` in place (VMA.end's observer).
        func endMoved(_ vma: VMA, from old: UInt64, to new: UInt64) {
            guard let i = VMATree.index(of: vma, key: old, in: ends, vmas) else { return }
            ends[i] = new
            if i == ends.count - 1 { storage?.lastEndMoved(self, from: old, to: new) }
        }
    }

    /// The chunk list and its keys, shared (copy-on-write) by tree values.
    final class Storage {
        var chunks: ContiguousArray<Chunk> = []
        /// `lastEnds[i] == chunks[i].lastEnd`: the top-level search keys.
        var lastEnds: ContiguousArray<UInt64> = []
        /// The cursor of the last lookup (a vmacache): if the next address
        /// lies between the previous VMA's end and the end of the VMA found
        /// there, that VMA is the answer again. A stale position only costs
        /// the search.
        var hint = Cursor(chunk: 0, slot: 0)
        /// The last chunk removed (emptied), kept for the next one needed:
        /// unmapping a process's only VMA and mapping another is common, and
        /// a chunk is three allocations.
        var spare: Chunk?

        init() {}

        /// A copy for a tree value about to change: the chunks (still shared)
        /// report their key changes to it from now on.
        init(copying other: Storage) {
            chunks = other.chunks
            lastEnds = other.lastEnds
            for c in chunks { c.storage = self }
        }

        deinit {
            for c in chunks where c.storage === self { c.storage = nil }
        }

        func lastEndMoved(_ c: Chunk, from old: UInt64, to new: UInt64) {
            guard let i = VMATree.index(of: c, key: old, in: lastEnds, chunks) else { return }
            lastEnds[i] = new
        }
    }

    /// The position of `object` in `objects`, found by its key `key` in the
    /// sorted `keys` (or, should keys be mid-update, by identity).
    static func index<T: AnyObject>(of object: T, key: UInt64, in keys: ContiguousArray<UInt64>,
                                    _ objects: ContiguousArray<T>) -> Int? {
        var i = 0, n = keys.count
        while n > 0 {
            let half = n >> 1
            if keys[i + half] < key {
                i += half + 1
                n -= half + 1
            } else {
                n = half
            }
        }
        if i < objects.count && objects[i] === object { return i }
        return objects.firstIndex { $0 === object }
    }

    private var storage = Storage()
    public private(set) var count = 0

    public init() {}

    /// A position in the tree: chunk index and slot. `chunk == chunk count` is the end.
    public struct Cursor: Equatable {
        public fileprivate(set) var chunk: Int
        public fileprivate(set) var slot: Int
    }

    public var isEmpty: Bool { count == 0 }
    public var first: VMA? { storage.chunks.first?.vmas.first }
    public var last: VMA? { storage.chunks.last?.vmas.last }
    /// All VMAs in address order (O(n): for rendering, not for hot paths).
    public var all: [VMA] {
        var out: [VMA] = []
        out.reserveCapacity(count)
        for c in storage.chunks { out.append(contentsOf: c.vmas) }
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

    public func makeIterator() -> Iterator { Iterator(chunks: storage.chunks) }
    public var underestimatedCount: Int { count }

    // MARK: cursors

    /// The cursor of the first VMA with `end > addr` (the end cursor if none).
    public func cursor(firstEndAbove addr: UInt64) -> Cursor {
        let st = storage
        let h = st.hint
        if h.chunk < st.chunks.count {
            // The hinted VMA is the answer when addr lies between the end of
            // the VMA before it and its own end (cached keys only).
            let c = st.chunks[h.chunk]
            if h.slot < c.ends.count, addr < c.ends[h.slot] {
                let below = h.slot > 0 ? c.ends[h.slot - 1] : (h.chunk > 0 ? st.lastEnds[h.chunk - 1] : 0)
                if below <= addr { return h }
            }
        }
        let cur = st.lastEnds.withUnsafeBufferPointer { keys in
            guard let lastKey = keys.last, lastKey > addr else { return Cursor(chunk: keys.count, slot: 0) }
            let chunk = Self.firstAbove(addr, keys, maxSteps: 24)
            let slot = st.chunks[chunk].ends.withUnsafeBufferPointer { Self.firstAbove(addr, $0, maxSteps: 8) }
            return Cursor(chunk: chunk, slot: slot)
        }
        st.hint = cur
        return cur
    }

    /// The first index of the sorted `keys` whose key is above `addr`, where
    /// `addr` is below the last key (so below 2^63: every end is, TASK_SIZE
    /// is 2^47) and `keys.count <= 2^maxSteps`.
    ///
    /// A branch-free lower bound: random addresses would mispredict half of
    /// a binary search's branches. The loop has a constant trip count so it
    /// is unrolled, which keeps LLVM from turning the selects back into
    /// branches (it does so inside loops).
    @inline(__always)
    private static func firstAbove(_ addr: UInt64, _ keys: UnsafeBufferPointer<UInt64>, maxSteps: Int) -> Int {
        var lo = 0, n = keys.count
        for _ in 0..<maxSteps {
            guard n > 1 else { break }
            let half = n >> 1
            lo &+= half & atOrBelow(keys[lo &+ half &- 1], addr)
            n &-= half
        }
        return lo &+ (1 & atOrBelow(keys[lo], addr))
    }

    /// All ones when `key <= addr`, else zero, computed from the sign of
    /// `addr - key` (both below 2^63).
    @inline(__always)
    private static func atOrBelow(_ key: UInt64, _ addr: UInt64) -> Int {
        ~((Int(bitPattern: UInt(addr)) &- Int(bitPattern: UInt(key))) >> 63)
    }

    /// The VMA at a cursor (nil at the end).
    @inline(__always)
    public func vma(at cur: Cursor) -> VMA? {
        cur.chunk < storage.chunks.count ? storage.chunks[cur.chunk].vmas[cur.slot] : nil
    }

    /// The cursor after `cur`.
    public func after(_ cur: Cursor) -> Cursor {
        let chunks = storage.chunks
        guard cur.chunk < chunks.count else { return cur }
        if cur.slot + 1 < chunks[cur.chunk].vmas.count { return Cursor(chunk: cur.chunk, slot: cur.slot + 1) }
        return Cursor(chunk: cur.chunk + 1, slot: 0)
    }

    /// The cursor before `cur`, or nil at the first VMA.
    public func before(_ cur: Cursor) -> Cursor? {
        if cur.slot > 0 { return Cursor(chunk: cur.chunk, slot: cur.slot - 1) }
        guard cur.chunk > 0 else { return nil }
        return Cursor(chunk: cur.chunk - 1, slot: storage.chunks[cur.chunk - 1].vmas.count - 1)
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
        out.reserveCapacity(4)   // typically a VMA and its neighbours: one allocation
        var cur = cursor(firstEndAbove: start)
        let chunks = storage.chunks
        while cur.chunk < chunks.count {
            let c = chunks[cur.chunk]
            let v = c.vmas[cur.slot]
            guard v.start < end else { break }
            out.append(v)
            cur = cur.slot + 1 < c.vmas.count ? Cursor(chunk: cur.chunk, slot: cur.slot + 1)
                                              : Cursor(chunk: cur.chunk + 1, slot: 0)
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
        let st = uniqueStorage()
        count += 1
        guard !st.chunks.isEmpty else {
            st.chunks.append(newChunk(vma, st))
            st.lastEnds.append(vma.end)
            return
        }
        var cur = cursor(firstEndAbove: vma.start)
        if cur.chunk == st.chunks.count { cur = Cursor(chunk: cur.chunk - 1, slot: st.chunks[cur.chunk - 1].vmas.count) }
        var c = chunk(cur.chunk, st)
        precondition(cur.slot == c.vmas.count || c.vmas[cur.slot].start >= vma.end, "overlapping VMA insert")
        if cur.slot == c.vmas.count && cur.chunk == st.chunks.count - 1 && c.vmas.count == Self.chunkCapacity {
            // Appending past a full last chunk (fork, sequential mmaps): start a new one.
            c = newChunk(vma, st)
            st.chunks.append(c)
            st.lastEnds.append(vma.end)
            return
        }
        if cur.slot == c.vmas.count {
            c.vmas.append(vma)
            c.ends.append(vma.end)
        } else {
            c.vmas.insert(vma, at: cur.slot)
            c.ends.insert(vma.end, at: cur.slot)
        }
        vma.node = c
        st.lastEnds[cur.chunk] = c.lastEnd
        if c.vmas.count > Self.chunkCapacity {
            let upper = Chunk(ContiguousArray(c.vmas[(c.vmas.count / 2)...]), storage: st)
            c.vmas.removeLast(upper.vmas.count)
            c.ends.removeLast(upper.vmas.count)
            st.lastEnds[cur.chunk] = c.lastEnd
            st.chunks.insert(upper, at: cur.chunk + 1)
            st.lastEnds.insert(upper.lastEnd, at: cur.chunk + 1)
        }
    }

    /// Removes a VMA (by identity).
    public mutating func remove(_ vma: VMA) {
        guard let cur = cursor(of: vma) else { preconditionFailure("VMA not in tree") }
        let st = uniqueStorage()
        count -= 1
        let c = chunk(cur.chunk, st)
        c.vmas.remove(at: cur.slot)
        c.ends.remove(at: cur.slot)
        if vma.node === c { vma.node = nil }
        if c.vmas.isEmpty {
            st.chunks.remove(at: cur.chunk)
            st.lastEnds.remove(at: cur.chunk)
            st.spare = c   // unique: `chunk(_:_:)` copied it if shared
            return
        }
        st.lastEnds[cur.chunk] = c.lastEnd
        if c.vmas.count < Self.chunkMinimum { mergeSmall(cur.chunk, st) }
    }

    /// A chunk holding just `vma`: the storage's spare one if it has one.
    private func newChunk(_ vma: VMA, _ st: Storage) -> Chunk {
        guard let c = st.spare else { return Chunk([vma], storage: st) }
        st.spare = nil
        c.vmas.append(vma)
        c.ends.append(vma.end)
        c.storage = st
        vma.node = c
        return c
    }

    /// Folds the small chunk at `i` into its next (or previous) neighbour
    /// when the result stays at most three quarters full.
    private mutating func mergeSmall(_ i: Int, _ st: Storage) {
        let limit = Self.chunkCapacity * 3 / 4
        let j: Int
        if i + 1 < st.chunks.count, st.chunks[i].vmas.count + st.chunks[i + 1].vmas.count <= limit {
            j = i
        } else if i > 0, st.chunks[i - 1].vmas.count + st.chunks[i].vmas.count <= limit {
            j = i - 1
        } else {
            return
        }
        let lower = chunk(j, st)
        let upper = st.chunks[j + 1]
        lower.vmas.append(contentsOf: upper.vmas)
        lower.ends.append(contentsOf: upper.ends)
        for v in upper.vmas { v.node = lower }
        st.chunks.remove(at: j + 1)
        st.lastEnds.remove(at: j + 1)
        st.lastEnds[j] = lower.lastEnd
    }

    /// The storage, copied first if another tree value shares it (value
    /// semantics for a copied MM).
    private mutating func uniqueStorage() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = Storage(copying: storage) }
        return storage
    }

    /// The chunk at `i` of the unique storage `st`, copied first if another
    /// tree value shares it; the copy's VMAs point at it.
    private func chunk(_ i: Int, _ st: Storage) -> Chunk {
        if !isKnownUniquelyReferenced(&st.chunks[i]) {
            let old = st.chunks[i]
            st.chunks[i] = Chunk(old.vmas, storage: st)
            old.storage = nil
        }
        return st.chunks[i]
    }
}
