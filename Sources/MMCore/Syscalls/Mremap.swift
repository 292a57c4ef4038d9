/// mremap(2) (docs/KERNEL-MODEL.md §3.6), after mm/mremap.c of 6.18
/// (`struct vma_remap_struct`): `check_mremap_params`, `do_mremap`,
/// `remap_move` (6.17+: a same-size MREMAP_FIXED move may span several
/// VMAs), `check_prep_vma`, `mremap_to`, `mremap_at`, `shrink_vma`,
/// `expand_vma`, `expand_vma_in_place`, `move_vma`, `copy_vma_and_data`,
/// `move_page_tables`, `unmap_source_vma`, `dontunmap_complete`; and mm/vma.c
/// `copy_vma`, `vma_merge_extend`.

/// Models struct vma_remap_struct (mm/mremap.c).
struct VMARemap {
    var addr: UInt64
    var oldLen: UInt64
    var newLen: UInt64
    let flags: UInt64
    var newAddr: UInt64
    var vma: VMA?
    var delta: UInt64 = 0
    /// A VM_LOCKED VMA grows: populate the new part afterwards.
    var populateExpand = false
    var charged: UInt64 = 0

    /// vrm_implies_new_addr(): MREMAP_FIXED or MREMAP_DONTUNMAP.
    var impliesNewAddr: Bool { flags & (Linux.MREMAP_FIXED | Linux.MREMAP_DONTUNMAP) != 0 }
    var isShrink: Bool { oldLen > newLen }
    var isExpand: Bool { newLen > oldLen }
}

extension Simulation {
    /// mremap(2) → do_mremap(): lengths page aligned, check_mremap_params(),
    /// the early map-count check, then a pure move (remap_move()) or the
    /// single-VMA path (check_prep_vma(), then mremap_to() or mremap_at()).
    /// Returns the (new) address.
    func sysMremap(_ p: Process, oldAddress: UInt64, oldSize: UInt64, newSize: UInt64, flags: UInt64,
                   newAddress: UInt64) -> SysReturn {
        let mm = p.mm
        let firstID = nextVMAId
        var vrm = VMARemap(addr: oldAddress, oldLen: pageAlign(oldSize), newLen: pageAlign(newSize), flags: flags,
                           newAddr: newAddress)
        if let e = checkMremapParams(mm, vrm) { return .error(e) }
        // check_map_count_against_split_early(): room for the unmaps' splits and the move's.
        if mm.mapCount + 4 > layout.maxMapCount {
            tracer.step("do_mremap", "map_count \(mm.mapCount) + 4 > max_map_count: ENOMEM")
            return .error(.ENOMEM)
        }
        let r: SysReturn
        if flags & Linux.MREMAP_FIXED != 0 && vrm.oldLen == vrm.newLen {
            r = remapMove(p, &vrm)
        } else {
            vrm.vma = mm.vmas.find(containing: vrm.addr)
            if let e = checkPrepVMA(p, &vrm) {
                r = .error(e)
            } else {
                r = vrm.impliesNewAddr ? mremapTo(p, &vrm) : mremapAt(p, &vrm)
            }
        }
        noteCreatedVMAs(mm, firstID: firstID, oldAddress, oldAddress &+ max(vrm.oldLen, vrm.newLen))
        if case let .value(a) = r {
            if a != oldAddress { noteCreatedVMAs(mm, firstID: firstID, a, a &+ max(vrm.newLen, pageAlign(newSize))) }
            if vrm.populateExpand {
                mmapWriteUnlock(mm)
                mmPopulate(p, vrm.newAddr + vrm.oldLen, vrm.delta)
            }
        }
        return r
    }

    /// Models check_mremap_params() (mm/mremap.c, 6.18): known flags only,
    /// page aligned old address, a new length that is neither 0 nor beyond
    /// TASK_SIZE; with FIXED/DONTUNMAP a new range below TASK_SIZE, page
    /// aligned, MAYMOVE given, equal lengths for DONTUNMAP, and no overlap
    /// with the old range. All EINVAL.
    func checkMremapParams(_ mm: MM, _ vrm: VMARemap) -> Errno? {
        let why: String?
        if vrm.flags & ~(Linux.MREMAP_FIXED | Linux.MREMAP_MAYMOVE | Linux.MREMAP_DONTUNMAP) != 0 {
            why = "unknown flags"
        } else if offsetInPage(vrm.addr) != 0 {
            why = "old address not page aligned"
        } else if vrm.newLen == 0 {
            why = "new length 0"
        } else if vrm.newLen > mm.taskSize {
            why = "new length beyond TASK_SIZE"
        } else if !vrm.impliesNewAddr {
            why = nil
        } else if vrm.newAddr > mm.taskSize - vrm.newLen {
            why = "new range beyond TASK_SIZE"
        } else if offsetInPage(vrm.newAddr) != 0 {
            why = "new address not page aligned"
        } else if vrm.flags & Linux.MREMAP_MAYMOVE == 0 {
            why = "MREMAP_FIXED/MREMAP_DONTUNMAP without MREMAP_MAYMOVE"
        } else if vrm.flags & Linux.MREMAP_DONTUNMAP != 0 && vrm.oldLen != vrm.newLen {
            why = "MREMAP_DONTUNMAP cannot resize"
        } else if vrm.addr &+ vrm.oldLen > vrm.newAddr && vrm.newAddr &+ vrm.newLen > vrm.addr {
            why = "new range overlaps the old one"
        } else {
            why = nil
        }
        guard let w = why else { return nil }
        tracer.step("check_mremap_params", "\(w): EINVAL")
        return .EINVAL
    }

    /// Models remap_move() (mm/mremap.c, 6.17+): a same-size MREMAP_FIXED
    /// move of every VMA piece in [addr, addr + old_len), each moved with
    /// mremap_to() so that the gaps between source VMAs are kept at the
    /// destination. The range must start in a VMA (EFAULT); an error ends
    /// the walk (earlier pieces stay moved). Returns the first piece's address.
    func remapMove(_ p: Process, _ vrm: inout VMARemap) -> SysReturn {
        let mm = p.mm
        let start = vrm.addr, end = vrm.addr + vrm.oldLen
        var target = vrm.newAddr
        var result: SysReturn = .error(.EFAULT)
        var seen = false
        var lastEnd: UInt64 = 0
        var cur = start
        while let vma = mm.vmas.findVMA(cur), vma.start < end {
            let addr = max(vma.start, start)
            let len = min(end, vma.end) - addr
            if !seen && start < vma.start {
                tracer.step("remap_move", "the range starts in a hole: EFAULT")
                return .error(.EFAULT)
            }
            let offset = seen ? vma.start - lastEnd : 0
            lastEnd = vma.end
            vrm.vma = vma
            vrm.addr = addr
            vrm.newAddr = target + offset
            vrm.oldLen = len
            vrm.newLen = len
            if seen { tracer.step("remap_move", "next piece [\(hex(addr))-\(hex(addr + len))) → \(hex(vrm.newAddr))") }
            if let e = checkPrepVMA(p, &vrm) { return .error(e) }
            let r = mremapTo(p, &vrm)
            guard case let .value(a) = r else { return r }
            if !seen { result = r }
            seen = true
            target = a + len
            cur = addr + len
        }
        if !seen { tracer.step("remap_move", "nothing mapped in the range: EFAULT") }
        return result
    }

    /// Models check_prep_vma() (mm/mremap.c, 6.18) for the single VMA at the
    /// old address: none → EFAULT; then, for operations that map new space
    /// (grow, or a new address): old_len 0 of a private mapping → EINVAL,
    /// DONTUNMAP of VM_DONTEXPAND/VM_PFNMAP → EINVAL, the kept part of the
    /// old range crossing the VMA's end → EFAULT, growing pgoff overflow →
    /// EINVAL, growing VM_DONTEXPAND/VM_PFNMAP → EFAULT. Marks locked growth
    /// for population.
    func checkPrepVMA(_ p: Process, _ vrm: inout VMARemap) -> Errno? {
        guard let vma = vrm.vma else {
            tracer.step("check_prep_vma", "\(hex(vrm.addr)) is not mapped: EFAULT")
            return .EFAULT
        }
        vrm.delta = vrm.oldLen > vrm.newLen ? vrm.oldLen - vrm.newLen : vrm.newLen - vrm.oldLen
        if !vrm.impliesNewAddr { vrm.newAddr = vrm.addr }
        guard vrm.isExpand || vrm.impliesNewAddr else { return nil }
        if vrm.oldLen == 0 && vma.flags.intersection([.SHARED, .MAYSHARE]).isEmpty {
            tracer.step("check_prep_vma", "old_len 0 would duplicate a private mapping: EINVAL")
            return .EINVAL
        }
        if vrm.flags & Linux.MREMAP_DONTUNMAP != 0, !vma.flags.intersection([.DONTEXPAND, .PFNMAP]).isEmpty {
            tracer.step("check_prep_vma", "MREMAP_DONTUNMAP of a VM_DONTEXPAND/VM_PFNMAP VMA: EINVAL")
            return .EINVAL
        }
        // The range a shrink unmaps may cross VMAs; what is kept may not.
        let oldLen = vrm.isShrink ? vrm.newLen : vrm.oldLen
        if oldLen > vma.end - vrm.addr {
            tracer.step("check_prep_vma", "old range crosses the end of \(vma.rangeDescription): EFAULT")
            return .EFAULT
        }
        if vrm.newLen == oldLen { return nil }
        if vma.flags.contains(.LOCKED) { vrm.populateExpand = true }
        let pgoff = vma.linearPageIndex(vrm.addr)
        if pgoff &+ (vrm.newLen >> Linux.PAGE_SHIFT) < pgoff {
            tracer.step("check_prep_vma", "pgoff overflow: EINVAL")
            return .EINVAL
        }
        if !vma.flags.intersection([.DONTEXPAND, .PFNMAP]).isEmpty {
            tracer.step("check_prep_vma", "\(vma.rangeDescription) is VM_DONTEXPAND/VM_PFNMAP: EFAULT")
            return .EFAULT
        }
        return nil
    }

    /// Models mremap_at() (mm/mremap.c): same size → nothing; shrink → unmap
    /// the tail in place; grow → expand_vma().
    func mremapAt(_ p: Process, _ vrm: inout VMARemap) -> SysReturn {
        if vrm.delta == 0 {
            tracer.step("mremap_at", "same size, no move: nothing to do")
            return .value(vrm.addr)
        }
        if vrm.isShrink {
            if let e = shrinkVMA(p, &vrm) { return .error(e) }
            return .value(vrm.addr)
        }
        return expandVMA(p, &vrm)
    }

    /// Models shrink_vma() (mm/mremap.c): unmap [addr + new_len, addr + old_len).
    func shrinkVMA(_ p: Process, _ vrm: inout VMARemap) -> Errno? {
        let unmapStart = vrm.addr + vrm.newLen
        tracer.step("shrink_vma", "unmap the tail [\(hex(unmapStart))-\(hex(unmapStart + vrm.delta)))")
        if let e = doVmiMunmap(p, unmapStart, unmapStart + vrm.delta) { return e }
        vrm.vma = p.mm.vmas.find(containing: vrm.addr)
        return vrm.vma == nil ? .EFAULT : nil
    }

    /// Models expand_vma() (mm/mremap.c): grow in place when the old range
    /// ends at the VMA's end and the next `delta` bytes are free
    /// (vma_expandable()); else ENOMEM without MREMAP_MAYMOVE; else move.
    func expandVMA(_ p: Process, _ vrm: inout VMARemap) -> SysReturn {
        let vma = vrm.vma!
        if vrm.addr + vrm.oldLen == vma.end && vmaExpandable(p.mm, vma, vrm.delta) {
            if let e = expandVMAInPlace(p, &vrm) { return .error(e) }
            return .value(vrm.addr)
        }
        if vrm.flags & Linux.MREMAP_MAYMOVE == 0 {
            tracer.step("expand_vma", "cannot grow \(vma.rangeDescription) in place and MREMAP_MAYMOVE not given: ENOMEM")
            return .error(.ENOMEM)
        }
        tracer.step("expand_vma", "cannot grow \(vma.rangeDescription) in place (the range does not end the VMA, or the space after it is taken): moving")
        if let e = vrmSetNewAddr(p, &vrm) { return .error(e) }
        return moveVMA(p, &vrm)
    }

    /// vma_expandable() (mm/mremap.c): nothing in [end, end + delta) and the
    /// grown VMA still a valid fixed mapping below TASK_SIZE.
    func vmaExpandable(_ mm: MM, _ vma: VMA, _ delta: UInt64) -> Bool {
        let end = vma.end &+ delta
        if end < vma.end { return false }
        if mm.vmas.intersects(vma.end, end) { return false }
        let size = end - vma.start
        return size <= mm.taskSize && vma.start <= mm.taskSize - size
    }

    /// Models expand_vma_in_place() (mm/mremap.c) → vma_merge_extend()
    /// (mm/vma.c): [end, end + delta) is proposed as a new range with the VMA
    /// as `prev` (same flags, file, anon_vma; pgoff continuing it), so the VMA
    /// grows and may also absorb a compatible `next`.
    func expandVMAInPlace(_ p: Process, _ vrm: inout VMARemap) -> Errno? {
        let mm = p.mm
        let vma = vrm.vma!
        if vma.flags.contains(.ACCOUNT) { vrm.charged = vrm.delta >> Linux.PAGE_SHIFT }
        var vmg = VMAMergeProposal(mm: mm, pid: p.pid, prev: vma, middle: nil, next: mm.vmas.next(of: vma),
                                   start: vma.end, end: vma.end + vrm.delta,
                                   pgoff: vma.pgoff &+ vma.pages, flags: vma.flags, file: vma.file,
                                   anonVMA: vma.anonVMA)
        guard let grown = vmaMergeNewRange(&vmg) else {
            tracer.step("vma_merge_extend", "\(vma.rangeDescription) cannot be extended: ENOMEM")
            return .ENOMEM
        }
        mm.committedPages += vrm.charged
        vrm.vma = grown
        tracer.step("expand_vma_in_place", "grown in place to \(grown.rangeDescription)")
        eagerAnonVMAIfNeeded(p, grown)
        return nil
    }

    /// Models mremap_to() (mm/mremap.c, 6.18): MREMAP_FIXED / MREMAP_DONTUNMAP.
    /// With FIXED whatever is mapped at the destination is unmapped first
    /// (and the source looked up again: EFAULT if it went); a shrink happens
    /// in place before the move.
    func mremapTo(_ p: Process, _ vrm: inout VMARemap) -> SysReturn {
        let mm = p.mm
        if vrm.flags & Linux.MREMAP_FIXED != 0 {
            tracer.step("mremap_to", "MREMAP_FIXED: unmap [\(hex(vrm.newAddr))-\(hex(vrm.newAddr + vrm.newLen))) first")
            if let e = doVmiMunmap(p, vrm.newAddr, vrm.newAddr + vrm.newLen) { return .error(e) }
            guard let v = mm.vmas.find(containing: vrm.addr) else { return .error(.EFAULT) }
            vrm.vma = v
        }
        if vrm.isShrink {
            if let e = shrinkVMA(p, &vrm) { return .error(e) }
            vrm.oldLen = vrm.newLen
        }
        if let e = vrmSetNewAddr(p, &vrm) { return .error(e) }
        return moveVMA(p, &vrm)
    }

    /// Models vrm_set_new_addr() (mm/mremap.c): get_unmapped_area() for the
    /// destination — fixed for MREMAP_FIXED, a hint for DONTUNMAP alone,
    /// else anywhere — with the source's file and pgoff.
    func vrmSetNewAddr(_ p: Process, _ vrm: inout VMARemap) -> Errno? {
        let vma = vrm.vma!
        var mapFlags: UInt64 = 0
        if vrm.flags & Linux.MREMAP_FIXED != 0 { mapFlags |= Linux.MAP_FIXED }
        if vma.flags.contains(.MAYSHARE) { mapFlags |= Linux.MAP_SHARED }
        let hint = vrm.impliesNewAddr ? vrm.newAddr : 0
        switch getUnmappedArea(p.mm, file: vma.file, addr: hint, len: vrm.newLen,
                               pgoff: vma.linearPageIndex(vrm.addr), flags: mapFlags) {
        case let .failed(e):
            tracer.step("vrm_set_new_addr", "no room for \(hex(vrm.newLen)) bytes: \(e.name)")
            return e
        case let .addr(a):
            vrm.newAddr = a
            return nil
        }
    }

    /// Models move_vma() (mm/mremap.c): copy the VMA to the destination
    /// (copy_vma()), move the page tables, then unmap the source — or, with
    /// MREMAP_DONTUNMAP, leave it mapped but empty and unaccounted.
    func moveVMA(_ p: Process, _ vrm: inout VMARemap) -> SysReturn {
        let mm = p.mm
        // check_map_count_against_split(): the copy and the source unmap may add two VMAs.
        if mm.mapCount + 2 > layout.maxMapCount {
            tracer.step("prep_move_vma", "map_count \(mm.mapCount) + 2 > max_map_count: ENOMEM")
            return .error(.ENOMEM)
        }
        var vma = vrm.vma!
        if vma.flags.contains(.ACCOUNT) {
            vrm.charged = (vrm.flags & Linux.MREMAP_DONTUNMAP != 0 ? vrm.newLen : vrm.delta) >> Linux.PAGE_SHIFT
        }
        vmaStartWrite(mm, vma)
        let newVMA = copyVMA(p, &vma, addr: vrm.newAddr, len: vrm.newLen, pgoff: vma.linearPageIndex(vrm.addr))
        vrm.vma = vma
        let moved = movePageTables(mm, from: vrm.addr, to: vrm.newAddr, len: vrm.oldLen)
        tracer.step("move_page_tables", "\(moved) PTE(s) moved \(hex(vrm.addr)) → \(hex(vrm.newAddr)); folios and their index unchanged")
        mm.committedPages += vrm.charged
        if vrm.flags & Linux.MREMAP_DONTUNMAP != 0 {
            dontunmapComplete(p, vrm, newVMA)
        } else {
            unmapSourceVMA(p, vrm)
        }
        eagerAnonVMAIfNeeded(p, newVMA)
        return .value(vrm.newAddr)
    }

    /// Models copy_vma() (mm/vma.c): the destination VMA of a move. An
    /// anonymous source without anon_vma gets pgoff = new address >> 12 (so
    /// it can merge there); otherwise the pgoff is kept. Tried as a copied
    /// range with the source's anon_vma (vma_merge_copied_range(): a fork
    /// child source never donates its anon_vma to an unfaulted neighbour, and
    /// a merged neighbour gets the source's anon_vma); else a duplicate
    /// VMA sharing the source's anon_vma and chain (anon_vma_clone()). If
    /// the source itself was absorbed, `vma` is updated to the merged VMA.
    func copyVMA(_ p: Process, _ vma: inout VMA, addr: UInt64, len: UInt64, pgoff pgoffIn: UInt64) -> VMA {
        let mm = p.mm
        var pgoff = pgoffIn
        let vmaStart = vma.start
        if vma.isAnonymous && vma.anonVMA == nil {
            pgoff = addr >> Linux.PAGE_SHIFT
            tracer.step("copy_vma", "unfaulted anonymous source: pgoff reset to \(hex(pgoff))")
        }
        var vmg = VMAMergeProposal(mm: mm, pid: p.pid, prev: mm.vmas.vmaEnding(atOrBefore: addr), middle: nil,
                                   next: mm.vmas.findVMA(addr), start: addr, end: addr + len, pgoff: pgoff,
                                   flags: vma.flags, file: vma.file, anonVMA: vma.anonVMA)
        if let merged = vmaMergeCopiedRange(&vmg, copiedFrom: vma) {
            if vmaStart >= merged.start && vmaStart < merged.end {
                tracer.step("copy_vma", "the source was merged into the destination \(merged.rangeDescription)")
                vma = merged
            }
            return merged
        }
        let new = makeVMA(start: addr, end: addr + len, pgoff: pgoff, flags: vma.flags, kind: vma.kind,
                          file: vma.file, name: vma.name)
        new.faultedRead = vma.faultedRead
        new.faultedWrite = vma.faultedWrite
        if vma.anonVMA != nil || !vma.chain.isEmpty {
            new.anonVMA = vma.anonVMA
            anonVMAClone(dst: new, src: vma, pid: p.pid)
        }
        vmaStartWrite(mm, new)
        mm.vmas.insert(new)
        tracer.step("copy_vma", "new VMA \(new.rangeDescription) pgoff \(hex(pgoff))\(new.anonVMA.map { ", shares av\($0.id) (anon_vma_clone)" } ?? "")")
        return new
    }

    /// Models move_page_tables() / move_ptes() (mm/mremap.c): every non-none
    /// entry of [from, from + len) (present PTEs and markers) moves to the
    /// same offset at `to`; the folios, their mapcount and index are
    /// untouched. Returns the number of entries moved.
    @discardableResult
    func movePageTables(_ mm: MM, from: UInt64, to: UInt64, len: UInt64) -> Int {
        var moved = 0
        let fromVPN = from >> Linux.PAGE_SHIFT, toVPN = to >> Linux.PAGE_SHIFT
        for vpn in mm.pageTable.vpns(in: from, from + len) {
            guard let pte = mm.pageTable.remove(vpn) else { continue }
            mm.pageTable[vpn - fromVPN + toVPN] = pte
            moved += 1
        }
        return moved
    }

    /// Models unmap_source_vma() (mm/mremap.c): unmap the old range; a
    /// VM_ACCOUNT source is unaccounted only by the move's own charge, so its
    /// flag is cleared for the unmap and restored on what remains of it.
    func unmapSourceVMA(_ p: Process, _ vrm: VMARemap) {
        let mm = p.mm
        let vma = vrm.vma!
        let addr = vrm.addr, end = vrm.addr + vrm.oldLen
        let accountable = vma.flags.contains(.ACCOUNT) && vrm.flags & Linux.MREMAP_DONTUNMAP == 0
        let vmStart = vma.start, vmEnd = vma.end
        if accountable { vma.flags.remove(.ACCOUNT) }
        tracer.step("unmap_source_vma", "unmap the old range [\(hex(addr))-\(hex(end)))")
        doVmiMunmap(p, addr, end)
        if accountable {
            if vmStart < addr, let prev = mm.vmas.vmaEnding(atOrBefore: addr) { prev.flags.insert(.ACCOUNT) }
            if vmEnd > end, let next = mm.vmas.findVMA(end), next.start == end { next.flags.insert(.ACCOUNT) }
        }
    }

    /// Models dontunmap_complete() (mm/mremap.c): the source VMA stays mapped
    /// (now empty) and loses VM_LOCKED/VM_LOCKONFAULT; it keeps VM_ACCOUNT
    /// (6.17+ "mm/mremap: correctly account old mapping after
    /// MREMAP_DONTUNMAP remap"; the source stays accountable, the move
    /// charged the new range) [observed: oracle mremap_dontunmap]. If it was
    /// moved whole, its anon_vma chain is unlinked.
    func dontunmapComplete(_ p: Process, _ vrm: VMARemap, _ newVMA: VMA) {
        let vma = vrm.vma!
        let start = vrm.addr, end = vrm.addr + vrm.oldLen
        vmaStartWrite(p.mm, vma)
        vma.flags.subtract([.LOCKED, .LOCKONFAULT])
        if newVMA !== vma && start == vma.start && end == vma.end {
            unlinkAnonVMAs(vma)
        }
        tracer.step("dontunmap_complete", "source \(vma.rangeDescription) stays mapped and empty; VM_LOCKED cleared, VM_ACCOUNT kept")
    }
}
