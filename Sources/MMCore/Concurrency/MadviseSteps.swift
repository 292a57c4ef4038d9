/// madvise(MADV_DONTNEED) as steps (docs/CONCURRENCY.md §2.10):
/// madvise_walk_vmas() under mmap_read_lock: find_vma_prev() loads the leaf
/// (mas_walk) and reads the previous slot (mas_prev) **outside RCU** — the
/// StackRot reader — then zap_page_range_single() per VMA (mm/madvise.c).
/// [6.17+] try_vma_read_lock() first: lock_vma_under_rcu() at the start and,
/// when the range stays inside that VMA, the zap under its read lock alone;
/// otherwise mmap_read_lock() and the walk above.
extension Machine {
    enum MadvisePC {
        static let lookup = 0, startRead = 1, zapLocked = 2
        static let mmapLock = 10, loadNode = 11, readPrev = 12, zap = 13
    }

    /// One step of madvise(MADV_DONTNEED): madvise_walk_vmas() → zap_page_range_single() (mm/madvise.c).
    mutating func madviseStep(_ addr: UInt64, _ length: UInt64) {
        let end = addr &+ pageAlign(length)
        if t.pc == MadvisePC.lookup && !model.madviseDontneedUnderVMALock { t.pc = MadvisePC.mmapLock }
        switch t.pc {
        case MadvisePC.lookup:
            // lock_vma_under_rcu(mm, start): the walk under rcu_read_lock().
            rcuLock()
            readTree(race: .stackRot)
            guard let v = w.find(containing: addr) else {
                step("try_vma_read_lock", "no VMA at \(hex(addr)) under RCU: take mmap_read_lock")
                rcuUnlock()
                return madviseFallback()
            }
            t.v = v
            step("try_vma_read_lock", "lock_vma_under_rcu: mas_walk found V#\(w.vmas[v].id)")
            t.pc = MadvisePC.startRead
        case MadvisePC.startRead:
            madviseVMALock(addr, end)
        case MadvisePC.zapLocked:
            let v = t.v!
            rec.reads.append(.vma(v, .layout))
            zap(0, addr, end)
            step("zap_page_range_single", "[\(hex(addr)), \(hex(end))) zapped under V#\(w.vmas[v].id)'s read lock; vma_end_read")
            vmaEndRead(v)
            finishOp()
        case MadvisePC.mmapLock:
            step("mmap_read_lock", "madvise(MADV_DONTNEED)")
            t.pc = MadvisePC.loadNode
            _ = mmapLock(write: false)
        case MadvisePC.loadNode:
            loadNode(race: .stackRot)
            step("find_vma_prev", "mas_walk at \(hex(addr)): leaf node#\(t.masNode) loaded, no RCU")
            t.pc = MadvisePC.readPrev
        case MadvisePC.readPrev:
            readLoadedNode(race: .stackRot)
            t.list = t.mas.compactMap { e in e.vma.flatMap { e.start < end && e.end > addr ? $0 : nil } }
            step("find_vma_prev", "mas_prev on node#\(t.masNode): \(t.list.count) VMA(s) in range")
            t.pc = MadvisePC.zap
        case MadvisePC.zap:
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

    /// vma_start_read() and try_vma_read_lock()'s checks: the VMA still covers
    /// the start (lock_vma_under_rcu()) and the range ends inside it.
    private mutating func madviseVMALock(_ addr: UInt64, _ end: UInt64) {
        let v = t.v!
        switch vmaStartRead(v) {
        case .writeLocked:
            step("try_vma_read_lock", "V#\(w.vmas[v].id) is write-locked: take mmap_read_lock")
            rcuUnlock()
            return madviseFallback()
        case .again:
            step("try_vma_read_lock", "V#\(w.vmas[v].id) is detached: -EAGAIN, walk again")
            rcuUnlock()
            t.retries += 1
            t.pc = t.retries > 3 ? MadvisePC.mmapLock : MadvisePC.lookup
            return
        case .locked:
            rcuUnlock()
        }
        rec.reads.append(.vma(v, .layout))
        let e = w.vmas[v]
        guard e.contains(addr), end <= e.end else {
            step("try_vma_read_lock", "[\(hex(addr)), \(hex(end))) leaves V#\(e.id): vma_end_read, take mmap_read_lock")
            vmaEndRead(v)
            return madviseFallback()
        }
        step("try_vma_read_lock", "V#\(e.id) read-locked, the range is inside it")
        t.pc = MadvisePC.zapLocked
    }

    /// try_vma_read_lock()'s fallback: mmap_read_lock() (the next step) and the walk.
    private mutating func madviseFallback() {
        t.v = nil
        t.pc = MadvisePC.mmapLock
    }
}
