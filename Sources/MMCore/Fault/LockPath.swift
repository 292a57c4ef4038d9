/// Which lock a fault runs under (docs/KERNEL-MODEL.md §4.2–4.4, §4.9–4.12, §9.3).
///
/// The pipeline is `do_user_addr_fault()` of arch/x86/mm/fault.c: a user fault
/// first tries the per-VMA lock (`lock_vma_under_rcu()`); a lookup failure or a
/// handler's VM_FAULT_RETRY falls back to `mmap_read_lock` via
/// `lock_mm_and_find_vma()`, retrying with FAULT_FLAG_TRIED while handlers ask
/// for it. Every per-version difference is a `KernelModel` field.
extension Simulation {
    /// Models do_user_addr_fault() (arch/x86/mm/fault.c) from the lock decision
    /// on: the per-VMA attempt, the access check, handle_mm_fault() and the
    /// mmap_lock fallback loop. Fills `ctx.code/stat/outcome/steps`.
    func doUserAddrFault(_ ctx: inout FaultContext) {
        if ctx.gup {
            ctx.code = model.perVMALock ? .KERNEL_MODE : .LEGACY
            ctx.step("__get_user_pages", "mmap_lock", "kernel-initiated fault: no FAULT_FLAG_VMA_LOCK")
        } else if !model.perVMALock {
            ctx.code = .LEGACY
        } else if ctx.mode == .kernel {
            ctx.code = .KERNEL_MODE
            ctx.step("do_user_addr_fault", "mmap_lock", LockCode.KERNEL_MODE.reason)
        } else if vmaLockAttempt(&ctx) {
            return
        }
        mmapLockPath(&ctx)
    }

    /// The per-VMA attempt of do_user_addr_fault(). Returns true when the fault
    /// was finished under the VMA lock, false when it falls back.
    private func vmaLockAttempt(_ ctx: inout FaultContext) -> Bool {
        ctx.vmaAttempt = true
        guard let vma = lockVMAUnderRCU(&ctx) else {
            ctx.stat = .abort
            return false
        }
        if accessError(ctx.pte, ctx.access, vma, tracing: ctx.tracing) {
            if model.accessErrorUnderVMALock {
                // 6.10+: bad_area_access_error() under the VMA lock, counted as success.
                trace(ctx.tracing, "do_user_addr_fault", "access_error under the VMA lock: SIGSEGV/SEGV_ACCERR, no fallback")
                ctx.step("access_error", "sigsegv", "SEGV_ACCERR under the VMA lock")
                ctx.code = .ACCESS_ERROR_SEGV
                ctx.stat = .success
                ctx.outcome = .SIGSEGV
                ctx.siCode = .SEGV_ACCERR
                ctx.vma = vma
                return true
            }
            // 6.4: vma_end_read() and retry under mmap_lock, where SIGSEGV is raised; no counter.
            trace(ctx.tracing, "do_user_addr_fault", "access_error: vma_end_read(), fall back to mmap_lock")
            ctx.step("access_error", "fallback", LockCode.ACCESS_ERROR.reason)
            ctx.code = .ACCESS_ERROR
            ctx.stat = nil
            return false
        }
        ctx.flags.insert(.vmaLock)
        let r = handleMMFault(&ctx, vma)
        ctx.flags.remove(.vmaLock)
        if !r.contains(.retry) {
            ctx.code = ctx.trylocked ? .VMA_OK_TRYLOCK : .VMA_OK
            ctx.stat = .success
            ctx.vma = vma
            applyFaultResult(&ctx, r)
            return true
        }
        // The handler released the VMA lock and asked for a retry under mmap_lock.
        let why = ctx.retryCode ?? .IO_RETRY
        ctx.code = why
        ctx.stat = .retry
        ctx.step("handle_mm_fault", "retry", why.reason)
        if r.contains(.major) { ctx.flags.insert(.tried) }
        trace(ctx.tracing, "do_user_addr_fault", "VM_FAULT_RETRY under the VMA lock (\(why.rawValue)): retry under mmap_lock\(r.contains(.major) ? " with FAULT_FLAG_TRIED" : "")")
        return false
    }

    /// Models lock_vma_under_rcu() (mm/mmap_lock.c in 6.15+, mm/memory.c
    /// before): find the VMA covering the address and read-lock it, with the
    /// lookup-time checks of the model. nil = fall back (`ctx.code` says why).
    func lockVMAUnderRCU(_ ctx: inout FaultContext) -> VMA? {
        var retried = false
        let addr = ctx.address
        while true {
            guard let vma = ctx.mm.vmas.find(containing: ctx.address) else {
                return lookupFail(&ctx, .NO_VMA, "no VMA covers \(hex(addr))")
            }
            if model.lookupRequiresAnonymous && !vma.isAnonymous {
                return lookupFail(&ctx, .NOT_ANON, "\(vma.rangeDescription) has vm_ops: only anonymous VMAs are supported")
            }
            // ≤6.4.8: the anon_vma test runs before vma_start_read(); 657b5146955e
            // (6.4.9) moved it behind the lock (docs/CONCURRENCY.md §2.1).
            let noAnonVMA = model.lookupRequiresAnonVMA && vma.isAnonymous && vma.anonVMA == nil
            if noAnonVMA && !model.anonCheckAfterVMALock {
                return lookupFail(&ctx, .NO_ANON_VMA, "\(vma.rangeDescription) has no anon_vma: find_mergeable_anon_vma() would walk unlocked neighbours")
            }
            // vma_start_read(): write-locked in the current mmap_lock write period?
            if isWriteLocked(ctx.mm, vma) || ctx.inject.vmaWriteLocked {
                return lookupFail(&ctx, .VMA_WRITE_LOCKED, "\(vma.rangeDescription) is write-locked (vm_lock_seq == mm_lock_seq)")
            }
            if noAnonVMA {
                return lookupFail(&ctx, .NO_ANON_VMA, "\(vma.rangeDescription) has no anon_vma (tested under the VMA lock): vma_end_read()")
            }
            if ctx.inject.vmaDetachedDuringLookup && !retried && model.lookupDetectsRecycledVMA {
                // 6.15+: vm_refcnt was 0 → -EAGAIN, the lookup is retried.
                retried = true
                lookupMiss(&ctx, vma)
                continue
            }
            if ctx.inject.vmaRecycled && model.lookupDetectsRecycledVMA {
                return lookupFail(&ctx, .VMA_RECYCLED, "the VMA object now belongs to another mm")
            }
            if model.lookupRejectsUffdArmed && !vma.flags.intersection([.UFFD_MISSING, .UFFD_WP]).isEmpty {
                return lookupFail(&ctx, .UFFD_ARMED, "userfaultfd is armed on \(vma.rangeDescription)")
            }
            if ctx.inject.vmaRangeChanged {
                return lookupFail(&ctx, .RANGE_CHANGED, "\(hex(addr)) no longer inside the locked VMA")
            }
            if ctx.inject.vmaDetachedDuringLookup && !retried {
                // ≤6.14: vma->detached checked after the lock → VMA_LOCK_MISS, retry.
                retried = true
                lookupMiss(&ctx, vma)
                continue
            }
            ctx.step("lock_vma_under_rcu", "locked")
            trace(ctx.tracing, "lock_vma_under_rcu", TraceNote("%x-%x read-locked", vma.start, vma.end))
            return vma
        }
    }

    private func lookupFail(_ ctx: inout FaultContext, _ code: LockCode, _ note: @autoclosure () -> String) -> VMA? {
        ctx.code = code
        ctx.step("lock_vma_under_rcu", "abort", code.reason)
        trace(ctx.tracing, "lock_vma_under_rcu", "\(code.rawValue): \(note()) → mmap_lock")
        return nil
    }

    private func lookupMiss(_ ctx: inout FaultContext, _ vma: VMA) {
        ctx.missed = true
        ctx.step("lock_vma_under_rcu", "miss", "vma_detached")
        trace(ctx.tracing, "lock_vma_under_rcu", "\(vma.rangeDescription) detached after lookup: VMA_LOCK_MISS, retry the walk")
    }

    /// The mmap_lock half of do_user_addr_fault(): lock_mm_and_find_vma(),
    /// access_error(), handle_mm_fault() and the RETRY loop with FAULT_FLAG_TRIED.
    func mmapLockPath(_ ctx: inout FaultContext) {
        var attempt = 0
        while true {
            attempt += 1
            guard let vma = lockMMAndFindVMA(&ctx) else {
                ctx.outcome = .SIGSEGV
                ctx.siCode = .SEGV_MAPERR
                ctx.vma = nil
                trace(ctx.tracing, "bad_area", "no VMA for \(hex(ctx.address)): SIGSEGV/SEGV_MAPERR")
                return
            }
            ctx.vma = vma
            if !ctx.gup && accessError(ctx.pte, ctx.access, vma, tracing: ctx.tracing) {
                ctx.outcome = .SIGSEGV
                ctx.siCode = .SEGV_ACCERR
                ctx.step("access_error", "sigsegv", "SEGV_ACCERR")
                trace(ctx.tracing, "bad_area_access_error", "mmap_read_unlock(); SIGSEGV/SEGV_ACCERR")
                return
            }
            let r = handleMMFault(&ctx, vma)
            if r.contains(.retry) && attempt < 4 {
                ctx.flags.insert(.tried)
                ctx.step("handle_mm_fault", "retry", ctx.retryCode?.reason)
                trace(ctx.tracing, "do_user_addr_fault", "VM_FAULT_RETRY under mmap_lock: lock dropped, retry with FAULT_FLAG_TRIED")
                continue
            }
            applyFaultResult(&ctx, r)
            return
        }
    }

    /// Models lock_mm_and_find_vma() (mm/mmap_lock.c, 6.4.1+/6.5+) and, for
    /// models without it, the older find_vma() + expand_stack() under
    /// mmap_read_lock. Returns the VMA with mmap_lock held for read, or nil.
    func lockMMAndFindVMA(_ ctx: inout FaultContext) -> VMA? {
        let fn = model.stackExpandUnderWriteLock ? "lock_mm_and_find_vma" : "find_vma"
        if ctx.inject.mmapLockContended {
            ctx.step("mmap_read_trylock", "contended", "waiting for mmap_read_lock")
            trace(ctx.tracing, "get_mmap_lock_carefully", "mmap_read_trylock() failed: sleeping in mmap_read_lock()")
        }
        guard let vma = ctx.mm.vmas.findVMA(ctx.address) else {
            ctx.step(fn, "fail", "no_vma")
            return nil
        }
        if vma.start <= ctx.address {
            ctx.step(fn, "locked")
            trace(ctx.tracing, "lock_mm_and_find_vma",
                  TraceNote("mmap_read_lock held; %x-%x covers %x", vma.start, vma.end, ctx.address))
            return vma
        }
        guard vma.flags.contains(.GROWSDOWN), !ctx.gup else {
            ctx.step(fn, "fail", "no_vma")
            trace(ctx.tracing, "lock_mm_and_find_vma", "\(hex(ctx.address)) is in a gap below \(vma.rangeDescription) (not VM_GROWSDOWN)")
            return nil
        }
        if model.stackExpandUnderWriteLock {
            ctx.step("mmap_write_lock", "locked", "stack_expansion")
            trace(ctx.tracing, "lock_mm_and_find_vma", "address below VM_GROWSDOWN \(vma.rangeDescription): drop read lock, take mmap_write_lock to expand")
        } else {
            ctx.step("expand_stack", "read_lock", "stack_expansion")
            trace(ctx.tracing, "expand_stack", "address below VM_GROWSDOWN \(vma.rangeDescription): expanding under mmap_read_lock")
        }
        guard expandDownwards(&ctx, vma, ctx.address) else {
            ctx.step(fn, "fail", "expand_failed")
            if model.stackExpandUnderWriteLock { mmapWriteUnlock(ctx.mm) }
            return nil
        }
        if model.stackExpandUnderWriteLock {
            // mmap_write_downgrade() → vma_end_write_all(): the grown VMA is unlocked again.
            mmapWriteUnlock(ctx.mm)
            ctx.step("mmap_write_downgrade", "locked")
        } else {
            ctx.step(fn, "locked")
        }
        return vma
    }

    /// Turns a final vm_fault_t into the signal the task receives
    /// (mm_fault_error() in arch/x86/mm/fault.c).
    func applyFaultResult(_ ctx: inout FaultContext, _ r: VMFault) {
        if r.contains(.sigbus) || r.contains(.oom) {
            ctx.outcome = .SIGBUS
            ctx.siCode = .BUS_ADRERR
        } else if r.contains(.sigsegv) {
            ctx.outcome = .SIGSEGV
            ctx.siCode = .SEGV_MAPERR
        } else if r.contains(.retry) {
            // The retry budget is exhausted only if a handler keeps asking; treat as handled.
            ctx.outcome = .handled
        }
    }
}
