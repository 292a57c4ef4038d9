/// A user page fault as steps (docs/CONCURRENCY.md §2.1–2.2): the per-VMA
/// attempt of do_user_addr_fault() (arch/x86/mm/fault.c) through
/// lock_vma_under_rcu() (mm/memory.c, mm/mmap_lock.c), the mmap_lock path,
/// and the handler's folio allocation and PTE store (mm/memory.c).
extension Machine {
    /// Program counters of the fault op.
    enum FaultPC {
        static let lookup = 0, startRead = 1
        static let mmapLock = 10, findVMA = 11, writeLock = 12, findAgain = 13
        static let decide = 20, allocFolio = 21, install = 22
        static let prepare = 30, prepareLocked = 31
    }

    /// What the handler will do at the faulting PTE.
    enum HandlerPlan {
        /// The PTE already allows the access: no fault.
        case none
        /// do_anonymous_page() / do_cow_fault() / wp_page_copy(): a new anonymous folio (needs anon_vma).
        case newAnon
        /// do_wp_page() reuse: the exclusive anonymous folio becomes writable.
        case reuse
        /// do_anonymous_page() read: the zero page.
        case zero
        /// A page-cache folio (read fault on a file mapping, or a shared write).
        case file
    }

    /// handle_pte_fault()'s choice (mm/memory.c): do_anonymous_page(), do_wp_page() or a file fault.
    func faultPlan(_ v: Int, _ addr: UInt64, _ access: Access) -> HandlerPlan {
        let e = w.vmas[v]
        if let p = w.pte(0, addr >> 12) {
            let pte = w.ptes[p]
            if access != .write || pte.writable { return .none }
            let f = w.folios[pte.folio]
            if e.flags.contains(.SHARED) { return .file }
            return f.anon && f.mapcount <= 1 ? .reuse : .newAnon
        }
        if access == .write && !e.flags.contains(.SHARED) { return .newAnon }
        return e.anonymous ? .zero : .file
    }

    /// access_error() (arch/x86/mm/fault.c).
    func accessError(_ v: Int, _ access: Access) -> Bool {
        let f = w.vmas[v].flags
        switch access {
        case .write: return !f.contains(.WRITE)
        case .read, .exec: return f.intersection([.READ, .WRITE, .EXEC]).isEmpty
        }
    }

    /// One step of `fault(addr, access)`.
    mutating func faultStep(_ addr: UInt64, _ access: Access) {
        switch t.pc {
        case FaultPC.lookup:
            // The MMU first: a PTE that allows the access takes no fault.
            if let p = w.pte(0, addr >> 12), access != .write || w.ptes[p].writable {
                rec.reads.append(.pte(0, addr >> 12))
                step("access", "PTE allows the access: no fault")
                return finishOp()
            }
            guard model.perVMALock else {
                t.code = .LEGACY
                return faultMmapPath()
            }
            lockVMAUnderRCULookup(addr)
        case FaultPC.startRead:
            lockVMAUnderRCULock(addr, access)
        case FaultPC.mmapLock:
            faultMmapPath()
        case FaultPC.findVMA:
            faultFindVMA(addr)
        case FaultPC.writeLock:
            writeLockStep("lock_mm_and_find_vma(): retake for write to expand the stack", next: FaultPC.findAgain)
        case FaultPC.findAgain:
            faultFindAgain(addr)
        case FaultPC.decide:
            handlerDecide(addr, access)
        case FaultPC.allocFolio:
            handlerAllocFolio()
        case FaultPC.install:
            handlerInstall(addr, access)
        case FaultPC.prepare, FaultPC.prepareLocked:
            vmfAnonPrepare()
        case PreparePC.first...PreparePC.last:
            anonVMAPrepareStep()
        case StackPC.first...StackPC.last:
            expandDownwardsStep(addr)
        default:
            preconditionFailure("fault pc \(t.pc)")
        }
    }

    /// Step 1 of lock_vma_under_rcu(): rcu_read_lock(), the tree walk, and
    /// the checks made before vma_start_read(): [M1, 6.4–6.4.9] not anonymous
    /// → NOT_ANON; [M1, 6.4–6.4.8] anon_vma NULL → NO_ANON_VMA (patch 26/35,
    /// moved behind the lock by 657b5146955e).
    private mutating func lockVMAUnderRCULookup(_ addr: UInt64) {
        t.perVMA = true
        rcuLock()
        readTree(race: cfg.prepareRace)
        guard let v = w.find(containing: addr) else {
            step("lock_vma_under_rcu", "no VMA covers \(hex(addr)): NO_VMA")
            rcuUnlock()
            return fallback(.NO_VMA)
        }
        t.v = v
        rec.reads.append(.vma(v, .file))
        if model.lookupRequiresAnonymous && !w.vmas[v].anonymous {
            step("lock_vma_under_rcu", "V#\(w.vmas[v].id) is not anonymous: NOT_ANON")
            rcuUnlock()
            return fallback(.NOT_ANON)
        }
        t.testedBeforeLock = false
        if model.lookupRequiresAnonVMA && !model.anonCheckAfterVMALock && w.vmas[v].anonymous {
            readVMA(v, .anonVMA, race: .anonTestBeforeLock)
            if w.vmas[v].anonVMA == nil {
                step("lock_vma_under_rcu", "V#\(w.vmas[v].id)->anon_vma is NULL before the lock: NO_ANON_VMA")
                rcuUnlock()
                return fallback(.NO_ANON_VMA)
            }
            t.testedBeforeLock = true
        }
        step("lock_vma_under_rcu", "mas_walk found V#\(w.vmas[v].id) under rcu_read_lock")
        t.pc = FaultPC.startRead
    }

    /// vma_start_read() and the checks under the lock, rcu_read_unlock(),
    /// access_error().
    private mutating func lockVMAUnderRCULock(_ addr: UInt64, _ access: Access) {
        let v = t.v!
        let id = w.vmas[v].id
        switch vmaStartRead(v) {
        case .writeLocked:
            step("vma_start_read", "V#\(id) is write-locked or a writer waits: VMA_WRITE_LOCKED")
            rcuUnlock()
            return fallback(.VMA_WRITE_LOCKED)
        case .again:
            // 6.15+: vm_refcnt 0 (detached) → -EAGAIN: VMA_LOCK_MISS, walk again.
            step("vma_start_read", "V#\(id) vm_refcnt is 0 (detached): -EAGAIN, retry the walk")
            rcuUnlock()
            return retryLookup()
        case .locked:
            break
        }
        let e = w.vmas[v]
        if model.lookupRequiresAnonVMA && model.anonCheckAfterVMALock && e.anonymous {
            readVMA(v, .anonVMA, race: .anonTestBeforeLock)
            if e.anonVMA == nil {
                step("lock_vma_under_rcu", "V#\(id)->anon_vma is NULL under the lock: vma_end_read(), NO_ANON_VMA")
                vmaEndRead(v)
                rcuUnlock()
                return fallback(.NO_ANON_VMA)
            }
        }
        // 6.18: vma_start_read() succeeded, rcu_read_unlock() comes before the range check.
        if model.rangeCheckAfterRCUUnlock { rcuUnlock() }
        // The range is checked before the detached flag (lock_vma_under_rcu(),
        // 6.4 – 6.14): a VMA that munmap shrank and then detached is an
        // abort (fallback to mmap_lock), not a retry.
        rec.reads.append(.vma(v, .layout))
        if !e.contains(addr) {
            step("lock_vma_under_rcu", "V#\(id) no longer covers \(hex(addr)): RANGE_CHANGED")
            vmaEndRead(v)
            rcuUnlock()
            return fallback(.RANGE_CHANGED)
        }
        if model.vmaLockImpl == .rwsem && cfg.mutant != .noDetachCheck {
            rec.reads.append(.vma(v, .detached))
            if e.detached {
                step("lock_vma_under_rcu", "V#\(id) is detached: vma_end_read(), retry the walk")
                vmaEndRead(v)
                rcuUnlock()
                return retryLookup()
            }
        }
        rcuUnlock()
        if e.detached { fire(.D10, .detached, [.vma(v, .detached)]) }
        if accessError(v, access) {
            if model.accessErrorUnderVMALock {
                step("access_error", "SIGSEGV (SEGV_ACCERR) under the VMA lock")
                vmaEndRead(v)
                return finishFault(.ACCESS_ERROR_SEGV)
            }
            step("access_error", "vma_end_read(), retry under mmap_lock")
            vmaEndRead(v)
            return fallback(.ACCESS_ERROR)
        }
        if t.testedBeforeLock { fire(.D1r, .anonTestBeforeLock, [.vma(v, .anonVMA)]) }
        step("lock_vma_under_rcu", "V#\(id) read-locked")
        t.underVMALock = true
        t.pc = FaultPC.decide
    }

    /// lock_vma_under_rcu() met a detached VMA (-EAGAIN): walk the tree
    /// again; after three retries (the model's bound), the mmap_lock path.
    private mutating func retryLookup() {
        t.retries += 1
        t.v = nil
        t.pc = t.retries > 3 ? FaultPC.mmapLock : FaultPC.lookup
    }

    /// The per-VMA attempt gave up: remember why, go to the mmap_lock path.
    mutating func fallback(_ code: LockCode) {
        if t.code == nil { t.code = code }
        t.v = nil
        t.underVMALock = false
        t.pc = FaultPC.mmapLock
    }

    /// mmap_read_lock() (a failed mmap_read_trylock() followed by the blocking
    /// lock is one step: the outcome is the same).
    private mutating func faultMmapPath() {
        step(model.stackExpandUnderWriteLock ? "lock_mm_and_find_vma" : "mmap_read_lock", "mmap_read_lock()")
        t.pc = FaultPC.findVMA
        _ = mmapLock(write: false)
    }

    /// find_vma() (mt_find(): one RCU read section around the walk).
    private mutating func faultFindVMA(_ addr: UInt64) {
        rec.writes.append(.rcu)
        readTree(race: .stackRot)
        guard let v = w.findVMA(addr) else {
            step("find_vma", "no VMA at or above \(hex(addr)): SIGSEGV")
            mmapUnlock()
            return finishFault(nil, segv: true)
        }
        t.v = v
        rec.reads.append(.vma(v, .layout))
        if w.vmas[v].start <= addr {
            step("find_vma", "V#\(w.vmas[v].id) covers \(hex(addr)) under mmap_read_lock")
            t.pc = FaultPC.decide
            return
        }
        rec.reads.append(.vma(v, .flags))
        guard w.vmas[v].flags.contains(.GROWSDOWN) else {
            step("find_vma", "\(hex(addr)) is in a gap below V#\(w.vmas[v].id): SIGSEGV")
            mmapUnlock()
            return finishFault(nil, segv: true)
        }
        if model.stackExpandUnderWriteLock {
            step("lock_mm_and_find_vma", "below VM_GROWSDOWN V#\(w.vmas[v].id): mmap_read_unlock(), retake for write")
            mmapUnlock()
            t.pc = FaultPC.writeLock
        } else {
            step("find_vma", "below VM_GROWSDOWN V#\(w.vmas[v].id): expand_stack() under mmap_read_lock")
            t.pc = StackPC.first
        }
    }

    /// lock_mm_and_find_vma() under the write lock: find_vma() again.
    private mutating func faultFindAgain(_ addr: UInt64) {
        readTree(race: .stackRot)
        guard let v = w.findVMA(addr) else {
            step("lock_mm_and_find_vma", "no VMA any more: SIGSEGV")
            mmapUnlock()
            return finishFault(nil, segv: true)
        }
        t.v = v
        if w.vmas[v].start <= addr {
            step("lock_mm_and_find_vma", "V#\(w.vmas[v].id) covers \(hex(addr)) now: mmap_write_downgrade()")
            mmapDowngrade()
            t.pc = FaultPC.decide
        } else if w.vmas[v].flags.contains(.GROWSDOWN) {
            step("lock_mm_and_find_vma", "expand V#\(w.vmas[v].id) under mmap_write_lock")
            t.pc = StackPC.first
        } else {
            step("lock_mm_and_find_vma", "gap: SIGSEGV")
            mmapUnlock()
            finishFault(nil, segv: true)
        }
    }

    /// Releases the lock the handler ran under.
    mutating func releaseFaultLock() {
        if t.underVMALock, let v = t.v { vmaEndRead(v) } else { mmapUnlock() }
    }

    /// The handler's decision (handle_pte_fault()): what the PTE needs and
    /// whether an anon_vma must be prepared first.
    private mutating func handlerDecide(_ addr: UInt64, _ access: Access) {
        let v = t.v!
        if !t.underVMALock && accessError(v, access) {
            step("access_error", "SIGSEGV (SEGV_ACCERR) under mmap_lock")
            mmapUnlock()
            return finishFault(nil, segv: true)
        }
        rec.reads.append(.pte(0, addr >> 12))
        switch faultPlan(v, addr, access) {
        case .none:
            step("handle_pte_fault", "PTE already allows the access (spurious)")
            releaseFaultLock()
            finishFault(nil)
        case .newAnon:
            readVMA(v, .anonVMA, race: cfg.prepareRace)
            if w.vmas[v].anonVMA == nil {
                step("handle_pte_fault", "anonymous folio needed, V#\(w.vmas[v].id)->anon_vma is NULL: prepare it")
                t.pc = FaultPC.prepare
            } else {
                step("handle_pte_fault", "anonymous folio needed, anon_vma av\(w.avs[w.vmas[v].anonVMA!].id) present")
                t.pc = FaultPC.allocFolio
            }
        case .reuse, .zero, .file:
            step("handle_pte_fault", "no anon_vma needed")
            t.pc = FaultPC.install
        }
    }

    /// folio allocation: folio_add_new_anon_rmap() will use vma->anon_vma as read now.
    private mutating func handlerAllocFolio() {
        let v = t.v!
        if t.pol == nil, let p = w.vmas[v].policy {
            // get_vma_policy(): vma->vm_policy, used by vma_alloc_folio() without a reference.
            readVMA(v, .policy, race: .policyReplace)
            t.pol = p
            step("get_vma_policy", "V#\(w.vmas[v].id)->vm_policy = mpol#\(w.policies[p].id)")
            return
        }
        if let p = t.pol { usePolicy(p) }
        readVMA(v, .anonVMA, race: cfg.prepareRace)
        guard let a = w.vmas[v].anonVMA else {
            // An mmap-path handler never sees this: the anon_vma was set under our lock.
            step("alloc_anon_folio", "anon_vma vanished: prepare again")
            t.pc = FaultPC.prepare
            return
        }
        useAV(a, race: cfg.prepareRace)
        t.folio = w.newFolio(anonVMA: a)
        step("alloc_anon_folio", "folio#\(w.folios[t.folio!].id) of av\(w.avs[a].id)")
        t.pc = FaultPC.install
    }

    /// Takes the PTE lock, stores the PTE (set_pte_at()), releases the PTE
    /// lock and the fault's lock.
    private mutating func handlerInstall(_ addr: UInt64, _ access: Access) {
        let v = t.v!
        let vpn = addr >> 12
        rec.reads.append(.pte(0, vpn))
        let plan = t.folio != nil ? HandlerPlan.newAnon : faultPlan(v, addr, access)
        writePTE(0, vpn)
        let old = w.pte(0, vpn)
        switch plan {
        case .none:
            step("handle_pte_fault", "PTE changed meanwhile: nothing to do")
        case .newAnon:
            let f = t.folio ?? w.newFolio(anonVMA: w.vmas[v].anonVMA)
            if let o = old {
                if w.folios[w.ptes[o].folio].anon { w.folios[w.ptes[o].folio].mapcount -= 1 }
                w.ptes.remove(at: o)
            }
            w.folios[f].mapcount = 1
            w.ptes.append(EPTE(mm: 0, vpn: vpn, folio: f, writable: true))
            step("set_pte_at", "\(hex(addr)) → folio#\(w.folios[f].id)\(old == nil ? "" : " (wp_page_copy)")")
        case .reuse:
            w.ptes[old!].writable = true
            step("do_wp_page", "\(hex(addr)): exclusive folio reused, PTE made writable")
        case .zero:
            if old == nil { w.ptes.append(EPTE(mm: 0, vpn: vpn, folio: 0, writable: false)) }
            step("do_anonymous_page", "\(hex(addr)) → zero page")
        case .file:
            if old == nil {
                let f = w.newFolio(anonVMA: nil)
                w.folios[f].mapcount = 1
                w.ptes.append(EPTE(mm: 0, vpn: vpn, folio: f, writable: access == .write))
            } else {
                w.ptes[old!].writable = true
            }
            step("do_fault", "\(hex(addr)) → page-cache folio")
        }
        releaseFaultLock()
        let code: LockCode = !model.perVMALock ? .LEGACY
            : t.code ?? (t.trylocked ? .VMA_OK_TRYLOCK : .VMA_OK)
        finishFault(t.code == nil && model.perVMALock ? code : (t.code ?? code))
    }

    /// Ends the fault op, recording its lock code.
    mutating func finishFault(_ code: LockCode?, segv: Bool = false) {
        let c = code ?? t.code ?? (model.perVMALock ? .VMA_OK : .LEGACY)
        t.faultCodes.append(c)
        finishOp()
    }
}
