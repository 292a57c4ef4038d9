/// madvise(MADV_DONTNEED) as steps (docs/CONCURRENCY.md §2.10):
/// madvise_walk_vmas() under mmap_read_lock: find_vma_prev() loads the leaf
/// (mas_walk) and reads the previous slot (mas_prev) **outside RCU** — the
/// StackRot reader — then zap_page_range_single() per VMA (mm/madvise.c).
extension Machine {
    mutating func madviseStep(_ addr: UInt64, _ length: UInt64) {
        let end = addr &+ pageAlign(length)
        switch t.pc {
        case 0:
            step("mmap_read_lock", "madvise(MADV_DONTNEED)")
            t.pc = 1
            _ = mmapLock(write: false)
        case 1:
            loadNode(race: .stackRot)
            step("find_vma_prev", "mas_walk at \(hex(addr)): leaf node#\(t.masNode) loaded, no RCU")
            t.pc = 2
        case 2:
            readLoadedNode(race: .stackRot)
            t.list = t.mas.compactMap { e in e.vma.flatMap { e.start < end && e.end > addr ? $0 : nil } }
            step("find_vma_prev", "mas_prev on node#\(t.masNode): \(t.list.count) VMA(s) in range")
            t.pc = 3
        case 3:
            for v in t.list {
                rec.reads.append(.vma(v, .layout))
                let e = w.vmas[v]
                zap(0, max(e.start, addr), min(e.end, end))
            }
            step("zap_page_range_single", "[\(hex(addr)), \(hex(end))) zapped; mmap_read_unlock")
            mmapUnlock()
            finishOp()
        default:
            preconditionFailure("madvise pc \(t.pc)")
        }
    }
}
