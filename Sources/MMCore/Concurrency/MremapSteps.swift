/// mremap(2) moves as steps (docs/CONCURRENCY.md §2.8): move_vma() →
/// copy_vma(), move_page_tables(), then unmap_source_vma() or, with
/// MREMAP_DONTUNMAP, dontunmap_complete() → unlink_anon_vmas() (mm/mremap.c).
/// The source is write-locked first (v3 "mm/mremap: write-lock VMA while
/// remapping it"); copy_vma() merges the destination with its neighbours
/// (CopyVMASteps.swift) or links a copy, write-locked before vma_link().
extension Machine {
    enum MremapPC {
        static let lock = 0, find = 1, lockSource = 2, copy = 3, entryLocks = 4, decide = 5, dupLocks = 6
        static let dup = 7, prepareLocks = 8, expand = 9, move = 10, finish = 11
    }

    /// One step of mremap(2): do_mremap() → move_vma() (mm/mremap.c).
    mutating func mremapStep(_ old: UInt64, _ size: UInt64, _ flags: UInt64, _ newAddr: UInt64) {
        let len = pageAlign(size)
        let dontunmap = flags & Linux.MREMAP_DONTUNMAP != 0
        switch t.pc {
        case MremapPC.lock:
            writeLockStep("mremap", next: MremapPC.find)
        case MremapPC.find:
            readTree(race: .anonTestBeforeLock)
            guard old & 0xfff == 0, len > 0, let v = w.find(containing: old), w.vmas[v].end >= old + len else {
                step("mremap", "the old range is not one VMA: EFAULT")
                mmapUnlock()
                return finishOp()
            }
            if flags & (Linux.MREMAP_FIXED | Linux.MREMAP_DONTUNMAP) == 0 {
                // Same size, no MREMAP_FIXED/DONTUNMAP: nothing to move (mremap returns the old address).
                step("mremap", "old_size == new_size: nothing to do")
                mmapUnlock()
                return finishOp()
            }
            if flags & Linux.MREMAP_FIXED != 0 {
                guard newAddr & 0xfff == 0, newAddr + len <= old || newAddr >= old + len else {
                    step("mremap", "EINVAL")
                    mmapUnlock()
                    return finishOp()
                }
                if !w.overlapping(newAddr, newAddr + len).isEmpty { unmapForFixed(newAddr, newAddr + len) }
                t.a2 = newAddr
            } else {
                guard let a = w.placeAnon(hint: dontunmap ? newAddr : 0, len) else {
                    step("vrm_set_new_addr", "no room: ENOMEM")
                    mmapUnlock()
                    return finishOp()
                }
                t.a2 = a
            }
            t.v = v
            step("vrm_set_new_addr", "move [\(hex(old)), \(hex(old + len))) to \(hex(t.a2))")
            t.pc = MremapPC.lockSource
        case MremapPC.lockSource:
            step("vma_start_write", "the source V#\(w.vmas[t.v!].id)")
            t.pc = MremapPC.copy
            _ = vmaStartWrite(t.v!)
        case MremapPC.copy:
            var v = t.v!
            if w.vmas[v].start < old { v = splitOff(v, at: old, keepAbove: true) }
            if w.vmas[v].end > old + len { _ = splitVMA(v, at: old + len, newBelow: false, race: .anonTestBeforeLock) }
            t.v = v
            copyVMAStart(len)
        case MremapPC.entryLocks, MremapPC.dupLocks, MremapPC.prepareLocks:
            if t.pc == MremapPC.prepareLocks && t.queue.isEmpty { t.queue = [t.n, t.source].compactMap { $0 } }
            if lockNext() { return }
            t.pc += 1
            mremapStep(old, size, flags, newAddr)
        case MremapPC.decide:
            copyVMADecide(len)
        case MremapPC.dup:
            copyVMADupAnonVMA(len)
        case MremapPC.expand:
            copyVMAExpand(old, len)
        case MremapPC.move:
            let delta = (t.a2 >> 12) &- (old >> 12)
            for i in w.ptes.indices where w.ptes[i].mm == 0 && w.ptes[i].vpn >= old >> 12 && w.ptes[i].vpn < (old + len) >> 12 {
                writePTE(0, w.ptes[i].vpn)
                w.ptes[i].vpn = w.ptes[i].vpn &+ delta
                writePTE(0, w.ptes[i].vpn)
            }
            step("move_page_tables", "PTEs moved to \(hex(t.a2))")
            t.pc = MremapPC.finish
        case MremapPC.finish:
            let v = t.v!
            let whole = w.vmas[v].start == old && w.vmas[v].end == old + len
            if dontunmap {
                // dontunmap_complete(): the source stays, empty; its anon_vma
                // chain is unlinked unless copy_vma() merged it into the copy.
                w.vmas[v].flags.subtract([.LOCKED, .LOCKONFAULT])
                if v != t.n && whole { unlinkAnonVMAs(v, race: .anonTestBeforeLock) }
                step("dontunmap_complete", "V#\(w.vmas[v].id) stays mapped\(v != t.n && whole ? ", anon_vma = NULL" : "")")
            } else if whole {
                detach([v], race: .anonTestBeforeLock)
                unlinkAnonVMAs(v, race: .anonTestBeforeLock)
                removeVMA(v)
                step("unmap_source_vma", "V#\(w.vmas[v].id) unmapped")
            } else {
                // The source was merged with the copy: unmap only the old range.
                unmapForFixed(old, old + len)
                step("unmap_source_vma", "[\(hex(old)), \(hex(old + len))) unmapped from V#\(w.vmas[v].id)")
            }
            mmapUnlock()
            finishOp()
        default:
            preconditionFailure("mremap pc \(t.pc)")
        }
    }

    /// Splits `v` at `at` and returns the part above (the original VMA keeps it).
    private mutating func splitOff(_ v: Int, at: UInt64, keepAbove: Bool) -> Int {
        _ = splitVMA(v, at: at, newBelow: true, race: .anonTestBeforeLock)
        return v
    }
}
