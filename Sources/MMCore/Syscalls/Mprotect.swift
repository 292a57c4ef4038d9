/// mprotect(2) (docs/KERNEL-MODEL.md §3.4): mm/mprotect.c `do_mprotect_pkey`,
/// `mprotect_fixup`, `change_protection`.
extension Simulation {
    /// mprotect(2) → do_mprotect_pkey(): validation, then every VMA of the
    /// range in address order through mprotect_fixup(). A hole ends the walk
    /// with ENOMEM after the earlier pieces were changed [observed E-13c].
    func sysMprotect(_ p: Process, addr: UInt64, length: UInt64, prot protIn: UInt64) -> SysReturn {
        let mm = p.mm
        let firstID = nextVMAId
        let grows = protIn & (Linux.PROT_GROWSDOWN | Linux.PROT_GROWSUP)
        let prot = protIn & ~(Linux.PROT_GROWSDOWN | Linux.PROT_GROWSUP)
        if grows == Linux.PROT_GROWSDOWN | Linux.PROT_GROWSUP {
            tracer.step("do_mprotect_pkey", "PROT_GROWSDOWN and PROT_GROWSUP together: EINVAL")
            return .error(.EINVAL)
        }
        if offsetInPage(addr) != 0 {
            tracer.step("do_mprotect_pkey", "start \(hex(addr)) not page aligned: EINVAL")
            return .error(.EINVAL)
        }
        if length == 0 { return .zero }
        let len = pageAlign(length)
        var start = addr
        let end = start &+ len
        if end <= start {
            tracer.step("do_mprotect_pkey", "range wraps: ENOMEM")
            return .error(.ENOMEM)
        }
        // arch_validate_prot(): only READ/WRITE/EXEC/SEM.
        if prot & ~(Linux.PROT_READ | Linux.PROT_WRITE | Linux.PROT_EXEC | Linux.PROT_SEM) != 0 {
            tracer.step("do_mprotect_pkey", "unknown prot bits \(hex(prot)): EINVAL")
            return .error(.EINVAL)
        }
        guard var vma = mm.vmas.findVMA(start), vma.start < end else {
            tracer.step("do_mprotect_pkey", "no VMA in [\(hex(start))-\(hex(end))): ENOMEM")
            return .error(.ENOMEM)
        }
        if grows & Linux.PROT_GROWSDOWN != 0 {
            start = vma.start
            if !vma.flags.contains(.GROWSDOWN) {
                tracer.step("do_mprotect_pkey", "PROT_GROWSDOWN on a VMA without VM_GROWSDOWN: EINVAL")
                return .error(.EINVAL)
            }
        } else {
            if vma.start > start {
                tracer.step("do_mprotect_pkey", "\(hex(start)) is not mapped: ENOMEM")
                return .error(.ENOMEM)
            }
            if grows & Linux.PROT_GROWSUP != 0 {
                // VM_GROWSUP does not exist on x86-64.
                tracer.step("do_mprotect_pkey", "PROT_GROWSUP: no VM_GROWSUP on x86-64: EINVAL")
                return .error(.EINVAL)
            }
        }
        var prev: VMA? = start > vma.start ? vma : mm.vmas.prev(of: vma)
        let newAccess = calcVMProtBits(prot)
        var nstart = start
        var tmp = vma.start
        var error: Errno?
        while true {
            if vma.start != tmp {
                tracer.step("do_mprotect_pkey", "hole at \(hex(tmp)): ENOMEM (earlier VMAs already changed)")
                error = .ENOMEM
                break
            }
            let newflags = newAccess.union(vma.flags.subtracting(.accessFlags))
            // Each requested access needs its VM_MAY* bit (VM_MAYx = VM_x << 4).
            let missing = newflags.rawValue & ~(newflags.rawValue >> 4) & VMFlags.accessFlags.rawValue
            if missing != 0 {
                tracer.step("do_mprotect_pkey", "\(vma.rangeDescription) lacks VM_MAY* for \(VMFlags(rawValue: missing).names.joined(separator: "|")): EACCES")
                error = .EACCES
                break
            }
            tmp = min(vma.end, end)
            switch mprotectFixup(p, vma, prev: &prev, start: nstart, end: tmp, newflags: newflags) {
            case let .failed(e):
                error = e
            case let .ok(v):
                tmp = v.end
            }
            if error != nil { break }
            nstart = tmp
            guard tmp < end, let n = mm.vmas.findVMA(tmp), n.start < end else { break }
            vma = n
        }
        if error == nil && tmp < end {
            tracer.step("do_mprotect_pkey", "range ends in a hole at \(hex(tmp)): ENOMEM")
            error = .ENOMEM
        }
        noteCreatedVMAs(mm, firstID: firstID, start, end)
        if let e = error { return .error(e) }
        return .zero
    }

    /// Models mprotect_fixup() (mm/mprotect.c) for [start, end) inside `vma`:
    /// nothing when the flags do not change; charge and add VM_ACCOUNT when a
    /// private mapping becomes writable for the first time; drop VM_ACCOUNT
    /// from an unfaulted anonymous VMA (no anon_vma) made non-writable
    /// (`model.mprotectUnaccountsUnfaulted`, [observed E-06]); then
    /// vma_modify_flags() (merge or split), store the flags and change the
    /// PTEs (change_protection()). A private VM_LOCKED mapping that becomes
    /// writable is populated (CoW broken). Never allocates an anon_vma.
    func mprotectFixup(_ p: Process, _ vma: VMA, prev: inout VMA?, start: UInt64, end: UInt64,
                       newflags newIn: VMFlags) -> VMAResult {
        let mm = p.mm
        let oldflags = vma.flags
        var newflags = newIn
        if newflags == oldflags {
            prev = vma
            tracer.step("mprotect_fixup", "\(vma.rangeDescription): flags unchanged")
            return .ok(vma)
        }
        let nrpages = (end - start) >> Linux.PAGE_SHIFT
        var charged: UInt64 = 0
        if newflags.contains(.WRITE) {
            if oldflags.intersection([.ACCOUNT, .WRITE, .HUGETLB, .SHARED, .NORESERVE]).isEmpty {
                charged = nrpages
                newflags.insert(.ACCOUNT)
                tracer.step("mprotect_fixup", "private mapping becomes writable: charge \(nrpages) page(s), add VM_ACCOUNT")
            }
        } else if model.mprotectUnaccountsUnfaulted, oldflags.contains(.ACCOUNT), vma.isAnonymous,
                  vma.anonVMA == nil {
            newflags.remove(.ACCOUNT)
            tracer.step("mprotect_fixup", "unfaulted anonymous VMA (no anon_vma) made read-only: VM_ACCOUNT dropped")
        }
        let result = vmaModifyFlags(p, prev: prev, vma, start: start, end: end, flags: newflags)
        guard case let .ok(v) = result else { return result }
        prev = v
        vmaStartWrite(mm, v)
        v.flags = newflags.union(v.flags.intersection(.sticky))
        mm.committedPages += charged
        if oldflags.contains(.ACCOUNT) && !newflags.contains(.ACCOUNT) {
            mm.committedPages = mm.committedPages >= nrpages ? mm.committedPages - nrpages : 0
        }
        let changed = changeProtection(mm, v, start, end, oldflags: oldflags)
        tracer.step("change_protection", "\(v.rangeDescription) now \(permString(v.flags)); \(changed) PTE(s) updated")
        if oldflags.intersection([.WRITE, .SHARED, .LOCKED]) == .LOCKED && newflags.contains(.WRITE) {
            // populate_vma_page_range() under the mmap write lock.
            mmPopulate(p, start, end - start)
        }
        if newflags.contains(.WRITE) && !oldflags.contains(.WRITE) { eagerAnonVMAIfNeeded(p, v) }
        return .ok(v)
    }

    /// Models change_protection() (mm/mprotect.c) on [start, end) of `vma`
    /// after its flags changed: without VM_WRITE every present PTE is
    /// write-protected (PROT_NONE keeps the PTE present — x86's protnone —
    /// and the fault path refuses access through the VMA flags); when write
    /// is added, MM_CP_TRY_CHANGE_WRITABLE makes PTEs writable at once where
    /// no fault is needed: exclusive anonymous pages of a private mapping,
    /// every page of a shared mapping without dirty tracking (shmem), dirty
    /// pages of a shared file mapping. Returns the number of PTEs changed.
    @discardableResult
    func changeProtection(_ mm: MM, _ vma: VMA, _ start: UInt64, _ end: UInt64, oldflags: VMFlags) -> Int {
        let writable = vma.flags.contains(.WRITE)
        let addingWrite = writable && !oldflags.contains(.WRITE)
        guard !writable || addingWrite else { return 0 }
        let shared = vma.flags.contains(.SHARED)
        let shmem = vma.file?.inode.isShmem ?? false
        var changed = 0
        for vpn in mm.pageTable.vpns(in: start, end) {
            guard var pte = mm.pageTable[vpn], pte.present else { continue }
            if !writable {
                if pte.writable {
                    pte.writable = false
                    mm.pageTable[vpn] = pte
                    changed += 1
                }
                continue
            }
            guard !pte.writable, let folio = pte.folio, folio.kind != .zero else { continue }
            let upgrade = shared ? (shmem || pte.dirty) : (folio.kind == .anon && folio.anonExclusive)
            if upgrade {
                pte.writable = true
                mm.pageTable[vpn] = pte
                changed += 1
            }
        }
        return changed
    }

    /// The `rwxp`/`rwxs` column of a VMA's flags.
    func permString(_ f: VMFlags) -> String {
        (f.contains(.READ) ? "r" : "-") + (f.contains(.WRITE) ? "w" : "-") + (f.contains(.EXEC) ? "x" : "-")
            + (f.contains(.MAYSHARE) ? "s" : "p")
    }
}
