/// mbind(2) as steps (docs/CONCURRENCY.md §2.12): do_mbind() → mbind_range()
/// → vma_replace_policy() (mm/mempolicy.c), and the mempolicy's lifetime:
/// every VMA holds its own copy (mpol_dup() at split, copy_vma() and fork;
/// mpol_put() at remove_vma()), and a fault reads `vma->vm_policy` in
/// get_vma_policy() and allocates with it in vma_alloc_folio() without a
/// reference. Locking rule: the policy pointer is replaced under
/// mmap_write_lock(); from 6.4.8 (6c21e066f925, "mm/mempolicy: Take VMA lock
/// before replacing policy") also under vma_start_write(), which waits for
/// the per-VMA faults reading it. Before, R-F (CVE-2023-4611): the old
/// policy is freed under a fault still using it (D11).

/// A memory policy mode (include/uapi/linux/mempolicy.h). The engine keeps
/// no node mask: policies are equal (mpol_equal()) when their modes are.
public enum MempolicyMode: Int, CaseIterable, Sendable, Hashable {
    case defaultPolicy = 0, preferred, bind, interleave, local, preferredMany, weightedInterleave

    /// The constant's name ("MPOL_BIND").
    public var name: String {
        switch self {
        case .defaultPolicy: "MPOL_DEFAULT"
        case .preferred: "MPOL_PREFERRED"
        case .bind: "MPOL_BIND"
        case .interleave: "MPOL_INTERLEAVE"
        case .local: "MPOL_LOCAL"
        case .preferredMany: "MPOL_PREFERRED_MANY"
        case .weightedInterleave: "MPOL_WEIGHTED_INTERLEAVE"
        }
    }

    /// A mode from its name ("MPOL_BIND", case-insensitive, the prefix optional) or its number.
    public init?(name: String) {
        let n = name.uppercased()
        if let i = Int(n), let m = MempolicyMode(rawValue: i) {
            self = m
            return
        }
        guard let m = Self.allCases.first(where: { $0.name == n || $0.name == "MPOL_" + n }) else { return nil }
        self = m
    }
}

extension Machine {
    enum MbindPC {
        static let lock = 0, find = 1, splitLock = 2, split = 3, replaceLock = 4, replace = 5
    }

    // MARK: the policy's lifetime

    /// mpol_equal(): both the default policy, or the same mode.
    func samePolicy(_ a: EVMA, _ b: EVMA) -> Bool {
        a.policy.map { w.policies[$0].mode } == b.policy.map { w.policies[$0].mode }
    }

    /// vma_dup_policy(): a VMA made from a copy of another gets its own copy of the policy.
    mutating func copyPolicy(to v: Int) {
        guard let p = w.vmas[v].policy else { return }
        w.vmas[v].policy = newPolicy(w.policies[p].mode)
    }

    /// mpol_new() / mpol_dup(): a policy with one reference.
    mutating func newPolicy(_ mode: MempolicyMode) -> Int {
        w.policies.append(EPolicy(id: w.policies.count + 1, mode: mode, refs: 1))
        return w.policies.count - 1
    }

    /// mpol_put(): the last reference frees it at once (kmem_cache_free()).
    mutating func putPolicy(_ p: Int) {
        rec.writes.append(.policy(p))
        w.policies[p].refs -= 1
    }

    /// A fault's use of the policy it read (vma_alloc_folio()): D11 when freed.
    mutating func usePolicy(_ p: Int) {
        rec.reads.append(.policy(p))
        if w.policies[p].refs <= 0 { fire(.D11, .policyReplace, [.policy(p)]) }
    }

    // MARK: mbind(addr, len, mode)

    /// One step of mbind(addr, len, mode, no nodemask, flags 0). Every VMA in
    /// the range gets the policy: split at the range's ends (write-locked
    /// first, as __split_vma() does), then vma_replace_policy(). The
    /// vma_merge() attempt of mbind_range() is not modelled.
    mutating func mbindStep(_ addr: UInt64, _ length: UInt64, _ mode: MempolicyMode) {
        let start = addr, end = addr &+ pageAlign(length)
        switch t.pc {
        case MbindPC.lock:
            writeLockStep("do_mbind", next: MbindPC.find)
        case MbindPC.find:
            readTree(race: .policyReplace)
            if addr & 0xfff != 0 || end < start {
                step("do_mbind", "EINVAL")
                mmapUnlock()
                return finishOp()
            }
            let list = w.overlapping(start, end)
            var at = start
            for v in list where w.vmas[v].start <= at { at = max(at, w.vmas[v].end) }
            guard end > start, at >= end else {
                step("do_mbind", end == start ? "len 0: nothing to do" : "a hole in [\(hex(start)), \(hex(end))): EFAULT")
                mmapUnlock()
                return finishOp()
            }
            // mpol_new(): MPOL_DEFAULT is the NULL policy.
            t.source = mode == .defaultPolicy ? nil : newPolicy(mode)
            t.list = list
            t.k = 0
            step("do_mbind", "\(mode.name) on \(list.count) VMA(s) in [\(hex(start)), \(hex(end)))")
            t.pc = MbindPC.splitLock
        case MbindPC.splitLock:
            guard t.k < t.list.count else { return mbindDone() }
            let v = t.list[t.k]
            t.v = v
            rec.reads.append(.vma(v, .policy))
            if samePolicy(w.vmas[v], EVMA.withPolicy(t.source)) {
                // mbind_range(): mpol_equal() → nothing to change in this VMA.
                t.k += 1
                return mbindStep(addr, length, mode)
            }
            let needsSplit = w.vmas[v].start < start || w.vmas[v].end > end
            t.pc = needsSplit ? MbindPC.split : MbindPC.replaceLock
            // __split_vma() write-locks the VMA it splits.
            if !lockStep(needsSplit, v) { mbindStep(addr, length, mode) }
        case MbindPC.split:
            let v = t.v!
            if w.vmas[v].start < start { _ = splitVMA(v, at: start, newBelow: true, race: .policyReplace) }
            if w.vmas[v].end > end { _ = splitVMA(v, at: end, newBelow: false, race: .policyReplace) }
            step("split_vma", "V#\(w.vmas[v].id) is now \(hexRange(w.vmas[v].start, w.vmas[v].end))")
            t.pc = MbindPC.replaceLock
        case MbindPC.replaceLock:
            t.pc = MbindPC.replace
            // 6c21e066f925 (6.4.8+): vma_replace_policy() write-locks the VMA first.
            if !lockStep(model.mpolWriteLocks, t.v!) { mbindStep(addr, length, mode) }
        case MbindPC.replace:
            // vma_replace_policy(): new = mpol_dup(pol); old = vma->vm_policy;
            // vma->vm_policy = new; mpol_put(old).
            let v = t.v!
            let old = w.vmas[v].policy
            let new = t.source.map { newPolicy(w.policies[$0].mode) }
            writeVMA(v, .policy, race: .policyReplace)
            w.vmas[v].policy = new
            if let o = old { putPolicy(o) }
            step("vma_replace_policy", "V#\(w.vmas[v].id): \(old.map { "mpol#\(w.policies[$0].id)" } ?? "default") → "
                 + "\(new.map { "mpol#\(w.policies[$0].id) (\(mode.name))" } ?? "default")\(old == nil ? "" : ", old policy freed")"
                 + (w.isWriteLocked(v) || !model.perVMALock ? "" : " (V not write-locked)"))
            t.k += 1
            t.pc = MbindPC.splitLock
        default:
            preconditionFailure("mbind pc \(t.pc)")
        }
    }

    /// vma_start_write(v) as a step of its own when `needed` and v is not
    /// write-locked yet; false when there is nothing to lock.
    private mutating func lockStep(_ needed: Bool, _ v: Int) -> Bool {
        guard needed && model.perVMALock && !w.isWriteLocked(v) else { return false }
        step("vma_start_write", "V#\(w.vmas[v].id)")
        _ = vmaStartWrite(v)
        return true
    }

    /// The end of do_mbind(): mmap_write_unlock(), mpol_put() of the policy mpol_new() made.
    private mutating func mbindDone() {
        step("mmap_write_unlock", "mbind done")
        if let p = t.source { putPolicy(p) }
        mmapUnlock()
        finishOp()
    }
}

extension EVMA {
    /// A VMA value used only to compare a policy (mpol_equal()).
    static func withPolicy(_ p: Int?) -> EVMA {
        EVMA(id: 0, mm: 0, start: 0, end: 0, pgoff: 0, flags: [], anonymous: true, file: nil, anonVMA: nil, policy: p)
    }
}
