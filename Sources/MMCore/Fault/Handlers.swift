/// handle_mm_fault() and the missing-PTE handlers (docs/KERNEL-MODEL.md §4.6–4.7,
/// §9.2 rows 1–6, 11–13, 16–17, 19–20). Write-protect faults are in WPPage.swift,
/// page-cache access in PageCache.swift.
extension Simulation {
    /// Models handle_mm_fault() (mm/memory.c): sanitize_fault_flags(), then
    /// handle_pte_fault(). Order-0 pages only (no THP, no hugetlb).
    func handleMMFault(_ ctx: inout FaultContext, _ vma: VMA) -> VMFault {
        if ctx.isWrite {
            // sanitize_fault_flags(): defensive, unreachable after access_error().
            if !vma.flags.contains(.MAYWRITE) || (!vma.flags.contains(.WRITE) && !vma.flags.isCOWMapping) {
                trace(ctx.tracing, "sanitize_fault_flags", "write fault on a VMA that may not be written: SIGSEGV")
                return .sigsegv
            }
        }
        return handlePTEFault(&ctx, vma)
    }

    /// Models handle_pte_fault() (mm/memory.c): none → do_pte_missing();
    /// non-present marker → do_swap_page(); present → do_wp_page() for a write
    /// to a read-only PTE, otherwise a spurious fault that only sets young/dirty.
    func handlePTEFault(_ ctx: inout FaultContext, _ vma: VMA) -> VMFault {
        // vmf->orig_pte's bits are read in place (no copy of its folio reference).
        guard let present = ctx.pte?.present else {
            // do_pte_missing()
            return vma.isAnonymous ? doAnonymousPage(&ctx, vma) : doFault(&ctx, vma)
        }
        if !present {
            ctx.handler = .doSwapPage
            if ctx.underVMALock && model.swapRetryUnderVMALock {
                // 6.4: any swap/marker entry under the VMA lock → RETRY.
                trace(ctx.tracing, "do_swap_page", "non-present PTE under the VMA lock: VM_FAULT_RETRY")
                ctx.retryCode = .SWAP_RETRY
                return .retry
            }
            if ctx.pte?.guardMarker == true {
                trace(ctx.tracing, "handle_pte_marker", "guard-region marker at \(hex(ctx.address)): VM_FAULT_SIGSEGV")
                return .sigsegv
            }
            return .sigbus
        }
        if ctx.isWrite {
            if ctx.pte?.writable != true { return doWPPage(&ctx, vma) }
            ctx.handler = .handlePTEFault
            ctx.updatePTE(dirty: true)
            trace(ctx.tracing, "handle_pte_fault", "spurious write fault: PTE already writable, marked dirty+young")
            return []
        }
        ctx.handler = .handlePTEFault
        ctx.updatePTE()
        trace(ctx.tracing, "handle_pte_fault", "spurious fault: PTE already present, marked young")
        return []
    }

    /// Models do_anonymous_page() (mm/memory.c): a read maps the shared zero
    /// page (no anon_vma needed); a write needs an anon_vma (vmf_anon_prepare())
    /// and installs a new exclusive order-0 anonymous folio.
    func doAnonymousPage(_ ctx: inout FaultContext, _ vma: VMA) -> VMFault {
        ctx.handler = .doAnonymousPage
        if vma.flags.contains(.SHARED) {
            trace(ctx.tracing, "do_anonymous_page", "VM_SHARED without vm_ops: SIGBUS")
            return .sigbus
        }
        if !ctx.isWrite {
            ctx.setPTE(.mapping(zeroFolio, writable: false, dirty: false))
            trace(ctx.tracing, "do_anonymous_page", "read fault: special read-only PTE for the zero page, no anon_vma needed")
            return []
        }
        let r = vmfAnonPrepare(&ctx, vma)
        if !r.isEmpty { return r }
        let folio = newAnonFolio(vma, ctx.address)
        let w = vma.flags.contains(.WRITE)
        ctx.setPTE(.mapping(folio, writable: w, dirty: w))
        trace(ctx.tracing, "do_anonymous_page", TraceNote("new anonymous folio f%d in av%d, index %d, PTE RW dirty",
                                                         UInt64(folio.id), UInt64(folio.anonVMA?.id ?? 0), folio.index))
        return []
    }

    /// Models folio_prealloc() (mm/memory.c) + folio_add_new_anon_rmap(…,
    /// RMAP_EXCLUSIVE) (mm/rmap.c): an order-0 anonymous folio in
    /// `vma.anon_vma`, index = linear_page_index(), mapcount 1, AnonExclusive.
    @inline(__always)
    func newAnonFolio(_ vma: VMA, _ address: UInt64, copiedFrom: Int? = nil) -> Folio {
        let f = makeFolio(kind: .anon, index: vma.linearPageIndex(address), anonVMA: vma.anonVMA)
        f.mapcount = 1
        f.anonExclusive = true
        f.copiedFrom = copiedFrom
        return f
    }

    /// Models do_fault() (mm/memory.c): file, shmem and special VMAs. No
    /// ->fault → SIGBUS; read → do_read_fault(); private write →
    /// do_cow_fault(); shared write → do_shared_fault().
    func doFault(_ ctx: inout FaultContext, _ vma: VMA) -> VMFault {
        let ops = VMOps(vma)
        guard ops.fault else {
            ctx.handler = .doFault
            trace(ctx.tracing, "do_fault", "vm_ops without ->fault and no PTE: SIGBUS")
            return .sigbus
        }
        if !ctx.isWrite {
            trace(ctx.tracing, "do_fault", "read fault → do_read_fault()")
            return doReadFault(&ctx, vma, ops)
        }
        if !vma.flags.contains(.SHARED) {
            trace(ctx.tracing, "do_fault", "write fault on a private mapping → do_cow_fault()")
            return doCowFault(&ctx, vma, ops)
        }
        trace(ctx.tracing, "do_fault", "write fault on a VM_SHARED mapping → do_shared_fault()")
        return doSharedFault(&ctx, vma, ops)
    }

    /// Models vmf_can_call_fault() (mm/memory.c): under the VMA lock, a file
    /// without ->map_pages cannot call ->fault; release and RETRY (`NO_MAP_PAGES`).
    @inline(__always)
    func vmfCanCallFault(_ ctx: inout FaultContext, _ ops: VMOps) -> VMFault {
        if ops.mapPages || !ctx.underVMALock { return [] }
        trace(ctx.tracing, "vmf_can_call_fault", "vm_ops without map_pages under the VMA lock: vma_end_read(), VM_FAULT_RETRY")
        ctx.retryCode = .NO_MAP_PAGES
        return .retry
    }

    /// Models do_read_fault() (mm/memory.c): fault-around first
    /// (->map_pages), then ->fault and finish_fault(). Never needs an anon_vma.
    func doReadFault(_ ctx: inout FaultContext, _ vma: VMA, _ ops: VMOps) -> VMFault {
        ctx.handler = .doReadFault
        if ops.mapPages {
            let r = doFaultAround(&ctx, vma, ops)
            if !r.isEmpty { return r }
        }
        let c = vmfCanCallFault(&ctx, ops)
        if !c.isEmpty { return c }
        let (page, r) = doFaultPage(&ctx, vma)
        guard let page else { return r }
        finishFault(&ctx, vma, ops, page, write: false)
        return []
    }

    /// Models do_cow_fault() (mm/memory.c): private file write with no PTE.
    /// vmf_can_call_fault(), then **vmf_anon_prepare()**, then ->fault, then a
    /// private anonymous copy of the page-cache page is mapped RW dirty.
    func doCowFault(_ ctx: inout FaultContext, _ vma: VMA, _ ops: VMOps) -> VMFault {
        ctx.handler = .doCowFault
        let c = vmfCanCallFault(&ctx, ops)
        if !c.isEmpty { return c }
        let a = vmfAnonPrepare(&ctx, vma)
        if !a.isEmpty { return a }
        let (page, r) = doFaultPage(&ctx, vma)
        guard let page else { return r }
        let folio = newAnonFolio(vma, ctx.address, copiedFrom: page.id)
        let w = vma.flags.contains(.WRITE)
        ctx.setPTE(.mapping(folio, writable: w, dirty: w))
        trace(ctx.tracing, "do_cow_fault", "copied \(page.kind.rawValue) page f\(page.id) into anonymous folio f\(folio.id) (av\(folio.anonVMA?.id ?? 0)); the page-cache page is not mapped")
        return []
    }

    /// Models do_shared_fault() (mm/memory.c): ->fault, ->page_mkwrite when
    /// the file has it, then finish_fault() RW dirty. Never needs an anon_vma.
    func doSharedFault(_ ctx: inout FaultContext, _ vma: VMA, _ ops: VMOps) -> VMFault {
        ctx.handler = .doSharedFault
        let c = vmfCanCallFault(&ctx, ops)
        if !c.isEmpty { return c }
        let (page, r) = doFaultPage(&ctx, vma)
        guard let page else { return r }
        if ops.pageMkwrite { trace(ctx.tracing, "do_page_mkwrite", "filemap_page_mkwrite() on f\(page.id)") }
        finishFault(&ctx, vma, ops, page, write: true)
        return []
    }

    /// Models finish_fault() / set_pte_range() (mm/memory.c) for a
    /// page-cache or shmem page: a write maps it writable+dirty
    /// (maybe_mkwrite), a read per vm_page_prot; file rmap mapcount +1.
    func finishFault(_ ctx: inout FaultContext, _ vma: VMA, _ ops: VMOps, _ page: Folio, write: Bool) {
        let writable = write ? vma.flags.contains(.WRITE) : VMOps.protWritable(vma, ops)
        page.mapcount += 1
        ctx.setPTE(.mapping(page, writable: writable, dirty: write))
        trace(ctx.tracing, "finish_fault", "mapped \(page.kind.rawValue) page f\(page.id) (index \(page.index)) \(writable ? "RW" : "RO")\(write ? " dirty" : ""); mapcount \(page.mapcount)")
    }
}
