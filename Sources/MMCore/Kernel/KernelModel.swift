/// The per-version rules in one place: a kernel version is data, not
/// scattered `if version == …` (kernel-model.md §0.1, §4.9–4.12, §9.3).
public struct KernelModel: Sendable, Equatable, Hashable {
    /// API id: "6.3", "v3-patch", "6.4", "6.18".
    public let id: String
    /// kernel-model.md name: M0…M3.
    public let spec: String
    public let title: String
    public let summary: String

    /// CONFIG_PER_VMA_LOCK: user faults first try lock_vma_under_rcu().
    public let perVMALock: Bool
    /// M1/M2: lock_vma_under_rcu() rejects VMAs with vm_ops (`NOT_ANON`).
    public let lookupRequiresAnonymous: Bool
    /// M1/M2: lock_vma_under_rcu() rejects anonymous VMAs without anon_vma (`NO_ANON_VMA`).
    public let lookupRequiresAnonVMA: Bool
    /// M3 (6.10+): access errors raise SIGSEGV under the VMA lock; M1/M2 fall back (`ACCESS_ERROR`).
    public let accessErrorUnderVMALock: Bool
    /// M3 (6.10+): vmf_anon_prepare() tries mmap_read_trylock() instead of retrying.
    public let anonPrepareTrylock: Bool
    /// M3 (6.4.1+/6.5+): stack expansion only under the mmap_lock write lock (lock_mm_and_find_vma()).
    public let stackExpandUnderWriteLock: Bool
    /// M3 (6.5+, fb49c455323f): dup_mmap() write-locks every parent VMA.
    public let forkWriteLocksParentVMAs: Bool
    /// M3 (6.16+): is_mergeable_anon_vma() fork-child rule; older kernels need the neighbour's chain singular.
    public let mergeAnonVMA616: Bool
    /// M3 (~6.8+): mprotect drops VM_ACCOUNT from unfaulted anonymous VMAs made read-only.
    public let mprotectUnaccountsUnfaulted: Bool
    /// M3 (~6.7+): MAP_STACK sets VM_NOHUGEPAGE.
    public let mapStackSetsNoHugepage: Bool
    /// M3 (6.13+): MADV_GUARD_INSTALL / MADV_GUARD_REMOVE exist.
    public let guardRegions: Bool
    /// M1/M2: lock_vma_under_rcu() rejects userfaultfd-armed VMAs (`UFFD_ARMED`, v3 29/35).
    public internal(set) var lookupRejectsUffdArmed = false
    /// M1/M2: do_swap_page() returns RETRY for every non-present PTE under the VMA lock (`SWAP_RETRY`).
    public internal(set) var swapRetryUnderVMALock = false
    /// M3 (6.15+, SLAB_TYPESAFE_BY_RCU VMAs): vma_start_read() can find a VMA reused by another mm (`VMA_RECYCLED`).
    public internal(set) var lookupDetectsRecycledVMA = false

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
        lookupRejectsUffdArmed: true, swapRetryUnderVMALock: true)

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
        lookupDetectsRecycledVMA: true)

    /// Every model, oldest first.
    public static let all: [KernelModel] = [.v6_3, .v3Patch, .v6_4, .v6_18]
    /// The default model.
    public static let `default` = v6_18

    /// Looks a model up by its API id.
    public static func named(_ id: String) -> KernelModel? { all.first { $0.id == id } }
}

/// The thread's "what if" options (kernel-model.md §8.4); not kernel behaviour.
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

/// Concurrent conditions injected into one fault (kernel-model.md §4.1–4.2).
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
