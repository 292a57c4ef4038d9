/// Address placement for the engine's mmap and mremap (docs/CONCURRENCY.md
/// §2.4, §2.8), on the engine's tree: the Simulation's rules of
/// unmapped_area_topdown() (mm/vma.c) without THP alignment (the step engine
/// maps only private anonymous memory).
extension World {
    /// Whether [addr, addr+len) is free and inside the user window.
    func rangeFree(_ addr: UInt64, _ len: UInt64) -> Bool {
        addr >= mmapMinAddr && addr &+ len > addr && addr + len <= mmapBase &+ (1 << 32) && overlapping(addr, addr + len).isEmpty
    }

    /// unmapped_area_topdown(): the top of the highest gap below mmap_base
    /// that fits `len`, keeping stack_guard_gap below a VM_GROWSDOWN VMA.
    func unmappedAreaTopdown(_ len: UInt64) -> UInt64? {
        var high = mmapBase
        while true {
            guard high > mmapMinAddr, high - mmapMinAddr >= len else { return nil }
            var top = high
            var found: (end: UInt64, next: Int?)?
            var next: Int? = nil
            for i in tree.vmas.reversed() {
                let v = vmas[i]
                if v.end <= top {
                    if top - max(v.end, mmapMinAddr) >= len { found = (top, next); break }
                }
                if v.start < top { top = v.start; next = i }
            }
            if found == nil, top > mmapMinAddr, top - mmapMinAddr >= len { found = (top, next) }
            guard let f = found else { return nil }
            if let n = f.next, vmas[n].flags.contains(.GROWSDOWN), vmas[n].start &- stackGuardGap < f.end {
                high = vmas[n].start > stackGuardGap ? vmas[n].start - stackGuardGap : 0
                continue
            }
            return f.end - len
        }
    }

    /// get_unmapped_area() for an anonymous range: a free hint is honoured.
    func placeAnon(hint: UInt64, _ len: UInt64) -> UInt64? {
        if hint != 0, rangeFree(hint & ~0xfff, len) { return hint & ~0xfff }
        return unmappedAreaTopdown(len)
    }
}
