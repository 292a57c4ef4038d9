/// Write faults on present read-only PTEs (docs/KERNEL-MODEL.md §4.7 do_wp_page,
/// §9.2 rows 5–8, 14–15, 18).
extension Simulation {
    /// Models do_wp_page() (mm/memory.c). Shared mappings → wp_page_shared()
    /// (reuse in place, never an anon_vma). Private: an anonymous page that is
    /// PageAnonExclusive, or whose only user we are (wp_can_reuse_anon_folio():
    /// order 0, refcount 1 ⇔ mapcount 1 here), is reused in place; everything
    /// else — the zero page, page-cache pages, anonymous pages still shared
    /// after fork — is copied by wp_page_copy().
    func doWPPage(_ ctx: inout FaultContext, _ vma: VMA) -> VMFault {
        ctx.handler = .doWPPage
        // vm_normal_page() on vmf->orig_pte: NULL for the zero page (a special PTE).
        let page: Folio? = ctx.pte?.folio.flatMap { $0.isZero ? nil : $0 }
        if !vma.flags.intersection([.SHARED, .MAYSHARE]).isEmpty {
            return wpPageShared(&ctx, vma, page)
        }
        if let f = page, f.isAnon, f.anonExclusive || f.mapcount == 1 {
            if !f.anonExclusive {
                // wp_can_reuse_anon_folio() → folio_move_anon_rmap().
                f.anonExclusive = true
                let from = f.anonVMA?.id
                f.anonVMA = vma.anonVMA
                trace(ctx.tracing, "wp_can_reuse_anon_folio",
                      TraceNote("f%d has no other user: reuse; folio_move_anon_rmap() av%d → av%d; SetPageAnonExclusive",
                                UInt64(f.id), UInt64(from ?? 0), UInt64(vma.anonVMA?.id ?? 0)))
            }
            wpPageReuse(&ctx, f)
            return []
        }
        return wpPageCopy(&ctx, vma, page)
    }

    /// Models wp_page_reuse() (mm/memory.c): the same page, PTE made
    /// writable+dirty+young.
    private func wpPageReuse(_ ctx: inout FaultContext, _ f: Folio) {
        ctx.updatePTE(writable: true, dirty: true)
        trace(ctx.tracing, "wp_page_reuse", TraceNote("f%d reused in place: PTE RW dirty", UInt64(f.id)))
    }

    /// Models wp_page_shared() (mm/memory.c): ->page_mkwrite when present
    /// (under the VMA lock only after vmf_can_call_fault()), then reuse.
    private func wpPageShared(_ ctx: inout FaultContext, _ vma: VMA, _ page: Folio?) -> VMFault {
        let ops = VMOps(vma)
        if ops.pageMkwrite {
            let c = vmfCanCallFault(&ctx, ops)
            if !c.isEmpty { return c }
            trace(ctx.tracing, "do_page_mkwrite", "filemap_page_mkwrite() on f\(page?.id ?? 0)")
        }
        ctx.updatePTE(writable: true, dirty: true)
        trace(ctx.tracing, "wp_page_shared", "shared mapping: same page made writable+dirty (write notification done)")
        return []
    }

    /// Models wp_page_copy() (mm/memory.c): **vmf_anon_prepare() first**, then
    /// a new exclusive anonymous folio — zero-filled for the zero page, a copy
    /// otherwise — replaces the PTE (RW dirty); the old page loses this mapping.
    private func wpPageCopy(_ ctx: inout FaultContext, _ vma: VMA, _ old: Folio?) -> VMFault {
        let r = vmfAnonPrepare(&ctx, vma)
        if !r.isEmpty { return r }
        let folio = newAnonFolio(vma, ctx.address, copiedFrom: old?.id)
        let w = vma.flags.contains(.WRITE)
        ctx.setPTE(.mapping(folio, writable: w, dirty: w))
        if let old { folioRemoveRmap(old) }
        trace(ctx.tracing, "wp_page_copy", old.map { "copied \($0.kind.rawValue) page f\($0.id) (mapcount now \($0.mapcount)) into f\(folio.id) in av\(folio.anonVMA?.id ?? 0)" }
                    ?? "zero page replaced by zeroed anonymous folio f\(folio.id) in av\(folio.anonVMA?.id ?? 0)")
        return []
    }
}
