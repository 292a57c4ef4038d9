/// Punching a hole in a file or shmem object (fallocate(FALLOC_FL_PUNCH_HOLE),
/// as MADV_REMOVE does): the pages leave every mapping and the page cache.
extension Simulation {
    /// What a punched hole did.
    struct PunchHoleResult {
        /// PTEs cleared, across all processes.
        var unmapped = 0
        /// Page-cache (or shmem) folios dropped.
        var freed = 0
    }

    /// Models the hole punch of shmem_fallocate() (mm/shmem.c) and of a
    /// disk file system's ->fallocate (ext4_punch_hole()): pages
    /// [first, first + count) of `inode` are unmapped from every process
    /// (unmap_mapping_range() with even_cows = false: page-cache pages go,
    /// private CoW copies and guard markers stay), then removed from the page
    /// cache (truncate_inode_pages_range() / shmem_undo_range()) and freed. A
    /// later read of a regular file finds the pages uncached (zeros are read
    /// around them); a later shmem fault allocates a new zeroed page.
    @discardableResult
    func punchHole(_ inode: Inode, first: UInt64, count: UInt64) -> PunchHoleResult {
        var r = PunchHoleResult()
        let last = first + count
        for pid in processes.keys.sorted() {
            guard let p = processes[pid], p.state == .running else { continue }
            r.unmapped += unmapMappingRange(p.mm, inode, first: first, last: last)
        }
        for idx in first..<last {
            if inode.pageCache.removeValue(forKey: idx) != nil { r.freed += 1 }
            if !inode.isShmem && idx < inode.sizePages { inode.uncachedPages.insert(idx) }
        }
        effects.pagesZapped += r.unmapped
        return r
    }

    /// Models unmap_mapping_range() → unmap_mapping_range_tree() (mm/memory.c)
    /// with even_cows = false for one mm: in every VMA mapping file pages
    /// [first, last) of `inode`, the PTEs of page-cache folios of the inode
    /// are zapped (zap_present_ptes() → should_zap_folio() keeps anonymous
    /// folios). Returns the number of PTEs zapped.
    func unmapMappingRange(_ mm: MM, _ inode: Inode, first: UInt64, last: UInt64) -> Int {
        var zapped = 0
        for vma in mm.vmas.all where vma.file?.inode === inode {
            let lo = max(first, vma.pgoff), hi = min(last, vma.pgoff &+ vma.pages)
            guard lo < hi else { continue }
            let start = vma.start + ((lo - vma.pgoff) << Linux.PAGE_SHIFT)
            let end = vma.start + ((hi - vma.pgoff) << Linux.PAGE_SHIFT)
            for vpn in mm.pageTable.vpns(in: start, end) {
                guard let f = mm.pageTable[vpn]?.folio, f.inode === inode, !f.isAnon else { continue }
                mm.pageTable.remove(vpn)
                folioRemoveRmap(f)
                zapped += 1
            }
        }
        return zapped
    }
}
