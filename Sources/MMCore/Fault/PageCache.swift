/// The page cache as the fault path sees it: fault-around and ->fault for
/// regular files, shmem objects and special mappings.
///
/// A regular session file behaves like the oracle's files (written page by
/// page and fsync'ed): every page below EOF is cached and uptodate. Folios are
/// created lazily on first use, one per (inode, index), except the pages a
/// punched hole removed (`Inode.uncachedPages`) until a fault reads them
/// around again. An injected `pageCacheMiss` makes the faulting page uncached
/// until the I/O that the first attempt starts has completed (the RETRY).
/// Shmem pages exist only once something faulted them in (a hole is
/// allocated by shmem_fault()).
extension Simulation {
    /// The page-cache folio of `inode` at `index`, created on first use.
    @inline(__always)
    func pageCacheFolio(_ inode: Inode, _ index: UInt64) -> Folio {
        if let f = inode.pageCache[index] { return f }
        let f = makeFolio(kind: inode.isShmem ? .shmem : .file, index: index, inode: inode)
        inode.pageCache[index] = f
        return f
    }

    /// Whether filemap_map_pages() would find `index` uptodate in the cache.
    @inline(__always)
    private func isCached(_ missPending: Bool, _ inode: Inode, _ index: UInt64, faulting: Bool) -> Bool {
        if index >= inode.sizePages { return false }
        if inode.isShmem { return inode.pageCache[index] != nil }
        if inode.uncachedPages.contains(index) { return false }
        return !(faulting && missPending)
    }

    /// Models do_fault_around() (mm/memory.c) with filemap_map_pages()
    /// (mm/filemap.c): the 16-page window (fault_around_bytes = 64 KiB) aligned
    /// on the virtual address, clamped to the VMA, the page table and EOF; every
    /// uptodate cached page whose PTE is none is mapped per vm_page_prot (old,
    /// except the faulting one). Returns VM_FAULT_NOPAGE if the faulting page
    /// got mapped.
    func doFaultAround(_ ctx: inout FaultContext, _ vma: VMA, _ ops: VMOps) -> VMFault {
        guard let inode = vma.file?.inode else { return [] }
        let nrPages: UInt64 = 16, ptrsPerPTE: UInt64 = 512
        let pteOff = ctx.vpn & (ptrsPerPTE - 1)
        let vmaOff = (ctx.address - vma.start) >> Linux.PAGE_SHIFT
        let fromPTE = max(pteOff & ~(nrPages - 1), pteOff - min(pteOff, vmaOff))
        let toPTE = min(fromPTE + nrPages, ptrsPerPTE, pteOff + vma.pages - vmaOff) - 1
        let baseVPN = ctx.vpn - pteOff
        let pgoff = vma.linearPageIndex(ctx.address)
        let writable = VMOps.protWritable(vma, ops)
        var mapped = 0
        var faultingMapped = false
        var i = fromPTE
        while i <= toPTE {
            let vpn = baseVPN + i
            let index = pgoff + i - pteOff
            let faulting = vpn == ctx.vpn
            if (faulting ? ctx.pte == nil : ctx.mm.pageTable[vpn] == nil) && isCached(ctx.cacheMissPending, inode, index, faulting: faulting) {
                let f = pageCacheFolio(inode, index)
                f.mapcount += 1
                let e = PTE.mapping(f, writable: writable, dirty: false, young: faulting)
                if faulting { ctx.setPTE(e) } else { ctx.mm.pageTable[vpn] = e }
                mapped += 1
                if faulting { faultingMapped = true }
            }
            i += 1
        }
        trace(ctx.tracing, "do_fault_around", "window \(hex((baseVPN + fromPTE) << 12))-\(hex((baseVPN + toPTE + 1) << 12)) (file pages \(pgoff + fromPTE - pteOff)-\(pgoff + toPTE - pteOff)): mapped \(mapped) cached page(s) \(writable ? "RW" : "RO")\(faultingMapped ? ", including the faulting one" : "")")
        return faultingMapped ? .nopage : []
    }

    /// Models __do_fault() → vma->vm_ops->fault: filemap_fault() (mm/filemap.c),
    /// shmem_fault() (mm/shmem.c) or special_mapping_fault() (mm/mmap.c).
    /// Beyond EOF → SIGBUS; an uncached page → I/O, RETRY|MAJOR (the lock is
    /// dropped for the read); a shmem hole → a new shmem page.
    func doFaultPage(_ ctx: inout FaultContext, _ vma: VMA) -> (Folio?, VMFault) {
        let index = vma.linearPageIndex(ctx.address)
        guard let inode = vma.file?.inode else {
            // special_mapping_fault() / vvar_fault(): the kernel's own page.
            let f = makeFolio(kind: .file, index: index)
            trace(ctx.tracing, "special_mapping_fault", "\(vma.name ?? "special") page \(index) → f\(f.id)")
            return (f, [])
        }
        if index >= inode.sizePages {
            trace(ctx.tracing, inode.isShmem ? "shmem_fault" : "filemap_fault", "index \(index) beyond EOF (\(inode.sizePages) page(s)): VM_FAULT_SIGBUS")
            return (nil, .sigbus)
        }
        if inode.isShmem {
            let existed = inode.pageCache[index] != nil
            let f = pageCacheFolio(inode, index)
            trace(ctx.tracing, "shmem_fault", existed ? "shmem object \(inode.path) page \(index) → f\(f.id)" : "hole at index \(index): new shmem page f\(f.id) (not the zero page)")
            return (f, [])
        }
        if ctx.cacheMissPending || inode.uncachedPages.contains(index) {
            // The read is started and waited for with the lock dropped.
            ctx.cacheMissPending = false
            ctx.retryCode = .IO_RETRY
            let around = mmapReadAround(inode, index)
            trace(ctx.tracing, "filemap_fault", "index \(index) not in the page cache: do_sync_mmap_readahead() reads pages \(around.lowerBound)-\(around.upperBound - 1) around it with the lock dropped, VM_FAULT_RETRY|VM_FAULT_MAJOR")
            _ = pageCacheFolio(inode, index)
            return (nil, [.retry, .major])
        }
        let f = pageCacheFolio(inode, index)
        trace(ctx.tracing, "filemap_fault", "page-cache page \(inode.path)@\(index) → f\(f.id)")
        return (f, [])
    }

    /// ra->ra_pages of the test machine's disk (read_ahead_kb 8192).
    static let readAheadPages: UInt64 = 2048

    /// Models the read-around of do_sync_mmap_readahead() (mm/filemap.c):
    /// ra_pages pages starting ra_pages/2 before the faulting index, clamped
    /// to EOF, are brought into the page cache (a hole reads as zeros without
    /// I/O). Returns the index range read.
    @discardableResult
    func mmapReadAround(_ inode: Inode, _ index: UInt64) -> Range<UInt64> {
        let lo = index - min(index, Self.readAheadPages / 2)
        let hi = min(lo + Self.readAheadPages, inode.sizePages)
        if !inode.uncachedPages.isEmpty {
            inode.uncachedPages = inode.uncachedPages.filter { !(lo..<hi).contains($0) }
        }
        return lo..<hi
    }
}
