/// VMA merging (docs/KERNEL-MODEL.md §2.5, rules R1–R6), after mm/vma.c of the
/// 6.16–6.18 era: `is_mergeable_vma`, `is_mergeable_anon_vma`,
/// `can_vma_merge_before/after/left/right`, `vma_merge_new_range`,
/// `vma_merge_existing_range`, `vma_expand`, `commit_merge`.

/// enum vma_merge_state (mm/vma.h): how a merge attempt ended.
enum VMAMergeState: Sendable {
    case start, noMerge, success, errorNoMem
}

/// Models struct vma_merge_struct (mm/vma.h): one merge proposal and, after
/// the attempt, what it did.
///
/// For a new range (`vma_merge_new_range`) `middle` is nil and `prev`/`next`
/// are the VMAs around the hole; for an existing range
/// (`vma_merge_existing_range`) `middle` is the VMA being modified and `prev`
/// is the VMA before the range (`middle` itself when the range starts inside it).
struct VMAMergeProposal {
    let mm: MM
    /// Owner of `mm` (recorded on new anon_vma_chain links).
    let pid: Int
    var prev: VMA?
    var middle: VMA?
    var next: VMA?
    var target: VMA?
    var start: UInt64
    var end: UInt64
    var pgoff: UInt64
    var flags: VMFlags
    var file: OpenFile?
    /// The anon_vma of the proposal: nil for a brand-new range, the modified
    /// VMA's for an existing range, the source's for an mremap copy.
    var anonVMA: AnonVMA?
    /// brk's expand-only mode: merge with `prev` only, never absorb `next`.
    var justExpand = false
    /// vmg->copied_from: the VMA copy_vma() copies (mremap's source); set by
    /// vma_merge_copied_range(), nil for every other new range.
    var copiedFrom: VMA?
    var state: VMAMergeState = .start
    /// Which neighbour(s) the merge joined.
    var side: MergeSide?

    var removeMiddle = false
    var removeNext = false
    var adjustMiddleStart = false
    var adjustNextStart = false

    init(mm: MM, pid: Int, prev: VMA?, middle: VMA?, next: VMA?, start: UInt64, end: UInt64,
         pgoff: UInt64, flags: VMFlags, file: OpenFile?, anonVMA: AnonVMA?) {
        self.mm = mm
        self.pid = pid
        self.prev = prev
        self.middle = middle
        self.next = next
        self.start = start
        self.end = end
        self.pgoff = pgoff
        self.flags = flags
        self.file = file
        self.anonVMA = anonVMA
    }

    /// VMG_VMA_STATE(): a proposal to change [start, end) of `vma` (flags,
    /// file, anon_vma and pgoff taken from it).
    init(mm: MM, pid: Int, prev: VMA?, vma: VMA, start: UInt64, end: UInt64) {
        self.init(mm: mm, pid: pid, prev: prev, middle: vma, next: nil, start: start, end: end,
                  pgoff: vma.pgoff &+ ((start &- vma.start) >> Linux.PAGE_SHIFT),
                  flags: vma.flags, file: vma.file, anonVMA: vma.anonVMA)
    }
}

extension Simulation {
    // MARK: compatibility rules

    /// Models is_mergeable_vma() (mm/vma.c), rule R1: flags equal except the
    /// ones merges ignore (VM_SOFTDIRTY, the sticky VM_MAYBE_GUARD), the same
    /// `struct file` (identity), default policy / no uffd / no anon name on
    /// both sides. Returns nil when compatible, else why not.
    func isMergeableVMA(_ vmg: VMAMergeProposal, mergeNext: Bool) -> String? {
        guard let t = mergeNext ? vmg.next : vmg.prev else { return "no neighbour" }
        if case .special = t.kind { return "special mapping (VM_DONTEXPAND)" }
        let diff = t.flags.symmetricDifference(vmg.flags).subtracting(.ignoredByMerge)
        if !diff.isEmpty {
            return tracer.enabled ? "vm_flags differ (\(diff.names.joined(separator: "|")))" : "vm_flags differ"
        }
        if t.file !== vmg.file { return "vm_file differs" }
        return nil
    }

    /// vma_had_uncowed_parents() (mm/vma.c): a fork child — it has an
    /// anon_vma and its chain is not singular.
    @inline(__always)
    func vmaHadUncowedParents(_ vma: VMA?) -> Bool {
        guard let v = vma else { return false }
        return v.anonVMA != nil && v.chain.count != 1
    }

    /// Models is_mergeable_anon_vma() (mm/vma.c), rule R2. 6.16+
    /// (`model.mergeAnonVMA616`): the side that will donate an anon_vma must
    /// not be a fork child — for a copied range (mremap) neither the middle
    /// nor the VMA it was copied from (`vmg->copied_from`, the 6.18.y fix
    /// "mm/vma: fix anon_vma UAF on mremap() faulted, unfaulted merge") —;
    /// otherwise the anon_vmas must be the same. Before
    /// 6.16 the three-argument form: compatible if either is NULL and the
    /// neighbour's chain is singular, else equal. Returns nil when compatible.
    func isMergeableAnonVMA(_ vmg: VMAMergeProposal, mergeNext: Bool) -> String? {
        guard let tgt = mergeNext ? vmg.next : vmg.prev else { return "no neighbour" }
        let tgtAnon = tgt.anonVMA
        let srcAnon = vmg.anonVMA
        if model.mergeAnonVMA616 {
            if tgtAnon == nil, srcAnon != nil {
                if vmaHadUncowedParents(vmg.middle) { return "source VMA is a fork child (chain length ≠ 1)" }
                if vmaHadUncowedParents(vmg.copiedFrom) { return "copied-from VMA is a fork child (chain length ≠ 1)" }
                return nil
            }
            if tgtAnon != nil, srcAnon == nil {
                return vmaHadUncowedParents(tgt) ? "neighbour is a fork child (chain length ≠ 1)" : nil
            }
            return srcAnon === tgtAnon ? nil : "different anon_vmas"
        }
        if (srcAnon == nil || tgtAnon == nil) && tgt.chain.count == 1 { return nil }
        if srcAnon === tgtAnon { return nil }
        return (srcAnon == nil || tgtAnon == nil)
            ? "one side has no anon_vma and the neighbour's chain is not singular (pre-6.16 rule)"
            : "different anon_vmas"
    }

    /// Models can_vma_merge_before() (mm/vma.c): R1, R2 and R3 against `next`
    /// (`next.pgoff == pgoff + pages`).
    func canVMAMergeBefore(_ vmg: VMAMergeProposal) -> String? {
        if let why = isMergeableVMA(vmg, mergeNext: true) { return why }
        if let why = isMergeableAnonVMA(vmg, mergeNext: true) { return why }
        let pglen = (vmg.end - vmg.start) >> Linux.PAGE_SHIFT
        return vmg.next!.pgoff == vmg.pgoff &+ pglen ? nil : "pgoff not contiguous"
    }

    /// Models can_vma_merge_after() (mm/vma.c): R1, R2 and R3 against `prev`
    /// (`prev.pgoff + pages(prev) == pgoff`).
    func canVMAMergeAfter(_ vmg: VMAMergeProposal) -> String? {
        if let why = isMergeableVMA(vmg, mergeNext: false) { return why }
        if let why = isMergeableAnonVMA(vmg, mergeNext: false) { return why }
        let prev = vmg.prev!
        return prev.pgoff &+ prev.pages == vmg.pgoff ? nil : "pgoff not contiguous"
    }

    /// Models can_vma_merge_left() (mm/vma.c): R4 adjacency plus can_vma_merge_after().
    func canVMAMergeLeft(_ vmg: VMAMergeProposal) -> Bool {
        guard let prev = vmg.prev else { return false }
        guard prev.end == vmg.start else { return false }
        if let why = canVMAMergeAfter(vmg) {
            tracer.step("can_vma_merge_left", "prev \(prev.rangeDescription): \(why)")
            return false
        }
        return true
    }

    /// Models can_vma_merge_right() (mm/vma.c): R4 adjacency plus
    /// can_vma_merge_before(); when the left merge is possible too, R5: prev
    /// and next must not carry different anon_vmas.
    func canVMAMergeRight(_ vmg: VMAMergeProposal, canMergeLeft: Bool) -> Bool {
        guard let next = vmg.next, vmg.end == next.start else { return false }
        if let why = canVMAMergeBefore(vmg) {
            tracer.step("can_vma_merge_right", "next \(next.rangeDescription): \(why)")
            return false
        }
        guard canMergeLeft, let prev = vmg.prev else { return true }
        if prev.anonVMA == nil || next.anonVMA == nil || prev.anonVMA === next.anonVMA { return true }
        tracer.step("can_vma_merge_right", "prev and next have different anon_vmas (R5): left merge only")
        return false
    }

    // MARK: merging a new range

    /// Models vma_merge_new_range() (mm/vma.c): a range about to be mapped
    /// (mmap, brk, mremap destination, vma_merge_extend) joins `prev` and/or
    /// `next`. Returns the expanded VMA, or nil (no merge: the caller
    /// allocates a VMA).
    func vmaMergeNewRange(_ vmg: inout VMAMergeProposal) -> VMA? {
        vmg.state = .noMerge
        if !vmg.flags.intersection(.special).isEmpty || (vmg.prev == nil && vmg.next == nil) { return nil }
        let end = vmg.end
        let left = canVMAMergeLeft(vmg)
        let right = !vmg.justExpand && canVMAMergeRight(vmg, canMergeLeft: left)
        if right, let next = vmg.next {
            vmg.end = next.end
            vmg.target = next
        }
        if left, let prev = vmg.prev {
            vmg.start = prev.start
            vmg.target = prev
            vmg.pgoff = prev.pgoff
            // can_merge_remove_vma(): no VMA here has a vm_ops->close hook.
        }
        guard let target = vmg.target else {
            tracer.step("vma_merge_new_range", "[\(hex(vmg.start))-\(hex(end))): no compatible neighbour; no merge")
            return nil
        }
        let side: MergeSide = left && right ? .both : (left ? .prev : .next)
        vmg.side = side
        let before = tracer.enabled ? target.rangeDescription : ""
        vmaExpand(&vmg)
        vmg.state = .success
        stats.vmas.merged += 1
        effects.merged = side
        tracer.step("vma_merge_new_range", "\(side == .both ? "prev and next" : side.rawValue) \(before) compatible; expanded to \(target.rangeDescription)")
        return target
    }

    /// Models vma_merge_copied_range() (mm/vma.c): copy_vma()'s merge of the
    /// destination range, vma_merge_new_range() with `vmg->copied_from` set to
    /// the VMA being copied, so that the anon_vma rules and vma_expand() see it.
    func vmaMergeCopiedRange(_ vmg: inout VMAMergeProposal, copiedFrom: VMA) -> VMA? {
        vmg.copiedFrom = copiedFrom
        vmg.middle = nil
        return vmaMergeNewRange(&vmg)
    }

    /// Models vma_expand() (mm/vma.c): grow `vmg.target` to [start, end),
    /// absorbing `vmg.next` when the range ends at next's end. The anon_vma
    /// state is propagated by dup_anon_vma() from next when it is removed and
    /// from the copied-from VMA of an mremap (a no-op when the target already
    /// has an anon_vma).
    func vmaExpand(_ vmg: inout VMAMergeProposal) {
        let target = vmg.target!
        vmaStartWrite(vmg.mm, target)
        if let next = vmg.next, next !== target, vmg.end == next.end {
            vmaStartWrite(vmg.mm, next)
            dupAnonVMA(target: target, source: next, pid: vmg.pid)
            vmg.removeNext = true
        }
        if let src = vmg.copiedFrom { dupAnonVMA(target: target, source: src, pid: vmg.pid) }
        commitMerge(&vmg)
    }

    // MARK: merging a modified range

    /// Models vma_merge_existing_range() (mm/vma.c): [start, end) of
    /// `vmg.middle` is about to get new attributes; merge it into `prev`
    /// and/or `next` when the range touches middle's start and/or end and the
    /// rules allow. Returns the merged VMA, or nil (the caller splits).
    func vmaMergeExistingRange(_ vmg: inout VMAMergeProposal) -> VMA? {
        let middle = vmg.middle!
        let start = vmg.start, end = vmg.end
        let leftSide = start == middle.start
        let rightSide = end == middle.end
        vmg.state = .noMerge
        if case .special = middle.kind { return nil }
        if !vmg.flags.intersection(.special).isEmpty || (!leftSide && !rightSide) { return nil }

        let mergeLeft = leftSide && canVMAMergeLeft(vmg)
        var mergeRight = false
        if rightSide {
            vmg.next = vmg.mm.vmas.next(of: middle)
            mergeRight = canVMAMergeRight(vmg, canMergeLeft: mergeLeft)
        }
        guard mergeLeft || mergeRight else { return nil }
        let mergeBoth = mergeLeft && mergeRight
        vmg.removeMiddle = leftSide && rightSide
        vmg.removeNext = mergeBoth

        vmaStartWrite(vmg.mm, middle)
        if mergeRight, let next = vmg.next {
            vmaStartWrite(vmg.mm, next)
            vmg.target = next
        }
        if mergeLeft, let prev = vmg.prev {
            vmaStartWrite(vmg.mm, prev)
            vmg.target = prev
        }

        if mergeBoth, let prev = vmg.prev, let next = vmg.next {
            // prev extends over middle and next; both are deleted.
            vmg.start = prev.start
            vmg.end = next.end
            vmg.pgoff = prev.pgoff
            dupAnonVMA(target: prev, source: next.anonVMA != nil ? next : middle, pid: vmg.pid)
            vmg.side = .both
        } else if mergeLeft, let prev = vmg.prev {
            // prev extends; middle is deleted or shrinks from the left.
            vmg.start = prev.start
            vmg.pgoff = prev.pgoff
            if !vmg.removeMiddle { vmg.adjustMiddleStart = true }
            dupAnonVMA(target: prev, source: middle, pid: vmg.pid)
            vmg.side = .prev
        } else if let next = vmg.next {
            // next extends downwards; middle is deleted or shrinks from the right.
            let pglen = (end - start) >> Linux.PAGE_SHIFT
            if vmg.removeMiddle {
                vmg.end = next.end
                vmg.pgoff = next.pgoff &- pglen
            } else {
                vmg.adjustNextStart = true
                vmg.start = middle.start
                vmg.end = start
                vmg.pgoff = middle.pgoff
            }
            dupAnonVMA(target: next, source: middle, pid: vmg.pid)
            vmg.side = .next
        }
        commitMerge(&vmg)
        vmg.state = .success
        stats.vmas.merged += 1
        effects.merged = vmg.side
        let target = vmg.target!
        tracer.step("vma_merge_existing_range", "[\(hex(start))-\(hex(end))) of \(middle.rangeDescription) merged with \(vmg.side!.rawValue); result \(target.rangeDescription)")
        return target
    }

    // MARK: committing

    /// Models commit_merge() with vma_prepare()/vma_complete() (mm/vma.c):
    /// sets the new ranges, removes the VMAs the merge deletes (their chains
    /// unlinked through anon_vma_merge()), and ORs the sticky flags of every
    /// VMA that ends up inside the target into it.
    func commitMerge(_ vmg: inout VMAMergeProposal) {
        let mm = vmg.mm
        let target = vmg.target!
        var sticky = vmg.flags.union(target.flags)
        // Remove first, while the tree is still ordered by the old ranges.
        if vmg.removeMiddle, let middle = vmg.middle, middle !== target {
            sticky.formUnion(middle.flags)
            removeMergedVMA(mm, middle, into: target)
        }
        if vmg.removeNext, let next = vmg.next, next !== target {
            sticky.formUnion(next.flags)
            removeMergedVMA(mm, next, into: target)
        }
        if vmg.adjustNextStart, let middle = vmg.middle, let next = vmg.next {
            // middle keeps [start, end) of the proposal; next grows down to it.
            let shift = (next.start - vmg.end) >> Linux.PAGE_SHIFT
            middle.end = vmg.end
            next.start = vmg.end
            next.pgoff = next.pgoff &- shift
        } else {
            if vmg.adjustMiddleStart, let middle = vmg.middle {
                middle.pgoff = middle.pgoff &+ ((vmg.end - middle.start) >> Linux.PAGE_SHIFT)
                middle.start = vmg.end
            }
            target.start = vmg.start
            target.end = vmg.end
            target.pgoff = vmg.pgoff
        }
        target.flags.formUnion(sticky.intersection(.sticky))
    }

    /// Removes a VMA a merge deleted: detach it, and, if it had an anon_vma,
    /// anon_vma_merge() → unlink_anon_vmas() (the survivor keeps the same
    /// anon_vma linked, so nothing is freed).
    func removeMergedVMA(_ mm: MM, _ vma: VMA, into target: VMA) {
        effects.vmasRemoved.append(VMASnapshot(vma))
        mm.vmas.remove(vma)
        if vma.anonVMA != nil || !vma.chain.isEmpty {
            tracer.step("anon_vma_merge", "\(vma.rangeDescription) merged into \(target.rangeDescription): its chain is unlinked")
            unlinkAnonVMAs(vma)
        }
    }
}
