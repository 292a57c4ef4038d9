/// expand_downwards() (mm/mmap.c; mm/vma.c from 6.12) as steps
/// (docs/CONCURRENCY.md §2.6): [6.3, v3, 6.4] under mmap_read_lock with
/// page_table_lock serialising growers and no VMA write lock (StackRot,
/// R-C2); [6.3.11, 6.4.1+] under mmap_write_lock; [6.4.3+] with
/// vma_start_write() on the stack.
extension Machine {
    enum StackPC {
        static let first = 60
        static let check = 60, lockVMA = 61, lockAV = 62, lockPTL = 63, grow = 64, unlock = 65
        static let last = 65
    }

    /// One step of expand_downwards() (mm/mmap.c; mm/vma.c from 6.12).
    mutating func expandDownwardsStep(_ addr: UInt64) {
        let s = t.v!
        let newStart = addr & ~UInt64(0xfff)
        let underRead = w.mmap.readers.contains(cur)
        switch t.pc {
        case StackPC.check:
            // find_vma_prev(): mas_walk + mas_prev, no RCU (the mmap_lock is held).
            loadNode(race: .stackRot)
            let slot = t.mas.firstIndex { $0.vma == s }
            let prev = slot.flatMap { i in t.mas[..<i].last { $0.vma != nil }?.vma }
            rec.reads.append(.vma(s, .layout))
            var refuse: String?
            if newStart < w.mmapMinAddr { refuse = "below mmap_min_addr" }
            if let p = prev {
                let pv = w.vmas[p]
                rec.reads.append(.vma(p, .flags))
                if !pv.flags.contains(.GROWSDOWN) && !pv.flags.intersection([.READ, .WRITE, .EXEC]).isEmpty
                    && newStart - pv.end < w.stackGuardGap { refuse = "within stack_guard_gap of V#\(pv.id)" }
            }
            let e = w.vmas[s]
            if e.end - newStart > Simulation.rlimitStack || (e.start - newStart) >> 12 > e.pgoff { refuse = "RLIMIT_STACK" }
            if let why = refuse {
                step("expand_downwards", "\(why): ENOMEM, SIGSEGV")
                mmapUnlock()
                return finishFault(nil, segv: true)
            }
            step("expand_downwards", "grow V#\(e.id) to \(hex(newStart))\(underRead ? " under mmap_read_lock" : "")")
            if e.anonVMA == nil {
                t.ret = StackPC.lockVMA
                t.pc = PreparePC.walk
            } else {
                t.pc = StackPC.lockVMA
            }
        case StackPC.lockVMA:
            t.pc = StackPC.lockAV
            if model.stackExpandWriteLocksVMA {
                step("vma_start_write", "c137381f71ae: write-lock the stack before growing it")
                if !vmaStartWrite(s) { return }
            }
            stackLockAV(s)
        case StackPC.lockAV:
            stackLockAV(s)
        case StackPC.lockPTL:
            step("spin_lock", "mm->page_table_lock: growers under the read lock serialise here")
            t.pc = StackPC.grow
            _ = ptlLock()
        case StackPC.grow:
            let e = w.vmas[s]
            let grow = (e.start - newStart) >> 12
            writeVMA(s, .layout, race: .stackNoVMALock)
            writeTree(race: .stackRot)
            let replaced = w.storeTree({ _ in }, layout: { $0.vmas[s].start = newStart; $0.vmas[s].pgoff -= grow })
            step("expand_downwards", "V#\(e.id).vm_start = \(hex(newStart))\(replaced ? "; a gap entry vanished: the maple node is replaced, the old one freed after a grace period" : "")")
            if underRead { ptlUnlock() }
            t.pc = StackPC.unlock
        case StackPC.unlock:
            avUnlock()
            if w.mmap.writer == cur {
                step("mmap_write_downgrade", "lock_mm_and_find_vma(): back to the read lock")
                mmapDowngrade()
            } else {
                step("anon_vma_unlock_write")
            }
            t.pc = FaultPC.decide
        default:
            preconditionFailure("stack pc \(t.pc)")
        }
    }

    /// anon_vma_lock_write() on the stack's anon_vma root, in expand_downwards().
    private mutating func stackLockAV(_ s: Int) {
        step("anon_vma_lock_write", "the stack's anon_vma root")
        t.pc = w.mmap.readers.contains(cur) ? StackPC.lockPTL : StackPC.grow
        _ = avLock(w.vmas[s].anonVMA!, race: .stackRot)
    }
}
