/// Lock operations of the engine (docs/CONCURRENCY.md §1): each records a
/// write of the lock's location and parks the running thread when it must
/// wait. A release hands the lock to the waiter(s) it wakes, so a parked
/// thread resumes holding what it waited for.
extension Machine {
    // MARK: mmap_lock (§1.1: one FIFO queue, trylock fails with waiters)

    /// mmap_read_lock() / mmap_write_lock(). Returns false when parked.
    mutating func mmapLock(write: Bool) -> Bool {
        rec.writes.append(.mmapLock)
        let m = w.mmap
        let free = write ? (m.writer == nil && m.readers.isEmpty && m.queue.isEmpty)
                         : (m.writer == nil && m.queue.isEmpty)
        if free {
            if write { w.mmap.writer = cur } else { w.mmap.readers.append(cur) }
            return true
        }
        w.mmap.queue.append(MmapLock.Waiter(thread: cur, write: write))
        t.blocked = .mmap(write: write)
        return false
    }

    /// An mmap_lock writer's first step: mmap_write_lock(), continuing at `next`.
    mutating func writeLockStep(_ note: String, next: Int) {
        step("mmap_write_lock", note)
        t.pc = next
        _ = mmapLock(write: true)
    }

    /// mmap_read_trylock(): fails while a writer holds the lock or anyone waits (RWSEM_READ_FAILED_MASK).
    mutating func mmapReadTrylock() -> Bool {
        rec.writes.append(.mmapLock)
        guard w.mmap.writer == nil, w.mmap.queue.isEmpty else { return false }
        w.mmap.readers.append(cur)
        return true
    }

    /// mmap_read_unlock() / mmap_write_unlock(); the writer's release ends
    /// every VMA write lock (vma_end_write_all(): mm_lock_seq++).
    mutating func mmapUnlock() {
        rec.writes.append(.mmapLock)
        if w.mmap.writer == cur {
            w.mmap.writer = nil
            w.mmLockSeq += 1
        } else if let i = w.mmap.readers.firstIndex(of: cur) {
            w.mmap.readers.remove(at: i)
        }
        grantMmap()
    }

    /// mmap_write_downgrade(): write → read without release; vma_end_write_all().
    mutating func mmapDowngrade() {
        rec.writes.append(.mmapLock)
        guard w.mmap.writer == cur else { return }
        w.mmap.writer = nil
        w.mmap.readers.append(cur)
        w.mmLockSeq += 1
        grantMmap()
    }

    /// Wakes the queue head, and the readers directly behind a reader.
    private mutating func grantMmap() {
        while let head = w.mmap.queue.first {
            if head.write {
                guard w.mmap.writer == nil, w.mmap.readers.isEmpty else { return }
                w.mmap.writer = head.thread
            } else {
                guard w.mmap.writer == nil else { return }
                w.mmap.readers.append(head.thread)
            }
            w.mmap.queue.removeFirst()
            th[head.thread].blocked = nil
            if head.write { return }
        }
    }

    // MARK: VMA locks (§1.2–1.4)

    enum ReadLock { case locked, writeLocked, again }

    /// vma_start_read(): fails when write-locked in this period or a writer
    /// waits (rwsem: down_read_trylock fails; refcount: the writer offset);
    /// refcount form: a detached VMA (vm_refcnt 0) gives -EAGAIN. One atomic step.
    mutating func vmaStartRead(_ v: Int) -> ReadLock {
        rec.writes.append(.vmaLock(v))
        rec.reads.append(.mmapLock)   // vm_lock_seq == mm_lock_seq
        let e = w.vmas[v]
        if w.isWriteLocked(v) { return .writeLocked }
        if model.vmaLockImpl == .refcount && e.detached && cfg.mutant != .noDetachCheck { return .again }
        if e.writerWaiting != nil { return .writeLocked }
        w.vmas[v].readers.append(cur)
        t.readLocked = v
        return .locked
    }

    /// vma_end_read(): the last reader wakes a writer parked in vma_start_write().
    mutating func vmaEndRead(_ v: Int) {
        rec.writes.append(.vmaLock(v))
        w.vmas[v].readers.removeAll { $0 == cur }
        t.readLocked = nil
        if w.vmas[v].readers.isEmpty, let u = w.vmas[v].writerWaiting {
            w.vmas[v].writerWaiting = nil
            w.vmas[v].lockSeq = w.mmLockSeq
            th[u].blocked = nil
        }
    }

    /// vma_start_write() (mmap_lock held for write): nothing if already
    /// write-locked in this period; else wait for the readers, then set
    /// vm_lock_seq. No-op without per-VMA locks. Returns false when parked.
    mutating func vmaStartWrite(_ v: Int) -> Bool {
        guard model.perVMALock else { return true }
        rec.writes.append(.vmaLock(v))
        if w.isWriteLocked(v) { return true }
        if w.vmas[v].readers.allSatisfy({ $0 == cur }) {
            w.vmas[v].lockSeq = w.mmLockSeq
            return true
        }
        w.vmas[v].writerWaiting = cur
        t.blocked = .vmaWrite(v)
        return false
    }

    // MARK: anon_vma root rwsem and page_table_lock (§1.6: plain mutexes)

    /// anon_vma_lock_write(a): takes a's root. Returns false when parked.
    mutating func avLock(_ a: Int, race: Race) -> Bool {
        useAV(a, race: race)
        let r = w.avs[a].root
        rec.writes.append(.avLock(r))
        t.lockedAV = r
        if w.avs[r].lockHolder == nil {
            w.avs[r].lockHolder = cur
            return true
        }
        t.blocked = .avLock(r)
        return false
    }

    /// anon_vma_unlock_write(): releases the root and wakes a waiter.
    mutating func avUnlock() {
        guard let r = t.lockedAV else { return }
        rec.writes.append(.avLock(r))
        t.lockedAV = nil
        w.avs[r].lockHolder = nil
        if let u = th.firstIndex(where: { $0.blocked == .avLock(r) }) {
            w.avs[r].lockHolder = u
            th[u].blocked = nil
        }
    }

    /// spin_lock(&mm->page_table_lock). Returns false when parked.
    mutating func ptlLock() -> Bool {
        rec.writes.append(.ptl)
        if w.ptl == nil {
            w.ptl = cur
            return true
        }
        t.blocked = .pageTableLock
        return false
    }

    /// spin_unlock(&mm->page_table_lock): hands it to a waiter.
    mutating func ptlUnlock() {
        rec.writes.append(.ptl)
        w.ptl = nil
        if let u = th.firstIndex(where: { $0.blocked == .pageTableLock }) {
            w.ptl = u
            th[u].blocked = nil
        }
    }

    // MARK: RCU (§1.5)

    /// rcu_read_lock(): opens a read section, stamped with a new clock tick.
    mutating func rcuLock() {
        rec.writes.append(.rcu)
        w.clock += 1
        t.rcuSince = w.clock
    }

    /// rcu_read_unlock(): closes the read section.
    mutating func rcuUnlock() {
        rec.writes.append(.rcu)
        t.rcuSince = nil
    }

    /// Frees queued before the oldest open read section may complete.
    var gpCutoff: Int { th.compactMap(\.rcuSince).min() ?? Int.max }

    /// Whether the `rcu` pseudo-thread's `gp` step is enabled.
    var gpEnabled: Bool {
        let cut = gpCutoff
        return w.pending.contains { $0.at < cut }
    }

    /// rcu.gp: a grace period ends; everything queued before the oldest open
    /// read section is freed.
    mutating func gracePeriod() {
        rec.writes.append(.rcu)
        let cut = gpCutoff
        var keep: [World.PendingFree] = []
        for p in w.pending {
            guard p.at < cut else { keep.append(p); continue }
            switch p.object {
            case let .vma(v):
                w.vmas[v].freed = true
                w.vmas[v].pendingFree = false
                rec.writes.append(.vma(v, .layout))
            case let .node(n):
                w.tree.replaced[n]?.freed = true
                rec.writes.append(.node(n))
            }
        }
        w.pending = keep
    }

    // MARK: wait-for graph (§5.2)

    /// Edges T → U: T waits for a lock U holds.
    func waitEdges() -> [(from: Int, to: Int, lock: String)] {
        var out: [(Int, Int, String)] = []
        for (i, s) in th.enumerated() {
            guard let b = s.blocked else { continue }
            let name = b.describe(w)
            switch b {
            case .mmap:
                var holders = w.mmap.readers + (w.mmap.writer.map { [$0] } ?? [])
                if holders.isEmpty, let pos = w.mmap.queue.firstIndex(where: { $0.thread == i }), pos > 0 {
                    holders = [w.mmap.queue[pos - 1].thread]
                }
                for h in holders where h != i { out.append((i, h, name)) }
            case let .vmaWrite(v):
                for r in w.vmas[v].readers where r != i { out.append((i, r, name)) }
            case let .avLock(r):
                if let h = w.avs[r].lockHolder, h != i { out.append((i, h, name)) }
            case .pageTableLock:
                if let h = w.ptl, h != i { out.append((i, h, name)) }
            }
        }
        return out
    }

    /// A cycle of the wait-for graph (thread indices and what each waits for), if any.
    func waitCycle() -> (threads: [Int], locks: [String])? {
        let edges = waitEdges()
        for start in th.indices {
            var path: [Int] = [start]
            var locks: [String] = []
            var at = start
            while let e = edges.first(where: { $0.from == at }) {
                locks.append(e.lock)
                if e.to == start { return (path, locks) }
                if path.contains(e.to) { break }
                path.append(e.to)
                at = e.to
            }
        }
        return nil
    }

    /// The locks thread `i` holds, as strings.
    func locksHeld(_ i: Int) -> [String] {
        var out: [String] = []
        if w.mmap.writer == i { out.append("mmap_lock(write)") }
        if w.mmap.readers.contains(i) { out.append("mmap_lock(read)") }
        for (v, e) in w.vmas.enumerated() {
            if e.readers.contains(i) { out.append("V#\(e.id) read") }
            if e.mm == 0 && !e.freed && w.isWriteLocked(v) && w.mmap.writer == i { out.append("V#\(e.id) write") }
        }
        for a in w.avs where a.lockHolder == i { out.append("av\(a.id) rwsem") }
        if w.ptl == i { out.append("page_table_lock") }
        if th[i].rcuSince != nil { out.append("rcu_read_lock") }
        return out
    }
}
