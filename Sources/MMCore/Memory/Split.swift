/// Splitting VMAs and modifying the attributes of a range (docs/KERNEL-MODEL.md
/// §3.1–3.2), after mm/vma.c: `__split_vma`, `split_vma`, `vma_modify`,
/// `vma_modify_flags`. Also the small VMA-lifetime helpers every syscall of
/// this family shares.

/// A VMA, or the errno an operation failed with (the kernel's ERR_PTR).
enum VMAResult {
    case ok(VMA)
    case failed(Errno)
}

extension Simulation {
    /// Models __split_vma() (mm/vma.c): split `vma` at `addr` (strictly
    /// inside it). A new VMA duplicated from `vma` (same flags, file, name
    /// and anon_vma pointer, cloned chain: anon_vma_clone()) takes the part
    /// below `addr` when `newBelow`, else the part above; the upper part's
    /// pgoff advances by the pages below `addr`. Both are write-locked.
    /// Never fails (no `may_split` hooks are modelled). Returns the new VMA.
    @discardableResult
    func splitVMANoLimit(_ p: Process, _ vma: VMA, at addr: UInt64, newBelow: Bool) -> VMA {
        precondition(vma.start < addr && addr < vma.end, "split address outside the VMA")
        let mm = p.mm
        let lowerPages = (addr - vma.start) >> Linux.PAGE_SHIFT
        let new = newBelow
            ? makeVMA(start: vma.start, end: addr, pgoff: vma.pgoff, flags: vma.flags, kind: vma.kind,
                      file: vma.file, name: vma.name)
            : makeVMA(start: addr, end: vma.end, pgoff: vma.pgoff &+ lowerPages, flags: vma.flags,
                      kind: vma.kind, file: vma.file, name: vma.name)
        new.faultedRead = vma.faultedRead
        new.faultedWrite = vma.faultedWrite
        if vma.anonVMA != nil || !vma.chain.isEmpty {
            new.anonVMA = vma.anonVMA
            anonVMAClone(dst: new, src: vma, pid: p.pid)
        }
        vmaStartWrite(mm, vma)
        vmaStartWrite(mm, new)
        if newBelow {
            vma.start = addr
            vma.pgoff = vma.pgoff &+ lowerPages
        } else {
            vma.end = addr
        }
        mm.vmas.insert(new)
        stats.vmas.split += 1
        effects.splits += 1
        tracer.step("__split_vma", "at \(hex(addr)): \(newBelow ? "new lower" : "new upper") \(new.rangeDescription), kept \(vma.rangeDescription)\(new.anonVMA.map { "; both share av\($0.id)" } ?? "")")
        return new
    }

    /// Models split_vma() (mm/vma.c): refuses with ENOMEM when
    /// `map_count >= max_map_count`, else __split_vma().
    func splitVMA(_ p: Process, _ vma: VMA, at addr: UInt64, newBelow: Bool) -> Errno? {
        if p.mm.mapCount >= layout.maxMapCount {
            tracer.step("split_vma", "map_count \(p.mm.mapCount) >= max_map_count \(layout.maxMapCount): ENOMEM")
            return .ENOMEM
        }
        splitVMANoLimit(p, vma, at: addr, newBelow: newBelow)
        return nil
    }

    /// Models vma_modify() (mm/vma.c): first try vma_merge_existing_range();
    /// otherwise split off the parts of `vmg.middle` below and above
    /// [start, end) and return the VMA that now covers exactly the range.
    func vmaModify(_ p: Process, _ vmg: inout VMAMergeProposal) -> VMAResult {
        if let merged = vmaMergeExistingRange(&vmg) { return .ok(merged) }
        let vma = vmg.middle!
        let start = vmg.start, end = vmg.end
        if vma.start < start, let e = splitVMA(p, vma, at: start, newBelow: true) { return .failed(e) }
        if vma.end > end, let e = splitVMA(p, vma, at: end, newBelow: false) { return .failed(e) }
        return .ok(vma)
    }

    /// Models vma_modify_flags() (mm/vma.c): [start, end) of `vma` is to get
    /// `flags`; merge or split so that one VMA covers exactly the range (or
    /// more, after a merge), and return it. The caller stores the flags.
    func vmaModifyFlags(_ p: Process, prev: VMA?, _ vma: VMA, start: UInt64, end: UInt64,
                        flags: VMFlags) -> VMAResult {
        var vmg = VMAMergeProposal(mm: p.mm, pid: p.pid, prev: prev, vma: vma, start: start, end: end)
        vmg.flags = flags
        return vmaModify(p, &vmg)
    }

    // MARK: VMA lifetime helpers

    /// Allocates a VMA for [start, end), write-locks it (vma_start_write())
    /// and inserts it (vma_iter_store_new(), map_count++).
    func insertNewVMA(_ mm: MM, start: UInt64, end: UInt64, pgoff: UInt64, flags: VMFlags, kind: VMAKind,
                      file: OpenFile?, name: String? = nil) -> VMA {
        let v = makeVMA(start: start, end: end, pgoff: pgoff, flags: flags, kind: kind, file: file, name: name)
        vmaStartWrite(mm, v)
        mm.vmas.insert(v)
        return v
    }

    /// The VMAs created by the syscall in progress (ids at or above
    /// `firstID`) around [start, end), in address order, for
    /// `effects.vmasCreated`. Split products are always adjacent to the
    /// range, so one VMA beyond each end is looked at.
    func noteCreatedVMAs(_ mm: MM, firstID: Int, _ start: UInt64, _ end: UInt64) {
        guard nextVMAId > firstID else { return }
        let tree = mm.vmas
        let first = tree.cursor(firstEndAbove: start)
        let prev = tree.before(first)
        let lo = prev.flatMap { tree.vma(at: $0) }?.start ?? start
        let hi = max(tree.findVMA(end)?.end ?? end, lo &+ 1)
        // Walk [lo, hi) with the cursor: no array of the VMAs in range.
        var cur = prev ?? first
        while let v = tree.vma(at: cur), v.start < hi {
            if v.id >= firstID && !effects.vmasCreated.contains(where: { $0.start == v.start }) {
                effects.vmasCreated.append(VMASnapshot(v))
            }
            cur = tree.after(cur)
        }
        if effects.vmasCreated.count > 1 { effects.vmasCreated.sort { $0.start < $1.start } }
    }
}
