/// The per-version rules in one place: a kernel version is data, not
/// scattered `if version == …` (docs/KERNEL-MODEL.md §0.1, §4.9–4.12, §9.3).
public struct KernelModel: Sendable, Equatable, Hashable {
    /// API id: "6.3", "v3-patch", "6.4", "6.18", and the 6.4.y / hypothetical
    /// ids of docs/CONCURRENCY.md §4.
    public internal(set) var id: String
    /// docs/KERNEL-MODEL.md name: M0…M3 (variants keep their base's).
    public internal(set) var spec: String
    public internal(set) var title: String
    public internal(set) var summary: String

    /// CONFIG_PER_VMA_LOCK: user faults first try lock_vma_under_rcu().
    public internal(set) var perVMALock: Bool
    /// M1/M2: lock_vma_under_rcu() rejects VMAs with vm_ops (`NOT_ANON`).
    public internal(set) var lookupRequiresAnonymous: Bool
    /// M1/M2: lock_vma_under_rcu() rejects anonymous VMAs without anon_vma (`NO_ANON_VMA`).
    public internal(set) var lookupRequiresAnonVMA: Bool
    /// M3 (6.10+): access errors raise SIGSEGV under the VMA lock; M1/M2 fall back (`ACCESS_ERROR`).
    public internal(set) var accessErrorUnderVMALock: Bool
    /// M3 (6.10+): vmf_anon_prepare() tries mmap_read_trylock() instead of retrying.
    public internal(set) var anonPrepareTrylock: Bool
    /// M3 (6.4.1+/6.5+): stack expansion only under the mmap_lock write lock (lock_mm_and_find_vma()).
    public internal(set) var stackExpandUnderWriteLock: Bool
    /// M3 (6.5+, fb49c455323f): dup_mmap() write-locks every parent VMA.
    public internal(set) var forkWriteLocksParentVMAs: Bool
    /// M3 (6.16+): is_mergeable_anon_vma() fork-child rule; older kernels need the neighbour's chain singular.
    public internal(set) var mergeAnonVMA616: Bool
    /// M3 (~6.8+): mprotect drops VM_ACCOUNT from unfaulted anonymous VMAs made read-only.
    public internal(set) var mprotectUnaccountsUnfaulted: Bool
    /// M3 (~6.7+): MAP_STACK sets VM_NOHUGEPAGE.
    public internal(set) var mapStackSetsNoHugepage: Bool
    /// M3 (6.13+): MADV_GUARD_INSTALL / MADV_GUARD_REMOVE exist.
    public internal(set) var guardRegions: Bool
    /// M1/M2: lock_vma_under_rcu() rejects userfaultfd-armed VMAs (`UFFD_ARMED`, v3 29/35).
    public internal(set) var lookupRejectsUffdArmed = false
    /// M1/M2: do_swap_page() returns RETRY for every non-present PTE under the VMA lock (`SWAP_RETRY`).
    public internal(set) var swapRetryUnderVMALock = false
    /// M3 (6.15+, SLAB_TYPESAFE_BY_RCU VMAs): vma_start_read() can find a VMA reused by another mm (`VMA_RECYCLED`).
    public internal(set) var lookupDetectsRecycledVMA = false

    // MARK: concurrency switches (docs/CONCURRENCY.md §4)

    /// 657b5146955e (6.4.9, 6.5-rc4): lock_vma_under_rcu() tests vma->anon_vma
    /// after vma_start_read(), not before (the anonymous test stays before).
    public internal(set) var anonCheckAfterVMALock = false
    /// v3 16/35: vma_merge() write-locks prev, middle and next at entry, before deciding.
    public internal(set) var mergeLocksBeforeDecision = false
    /// c137381f71ae (6.4.3, 6.5-rc1): expand_downwards() calls vma_start_write() on the stack.
    public internal(set) var stackExpandWriteLocksVMA = false
    /// d8ab9f7b644a (6.4.8, 6.5-rc4): dup_anon_vma() write-locks dst before setting dst->anon_vma.
    public internal(set) var dupAnonVMAWriteLocks = false
    /// 6c21e066f925 (6.4.8, 6.5-rc4): vma_replace_policy() write-locks the VMA (mbind is not modelled).
    public internal(set) var mpolWriteLocks = false
    /// 33313a747e81 + 1c7873e33645 (6.4.3): mmap_region() write-locks the new VMA before inserting it.
    public internal(set) var newVMALockedBeforeInsert = false
    /// "mm: always lock new vma before inserting into vma tree" (~6.6): splits,
    /// brk and vma_link() write-lock every new VMA before it becomes visible.
    public internal(set) var everyNewVMALockedBeforeInsert = false
    /// The VMA read lock: an rw-semaphore with a detached flag (≤6.14) or vm_refcnt (6.15+).
    public internal(set) var vmaLockImpl: VMALockImpl = .rwsem
    /// Hypothetical (the v3 series without patch 26/35): an anonymous fault
    /// without anon_vma is admitted under the VMA lock and __anon_vma_prepare()
    /// runs holding only that lock (lock code `VMA_OK`: no mmap_lock is taken).
    public internal(set) var anonPrepareUnderVMALock = false

    /// M0: every user fault under mmap_read_lock.
    public static let v6_3 = KernelModel(
        id: "6.3", spec: "M0", title: "Linux 6.3 (mmap_lock only)",
        summary: "Before per-VMA locks: every user page fault takes mmap_read_lock, finds the VMA with find_vma() and runs handle_mm_fault() under it; stack expansion happens under the read lock. anon_vma_prepare() runs under mmap_read_lock.",
        perVMALock: false, lookupRequiresAnonymous: false, lookupRequiresAnonVMA: false,
        accessErrorUnderVMALock: false, anonPrepareTrylock: false, stackExpandUnderWriteLock: false,
        forkWriteLocksParentVMAs: false, mergeAnonVMA616: false, mprotectUnaccountsUnfaulted: false,
        mapStackSetsNoHugepage: false, guardRegions: false)

    /// M1: Suren Baghdasaryan's v3 series with patch 26/35 applied.
    public static let v3Patch = KernelModel(
        id: "v3-patch", spec: "M1", title: "v3 per-VMA lock series (Feb 2023, patch 26/35)",
        summary: "lock_vma_under_rcu() accepts only private anonymous VMAs that already have an anon_vma (patch 26/35 falls back when vma->anon_vma is NULL because find_mergeable_anon_vma() walks unlocked neighbours). File, shmem and special VMAs, anonymous VMAs without anon_vma (even for read faults), access errors and swap-ins fall back to mmap_lock.",
        perVMALock: true, lookupRequiresAnonymous: true, lookupRequiresAnonVMA: true,
        accessErrorUnderVMALock: false, anonPrepareTrylock: false, stackExpandUnderWriteLock: false,
        forkWriteLocksParentVMAs: false, mergeAnonVMA616: false, mprotectUnaccountsUnfaulted: false,
        mapStackSetsNoHugepage: false, guardRegions: false,
        lookupRejectsUffdArmed: true, swapRetryUnderVMALock: true,
        mergeLocksBeforeDecision: true)

    /// M2: v6.4.0 as released.
    public static let v6_4 = KernelModel(
        id: "6.4", spec: "M2", title: "Linux 6.4.0 (per-VMA locks as merged)",
        summary: "As the v3 patch: the per-VMA path only for private anonymous VMAs with an anon_vma; everything else falls back to mmap_lock at lookup (NOT_ANON, NO_ANON_VMA). Access errors fall back before SIGSEGV. Stack expansion under the read lock; fork does not write-lock parent VMAs (fixed in 6.4.y).",
        perVMALock: true, lookupRequiresAnonymous: true, lookupRequiresAnonVMA: true,
        accessErrorUnderVMALock: false, anonPrepareTrylock: false, stackExpandUnderWriteLock: false,
        forkWriteLocksParentVMAs: false, mergeAnonVMA616: false, mprotectUnaccountsUnfaulted: false,
        mapStackSetsNoHugepage: false, guardRegions: false,
        lookupRejectsUffdArmed: true, swapRetryUnderVMALock: true)

    /// M3: the live 6.18 kernel of the test machine.
    public static let v6_18 = KernelModel(
        id: "6.18", spec: "M3", title: "Linux 6.18 (current)",
        summary: "Any VMA that lock_vma_under_rcu() finds and read-locks is handled under its lock, file and shmem included. The anon_vma check moved to the point of need: vmf_anon_prepare() takes mmap_read_trylock() to run __anon_vma_prepare() and only falls back (RETRY) when that fails. Access errors raise SIGSEGV under the VMA lock; gaps and stack growth go to lock_mm_and_find_vma().",
        perVMALock: true, lookupRequiresAnonymous: false, lookupRequiresAnonVMA: false,
        accessErrorUnderVMALock: true, anonPrepareTrylock: true, stackExpandUnderWriteLock: true,
        forkWriteLocksParentVMAs: true, mergeAnonVMA616: true, mprotectUnaccountsUnfaulted: true,
        mapStackSetsNoHugepage: true, guardRegions: true,
        lookupDetectsRecycledVMA: true,
        anonCheckAfterVMALock: true, stackExpandWriteLocksVMA: true, dupAnonVMAWriteLocks: true,
        mpolWriteLocks: true, newVMALockedBeforeInsert: true, everyNewVMALockedBeforeInsert: true,
        vmaLockImpl: .refcount)

    /// Every model, oldest first (docs/CONCURRENCY.md §4).
    public static let all: [KernelModel] = [.v6_3, .v6_3_11, .v3No26, .v3Patch, .v6_4No26, .v6_4, .v6_4_1,
                                            .v6_4_3, .v6_4_8, .v6_4_9, .v6_18]
    /// The four models of the original comparison (M0–M3): `mmsim compare`'s default columns.
    public static let historic: [KernelModel] = [.v6_3, .v3Patch, .v6_4, .v6_18]
    /// The default model.
    public static let `default` = v6_18

    /// Looks a model up by its API id.
    public static func named(_ id: String) -> KernelModel? { all.first { $0.id == id } }
}

/// The thread's "what if" options (docs/KERNEL-MODEL.md §8.4); not kernel behaviour.
public struct ModelOptions: Sendable, Equatable, Hashable, Codable {
    /// Allocate the anon_vma when a private writable VMA is created, not at first write fault.
    public var eagerAnonVMA: Bool
    /// Skip find_mergeable_anon_vma() for private file mappings (and with it the mmap_read_trylock).
    public var skipMergeableForFile: Bool

    public init(eagerAnonVMA: Bool = false, skipMergeableForFile: Bool = false) {
        self.eagerAnonVMA = eagerAnonVMA
        self.skipMergeableForFile = skipMergeableForFile
    }
}

/// Concurrent conditions injected into one fault (docs/KERNEL-MODEL.md §4.1–4.2).
public struct FaultInjection: Sendable, Equatable {
    /// Every mmap_read_trylock() fails.
    public var mmapLockContended: Bool
    /// Another thread holds mmap_lock for write and has write-locked the VMA.
    public var vmaWriteLocked: Bool
    /// The file page is not cached or its folio is locked: I/O needed.
    public var pageCacheMiss: Bool
    /// The VMA found by the RCU walk was detached before it could be read-locked
    /// (`VMA_LOCK_MISS`: the lookup is retried once).
    public var vmaDetachedDuringLookup: Bool
    /// M3: the VMA object was freed and reused by another mm during the lookup (`VMA_RECYCLED`).
    public var vmaRecycled: Bool
    /// The locked VMA no longer covers the address (shrunk or moved meanwhile; `RANGE_CHANGED`).
    public var vmaRangeChanged: Bool

    public init(mmapLockContended: Bool = false, vmaWriteLocked: Bool = false, pageCacheMiss: Bool = false,
                vmaDetachedDuringLookup: Bool = false, vmaRecycled: Bool = false, vmaRangeChanged: Bool = false) {
        self.mmapLockContended = mmapLockContended
        self.vmaWriteLocked = vmaWriteLocked
        self.pageCacheMiss = pageCacheMiss
        self.vmaDetachedDuringLookup = vmaDetachedDuringLookup
        self.vmaRecycled = vmaRecycled
        self.vmaRangeChanged = vmaRangeChanged
    }

    public static let none = FaultInjection()
}

/// How the per-VMA read lock is implemented (docs/CONCURRENCY.md §1.3–1.4).
public enum VMALockImpl: String, Sendable, Hashable {
    /// vma->vm_lock rw-semaphore plus vma->detached (v3 … 6.14).
    case rwsem
    /// vma->vm_refcnt with VMA_LOCK_OFFSET (6.15+): 0 means detached, lookups get -EAGAIN.
    case refcount
}

/// The 6.3.y, 6.4.y and hypothetical models of docs/CONCURRENCY.md §4: each
/// is its base model plus the fixes (or minus the patch) named in its summary.
extension KernelModel {
    private func variant(_ id: String, _ title: String, _ summary: String,
                         _ change: (inout KernelModel) -> Void) -> KernelModel {
        var m = self
        m.id = id
        m.title = title
        m.summary = summary
        change(&m)
        return m
    }

    /// 6.3.11: 6.3 with the StackRot fix backported (8d7071af8907 and its series).
    public static let v6_3_11 = v6_3.variant(
        "6.3.11", "Linux 6.3.11 (mmap_lock only, StackRot fixed)",
        "6.3 plus the StackRot (CVE-2023-3269) series 8d7071af8907 \"mm: always expand the stack with the mmap write lock held\": a fault below a VM_GROWSDOWN VMA drops mmap_read_lock and grows the stack under mmap_write_lock (lock_mm_and_find_vma()).") {
        $0.stackExpandUnderWriteLock = true
    }

    /// Hypothetical: the v3 series without patch 26/35.
    public static let v3No26 = v3Patch.variant(
        "v3-no-26", "v3 series without patch 26/35 (hypothetical)",
        "The v3 per-VMA lock series without patch 26/35 \"mm: fall back to mmap_lock if vma->anon_vma is not yet set\": lock_vma_under_rcu() admits anonymous VMAs without an anon_vma, and the first write fault runs __anon_vma_prepare() holding only the VMA read lock (lock code VMA_OK: the fault never takes mmap_lock), so find_mergeable_anon_vma() walks the tree and reads neighbours unlocked (race R-A).") {
        $0.lookupRequiresAnonVMA = false
        $0.anonPrepareUnderVMALock = true
    }

    /// Hypothetical: 6.4.0 without the anon_vma test of lock_vma_under_rcu().
    public static let v6_4No26 = v6_4.variant(
        "6.4-no-26", "Linux 6.4.0 without the anon_vma test (hypothetical)",
        "6.4.0 without patch 26/35's anon_vma test: anonymous VMAs without anon_vma are admitted to the per-VMA path and __anon_vma_prepare() runs holding only the VMA read lock (lock code VMA_OK); merges decide before locking (race R-A, including its merge form).") {
        $0.lookupRequiresAnonVMA = false
        $0.anonPrepareUnderVMALock = true
    }

    /// 6.4.1: + the StackRot series (8d7071af8907).
    public static let v6_4_1 = v6_4.variant(
        "6.4.1", "Linux 6.4.1 (StackRot fixed)",
        "6.4.0 plus the StackRot series (8d7071af8907 \"mm: always expand the stack with the mmap write lock held\"): stack growth runs under mmap_write_lock via lock_mm_and_find_vma(), but without vma_start_write() on the stack (c137381f71ae comes in 6.4.3).") {
        $0.stackExpandUnderWriteLock = true
    }

    /// 6.4.3: + fb49c455323f, c137381f71ae, 33313a747e81/1c7873e33645.
    public static let v6_4_3 = v6_4_1.variant(
        "6.4.3", "Linux 6.4.3",
        "6.4.1 plus fb49c455323f \"fork: lock VMAs of the parent process when forking\", c137381f71ae \"mm: lock a vma before stack expansion\" and 33313a747e81 + 1c7873e33645 \"mm: lock newly mapped VMA which can be modified after it becomes visible\".") {
        $0.forkWriteLocksParentVMAs = true
        $0.stackExpandWriteLocksVMA = true
        $0.newVMALockedBeforeInsert = true
    }

    /// 6.4.8: + d8ab9f7b644a, 6c21e066f925 (and b1f02b95758d, not observable here).
    public static let v6_4_8 = v6_4_3.variant(
        "6.4.8", "Linux 6.4.8",
        "6.4.3 plus d8ab9f7b644a \"mm: lock VMA in dup_anon_vma() before setting ->anon_vma\", 6c21e066f925 \"mm/mempolicy: Take VMA lock before replacing policy\" and b1f02b95758d (memory ordering of mm_lock_seq/vm_lock_seq, which a sequentially consistent model cannot show). The anon_vma test still runs before vma_start_read().") {
        $0.dupAnonVMAWriteLocks = true
        $0.mpolWriteLocks = true
    }

    /// 6.4.9: + 657b5146955e (= 6.5 for every modelled path).
    public static let v6_4_9 = v6_4_8.variant(
        "6.4.9", "Linux 6.4.9",
        "6.4.8 plus 657b5146955e \"mm: lock_vma_under_rcu() must check vma->anon_vma under vma lock\": every fix of the per-VMA-lock races modelled here, as in 6.5.") {
        $0.anonCheckAfterVMALock = true
    }
}
