/// munmap(2) as steps (docs/CONCURRENCY.md §2.5): do_vmi_munmap() →
/// do_vmi_align_munmap() / vms_gather_munmap_vmas() and
/// vms_complete_munmap_vmas() (mm/vma.c; mm/mmap.c before 6.12).
extension Machine {
    enum MunmapPC {
        static let lock = 0, gather = 1, lockLow = 2, splitLow = 3, lockHigh = 4, splitHigh = 5
        static let lockEach = 6, detach = 7, downgrade = 8, complete = 9
    }

    /// One step of munmap(addr, len). `downgrade`: munmap(2) and brk shrink
    /// downgrade to the read lock before tearing down (unlock=true).
    mutating func munmapStep(_ addr: UInt64, _ length: UInt64, downgrade: Bool = true) {
        let start = addr, end = addr &+ pageAlign(length)
        let race = Race.stackRot
        switch t.pc {
        case MunmapPC.lock:
            writeLockStep("munmap", next: MunmapPC.gather)
        case MunmapPC.gather:
            readTree(race: race)
            if addr & 0xfff != 0 || length == 0 || end <= start {
                step("do_vmi_munmap", "EINVAL")
                mmapUnlock()
                return finishOp()
            }
            let list = w.overlapping(start, end)
            guard let first = list.first, let last = list.last else {
                step("do_vmi_munmap", "nothing mapped in [\(hex(start)), \(hex(end)))")
                mmapUnlock()
                return finishOp()
            }
            step("vms_gather_munmap_vmas", "\(list.count) VMA(s) in [\(hex(start)), \(hex(end)))")
            t.list = []
            t.v = w.vmas[first].start < start ? first : nil
            t.n = w.vmas[last].end > end ? last : nil
            t.pc = t.v != nil ? MunmapPC.lockLow : (t.n != nil ? MunmapPC.lockHigh : MunmapPC.lockEach)
        case MunmapPC.lockLow, MunmapPC.lockHigh:
            let v = t.pc == MunmapPC.lockLow ? t.v! : t.n!
            step("vma_start_write", "__split_vma(): V#\(w.vmas[v].id)")
            t.pc += 1
            _ = vmaStartWrite(v)
        case MunmapPC.splitLow:
            let n = splitVMA(t.v!, at: start, newBelow: true, race: race)
            step("__split_vma", "V#\(w.vmas[n].id) keeps [\(hex(w.vmas[n].start)), \(hex(start)))")
            if t.n == t.v { t.n = t.v }
            t.pc = t.n != nil ? MunmapPC.lockHigh : MunmapPC.lockEach
        case MunmapPC.splitHigh:
            let n = splitVMA(t.n!, at: end, newBelow: false, race: race)
            step("__split_vma", "V#\(w.vmas[n].id) keeps [\(hex(end)), \(hex(w.vmas[n].end)))")
            t.pc = MunmapPC.lockEach
        case MunmapPC.lockEach:
            if t.list.isEmpty && t.k == 0 { t.list = w.overlapping(start, end) }
            guard t.k < t.list.count else {
                t.pc = MunmapPC.detach
                return munmapStep(addr, length, downgrade: downgrade)
            }
            let v = t.list[t.k]
            step("vma_start_write", "V#\(w.vmas[v].id)")
            t.k += 1
            _ = vmaStartWrite(v)
        case MunmapPC.detach:
            step("vms_gather_munmap_vmas", "vma_mark_detached() and clear [\(hex(start)), \(hex(end))) in the tree")
            detach(t.list, race: race)
            t.pc = downgrade ? MunmapPC.downgrade : MunmapPC.complete
        case MunmapPC.downgrade:
            step("mmap_write_downgrade", "vma_end_write_all(): the detached VMAs are unlocked")
            mmapDowngrade()
            t.pc = MunmapPC.complete
        case MunmapPC.complete:
            step("vms_complete_munmap_vmas", "zap, free_pgtables → unlink_anon_vmas, remove_vma")
            zap(0, start, end)
            for v in t.list {
                unlinkAnonVMAs(v, race: race)
                removeVMA(v)
            }
            mmapUnlock()
            finishOp()
        default:
            preconditionFailure("munmap pc \(t.pc)")
        }
    }
}
