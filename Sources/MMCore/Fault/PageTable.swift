/// One process's page table: virtual page number → PTE.
///
/// Two levels like the kernel's last two: page-table pages of
/// `ptrsPerPTE` (512) entries, one per 2 MiB of address space (a PMD
/// entry), found through an open-addressing hash of the PMD index. A
/// lookup is one multiplicative hash and an array index; runs of pages
/// share a table page. Table pages are freed when their last entry goes.
/// Value semantics: tables are copy-on-write arrays.
public struct PageTable {
    /// PTRS_PER_PTE.
    static let ptrsPerPTE = 512
    static let tableShift: UInt64 = 9
    static let emptyKey = UInt64.max

    /// One hash slot: a PMD index and its page-table page.
    struct Slot {
        var key: UInt64
        /// Non-nil entries in `ptes`.
        var used: Int
        var ptes: ContiguousArray<PTE?>
    }

    private var slots: ContiguousArray<Slot> = []
    /// Slots holding a table.
    private var tables = 0
    /// The last table page freed (all nil), kept for the next one needed:
    /// unmapping a range that empties a table and faulting into it again is
    /// common, and freeing a table destroys its 512 entries one by one.
    private var spare: ContiguousArray<PTE?>?
    public private(set) var count = 0

    public init() {}

    @inline(__always)
    private static func hash(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// The slot holding the table for PMD index `key`, if any.
    @inline(__always)
    private func slot(of key: UInt64) -> Int? {
        let n = slots.count
        guard n > 0 else { return nil }
        return slots.withUnsafeBufferPointer { s in
            let mask = n - 1
            var i = Self.hash(key, mask)
            while true {
                let k = s[i].key
                if k == key { return i }
                if k == Self.emptyKey { return nil }
                i = (i + 1) & mask
            }
        }
    }

    public subscript(vpn: UInt64) -> PTE? {
        @inline(__always) get {
            guard let s = slot(of: vpn >> Self.tableShift) else { return nil }
            return slots[s].ptes[Int(truncatingIfNeeded: vpn) & (Self.ptrsPerPTE - 1)]
        }
        set {
            let j = Int(truncatingIfNeeded: vpn) & (Self.ptrsPerPTE - 1)
            if let s = slot(of: vpn >> Self.tableShift) {
                // Swapped in place: the new entry moves in and the old one out,
                // without copying either (no reference counting of their folios).
                var entry = newValue
                let has = entry != nil
                swap(&slots[s].ptes[j], &entry)
                let had = entry != nil
                if had == has { return }
                if has {
                    slots[s].used += 1
                    count += 1
                } else {
                    slots[s].used -= 1
                    count -= 1
                    if slots[s].used == 0 { removeSlot(s) }
                }
            } else if let newValue {
                var ptes: ContiguousArray<PTE?>
                if spare != nil {
                    ptes = spare.unsafelyUnwrapped
                    spare = nil  // `ptes` is now the only reference: no copy on write below
                } else {
                    ptes = ContiguousArray<PTE?>(repeating: nil, count: Self.ptrsPerPTE)
                }
                ptes[j] = newValue
                insertSlot(Slot(key: vpn >> Self.tableShift, used: 1, ptes: ptes))
                count += 1
            }
        }
    }

    /// Removes and returns the entry at `vpn`.
    @discardableResult
    public mutating func remove(_ vpn: UInt64) -> PTE? {
        guard let old = self[vpn] else { return nil }
        self[vpn] = nil
        return old
    }

    /// Calls `body` with every entry in [start, end) (byte addresses), in
    /// ascending address order.
    public func forEach(in start: UInt64, _ end: UInt64, _ body: (UInt64, PTE) throws -> Void) rethrows {
        let lo = start >> Linux.PAGE_SHIFT, hi = end >> Linux.PAGE_SHIFT
        for key in tableKeys(lo, hi) {
            if let s = slot(of: key) { try visit(s, lo, hi, body) }
        }
    }

    /// The PMD indexes of the table pages that may hold vpns in [lo, hi),
    /// ascending: every index of the range when it spans few tables
    /// (probing each is cheaper than a scan of the slots), else the indexes
    /// of the tables present in it. A value: callers may change the tables
    /// while they walk it (slots move when a table is freed).
    private func tableKeys(_ lo: UInt64, _ hi: UInt64) -> TableKeys {
        if hi <= lo || count == 0 { return TableKeys(at: 1, last: 0) }
        let firstKey = lo >> Self.tableShift, lastKey = (hi - 1) >> Self.tableShift
        if lastKey - firstKey < UInt64(tables) * 4 { return TableKeys(at: firstKey, last: lastKey) }
        var keys: [UInt64] = []
        for s in slots where s.key != Self.emptyKey && s.key >= firstKey && s.key <= lastKey { keys.append(s.key) }
        keys.sort()
        return TableKeys(at: 0, last: 0, present: keys)
    }

    /// See `tableKeys(_:_:)`: the keys `at...last` (none when `at > last`),
    /// or, when `present` is given, its keys from index `at`.
    private struct TableKeys: Sequence, IteratorProtocol {
        var at: UInt64
        let last: UInt64
        var present: [UInt64]? = nil

        mutating func next() -> UInt64? {
            if let keys = present {
                guard at < keys.count else { return nil }
                at += 1
                return keys[Int(at - 1)]
            }
            guard at <= last else { return nil }
            at += 1
            return at - 1
        }
    }

    /// `body` for the entries of slot `s` whose vpn is in [lo, hi).
    @inline(__always)
    private func visit(_ s: Int, _ lo: UInt64, _ hi: UInt64, _ body: (UInt64, PTE) throws -> Void) rethrows {
        let base = slots[s].key << Self.tableShift
        let from = Int(truncatingIfNeeded: max(lo, base) - base)
        let to = Int(truncatingIfNeeded: min(hi, base + UInt64(Self.ptrsPerPTE)) - base)
        let ptes = slots[s].ptes
        for j in from..<to {
            if let e = ptes[j] { try body(base + UInt64(j), e) }
        }
    }

    /// Clears every entry in [start, end) (byte addresses) in ascending
    /// address order, passing each cleared entry to `body`, except guard
    /// markers, which are cleared silently when `dropGuards` and kept
    /// otherwise. Entries are moved out of their table page in place: no
    /// list of page numbers, no copy of an entry (or retain of its folio).
    public mutating func clear(in start: UInt64, _ end: UInt64, dropGuards: Bool, _ body: (PTE) -> Void) {
        let lo = start >> Linux.PAGE_SHIFT, hi = end >> Linux.PAGE_SHIFT
        for key in tableKeys(lo, hi) {
            if let s = slot(of: key) { clear(slot: s, lo, hi, dropGuards, body) }
        }
    }

    /// `clear(in:)` for the table in slot `s`; frees the table if it empties.
    private mutating func clear(slot s: Int, _ lo: UInt64, _ hi: UInt64, _ dropGuards: Bool,
                                _ body: (PTE) -> Void) {
        let base = slots[s].key << Self.tableShift
        let from = Int(truncatingIfNeeded: max(lo, base) - base)
        let to = Int(truncatingIfNeeded: min(hi, base + UInt64(Self.ptrsPerPTE)) - base)
        // The table page is taken out of its slot while edited, so that it
        // is uniquely referenced (no copy on write).
        var ptes = ContiguousArray<PTE?>()
        swap(&ptes, &slots[s].ptes)
        var cleared = 0
        ptes.withUnsafeMutableBufferPointer { table in
            for j in from..<to {
                // Moved out before it is looked at (reading a field in place
                // would copy the entry: a retain and release of its folio).
                var entry: PTE? = nil
                swap(&table[j], &entry)
                guard let e = consume entry else { continue }
                if e.guardMarker {
                    if dropGuards { cleared += 1 } else { table[j] = consume e }
                    continue
                }
                cleared += 1
                body(e)
            }
        }
        swap(&ptes, &slots[s].ptes)
        slots[s].used -= cleared
        count -= cleared
        if slots[s].used == 0 { removeSlot(s) }
    }

    /// The virtual page numbers with an entry in [start, end) (byte
    /// addresses), ascending.
    public func vpns(in start: UInt64, _ end: UInt64) -> [UInt64] {
        var out: [UInt64] = []
        forEach(in: start, end) { vpn, _ in out.append(vpn) }
        return out
    }

    /// Every entry by vpn (O(n): for inspection, not for hot paths).
    public var entries: [UInt64: PTE] {
        var d: [UInt64: PTE] = [:]
        d.reserveCapacity(count)
        forEach(in: 0, UInt64.max) { d[$0] = $1 }
        return d
    }

    // MARK: the hash of table pages

    private mutating func insertSlot(_ new: Slot) {
        if (tables + 1) * 2 > slots.count { grow() }
        let mask = slots.count - 1
        var i = Self.hash(new.key, mask)
        while slots[i].key != Self.emptyKey { i = (i + 1) & mask }
        slots[i] = new
        tables += 1
    }

    private mutating func grow() {
        let old = slots
        let n = max(16, old.count * 2)
        slots = ContiguousArray(repeating: Slot(key: Self.emptyKey, used: 0, ptes: []), count: n)
        let mask = n - 1
        for s in old where s.key != Self.emptyKey {
            var i = Self.hash(s.key, mask)
            while slots[i].key != Self.emptyKey { i = (i + 1) & mask }
            slots[i] = s
        }
    }

    /// Frees the table in slot `i` (backward-shift deletion keeps every
    /// remaining key reachable from its home slot).
    private mutating func removeSlot(_ i: Int) {
        let mask = slots.count - 1
        var hole = i
        var j = i
        var freed = Slot(key: Self.emptyKey, used: 0, ptes: [])
        swap(&slots[hole], &freed)
        spare = freed.ptes
        tables -= 1
        while true {
            j = (j + 1) & mask
            let k = slots[j].key
            if k == Self.emptyKey { return }
            let home = Self.hash(k, mask)
            // Move j back into the hole unless its home lies cyclically in (hole, j].
            let inRange = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !inRange {
                slots.swapAt(hole, j)
                hole = j
            }
        }
    }
}
