/// The detectors of docs/CONCURRENCY.md §7: predicates checked on every
/// step's recorded accesses and held locks.
public enum Detector: String, CaseIterable, Sendable, Comparable {
    case D1, D1r, D2, D3, D3b, D4, D4s, D5, D6, D7, D8, D9, D10, D11, D12

    /// The detector's name as reports print it.
    public var name: String {
        switch self {
        case .D1: "UNLOCKED_VMA_READ"
        case .D1r: "UNVALIDATED_LOOKUP"
        case .D2: "UNLOCKED_TREE_WALK"
        case .D3: "VMA_WRITE_UNLOCKED"
        case .D3b: "VMA_WRITE_UNDER_READER"
        case .D4: "TREE_WRITE_UNDER_READ_LOCK"
        case .D4s: "STACKROT"
        case .D5: "VMA_UAF"
        case .D6: "ANON_VMA_UAF"
        case .D7: "ORPHAN_ANON_FOLIO"
        case .D8: "FORK_PTE_CHANGED"
        case .D9: "CHILD_PTE_WITHOUT_ANON_VMA"
        case .D10: "FAULT_ON_DETACHED"
        case .D11: "POLICY_UAF"
        case .D12: "DEADLOCK"
        }
    }

    /// What the predicate means, in plain English.
    public var meaning: String {
        switch self {
        case .D1: "a thread read a VMA's anon_vma, chain, flags, file or pgoff holding neither mmap_lock, nor that VMA's read lock, nor an RCU read section"
        case .D1r: "a per-VMA fault entered the handler although the only vma->anon_vma test that admitted it ran before vma_start_read()"
        case .D2: "a thread walked the VMA tree holding neither mmap_lock nor an RCU read section"
        case .D3: "a thread changed an attached VMA's layout, flags or anon_vma without write-locking the VMA (vm_lock_seq != mm_lock_seq)"
        case .D3b: "a thread changed an attached VMA without its write lock while another thread held the VMA read lock"
        case .D4: "a thread changed the VMA tree holding mmap_lock only for read"
        case .D4s: "a thread read a maple-tree node that a gap-removing tree write replaced and a grace period freed after the thread had loaded it (StackRot)"
        case .D5: "a thread accessed a VMA object after it was freed"
        case .D6: "a thread used an anon_vma after its last reference was put, or a VMA points at a freed anon_vma"
        case .D7: "a present PTE maps an anonymous folio whose anon_vma is not on the VMA's anon_vma chain (rmap cannot find the page)"
        case .D8: "between fork's write-protect of a parent PTE and its flush_tlb_mm(), another thread replaced or write-enabled that PTE"
        case .D9: "a fork child's VMA without anon_vma has a present anonymous PTE"
        case .D10: "a fault passed lock_vma_under_rcu() holding a VMA that munmap had already detached"
        case .D11: "a fault used a mempolicy whose reference count reached 0"
        case .D12: "no thread can run (a cycle in the wait-for graph)"
        }
    }

    public static func < (a: Detector, b: Detector) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The races of docs/CONCURRENCY.md §3 a hazard belongs to, with the
/// commit that removed each from real kernels.
enum Race: String, Sendable {
    /// R-A: __anon_vma_prepare() holding only the VMA lock (patch 26/35 avoids it).
    case prepareUnderVMALock = "R-A"
    /// R-B: fork's copy_page_range() against a fault in the parent.
    case forkVsFault = "R-B"
    /// R-C: StackRot, stack expansion under mmap_read_lock.
    case stackRot = "R-C"
    /// R-C2: stack expansion without vma_start_write().
    case stackNoVMALock = "R-C2"
    /// R-D1: dup_anon_vma() publishing an anon_vma on an unlocked VMA.
    case dupAnonVMA = "R-D1"
    /// R-E: the anon_vma test made before vma_start_read().
    case anonTestBeforeLock = "R-E"
    /// R-F: mbind() replacing a VMA's mempolicy without the VMA lock (CVE-2023-4611).
    case policyReplace = "R-F"
    /// R-H: fault on a detached VMA (only the `no-detach-check` mutant).
    case detached = "R-H"
    /// R-I: blocking mmap_lock while holding a VMA read lock (only the `6.18-blocking-prepare` mutant).
    case blockingPrepare = "R-I"
    /// A wait-for cycle not caused by one of the above.
    case deadlock = "deadlock"

    /// The fixing commit (nil: hypothetical model or test-only mutant).
    var fixedBy: String? {
        switch self {
        case .prepareUnderVMALock: nil   // patch 26/35 itself; hash not identified
        case .forkVsFault: "fb49c455323f"
        case .stackRot: "8d7071af8907"
        case .stackNoVMALock: "c137381f71ae"
        case .dupAnonVMA: "d8ab9f7b644a"
        case .anonTestBeforeLock: "657b5146955e"
        case .policyReplace: "6c21e066f925"
        case .detached, .blockingPrepare, .deadlock: nil
        }
    }

    /// The race in one sentence.
    var story: String {
        switch self {
        case .prepareUnderVMALock: "__anon_vma_prepare() ran holding only the faulting VMA's read lock, so find_mergeable_anon_vma() walked the tree and read neighbours another thread could unmap or change (race R-A, the reason for patch 26/35)"
        case .forkVsFault: "fork() copied and write-protected parent PTEs while a fault in the parent ran under the VMA lock, which dup_mmap() did not take (race R-B, fixed by fb49c455323f)"
        case .stackRot: "the stack grew under mmap_read_lock and replaced a maple-tree node that a reader under the same read lock still used outside RCU (StackRot, CVE-2023-3269, fixed by 8d7071af8907 and its series)"
        case .stackNoVMALock: "expand_downwards() moved vm_start without vma_start_write(), so a per-VMA fault inside the stack ran while its layout changed (race R-C2, fixed by c137381f71ae)"
        case .dupAnonVMA: "dup_anon_vma() set dst->anon_vma before vma_prepare() write-locked dst, so a per-VMA fault installed pages of an anon_vma not yet on dst's chain (race R-D1, fixed by d8ab9f7b644a)"
        case .anonTestBeforeLock: "lock_vma_under_rcu() tested vma->anon_vma before vma_start_read(); a concurrent mremap(MREMAP_DONTUNMAP) cleared it, and the fault prepared an anon_vma holding only the VMA lock (race R-E, fixed by 657b5146955e)"
        case .policyReplace: "mbind() replaced the VMA's mempolicy and freed the old one (vma_replace_policy()) without vma_start_write(), while a fault under the VMA read lock was still allocating with it in vma_alloc_folio() (race R-F, CVE-2023-4611, fixed by 6c21e066f925)"
        case .detached: "the no-detach-check mutant skips the detached test of lock_vma_under_rcu()"
        case .blockingPrepare: "the 6.18-blocking-prepare mutant blocks in mmap_read_lock() while holding a VMA read lock that an mmap_lock writer waits for"
        case .deadlock: "the threads wait for each other"
        }
    }
}
