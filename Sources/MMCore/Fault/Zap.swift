extension Simulation {
    /// Models zap_pte_range() via unmap_page_range() (mm/memory.c): clears
    /// every PTE in [start, end) of `mm`. Anonymous folios lose a mapping and
    /// are freed when unmapped everywhere; page-cache pages lose a mapping and
    /// stay cached; the zero page is never counted. Guard markers are kept
    /// unless `dropGuards` (munmap/exit drop them, MADV_DONTNEED keeps them).
    /// Returns the number of present PTEs zapped.
    @discardableResult
    func zapRange(_ mm: MM, _ start: UInt64, _ end: UInt64, dropGuards: Bool = true) -> Int {
        var zapped = 0
        mm.pageTable.clear(in: start, end, dropGuards: dropGuards) { pte in
            if let f = pte.folio { folioRemoveRmap(f) }
            zapped += 1
        }
        effects.pagesZapped += zapped
        return zapped
    }

    /// Models folio_remove_rmap_pte() (mm/rmap.c) plus the final put: one
    /// fewer mapping; an anonymous folio mapped nowhere is freed.
    func folioRemoveRmap(_ f: Folio) {
        guard f.kind != .zero else { return }
        f.mapcount -= 1
        if f.mapcount == 0 && f.kind == .anon {
            f.anonVMA = nil
            f.anonExclusive = false
            f.lazyFree = false
        }
    }
}
