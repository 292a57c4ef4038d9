/// The access a fault makes.
public enum Access: String, Sendable, Codable, CaseIterable { case read, write, exec }

/// Who touched the memory (x86 error code bit 2).
public enum FaultMode: String, Sendable, Codable { case user, kernel }

/// The lock-path outcome codes of docs/KERNEL-MODEL.md §9.1.
public enum LockCode: String, Sendable, Codable, CaseIterable {
    case LEGACY, VMA_OK, VMA_OK_TRYLOCK, KERNEL_MODE, NO_VMA, VMA_WRITE_LOCKED, VMA_RECYCLED
    case RANGE_CHANGED, NOT_ANON, NO_ANON_VMA, UFFD_ARMED, ACCESS_ERROR, ACCESS_ERROR_SEGV
    case SWAP_RETRY, ANON_VMA_TRYLOCK_FAILED, NO_MAP_PAGES, IO_RETRY

    /// docs/API.md `lock.reason`; nil when the fault stayed on its first path.
    public var reason: String? {
        switch self {
        case .LEGACY, .VMA_OK, .VMA_OK_TRYLOCK, .ACCESS_ERROR_SEGV: nil
        case .KERNEL_MODE: "kernel_mode"
        case .NO_VMA: "no_vma"
        case .VMA_WRITE_LOCKED: "vma_write_locked"
        case .VMA_RECYCLED: "vma_recycled"
        case .RANGE_CHANGED: "vma_changed"
        case .NOT_ANON: "vma_not_anonymous"
        case .NO_ANON_VMA: "anon_vma_not_set"
        case .UFFD_ARMED: "userfaultfd_armed"
        case .ACCESS_ERROR: "access_error"
        case .SWAP_RETRY: "swap_retry"
        case .ANON_VMA_TRYLOCK_FAILED: "anon_vma_trylock_failed"
        case .NO_MAP_PAGES: "no_map_pages"
        case .IO_RETRY: "io_retry"
        }
    }
}

extension LockCode {
    /// Position in `allCases` (the index of the statistics counters).
    var ordinal: Int {
        switch self {
        case .LEGACY: 0
        case .VMA_OK: 1
        case .VMA_OK_TRYLOCK: 2
        case .KERNEL_MODE: 3
        case .NO_VMA: 4
        case .VMA_WRITE_LOCKED: 5
        case .VMA_RECYCLED: 6
        case .RANGE_CHANGED: 7
        case .NOT_ANON: 8
        case .NO_ANON_VMA: 9
        case .UFFD_ARMED: 10
        case .ACCESS_ERROR: 11
        case .ACCESS_ERROR_SEGV: 12
        case .SWAP_RETRY: 13
        case .ANON_VMA_TRYLOCK_FAILED: 14
        case .NO_MAP_PAGES: 15
        case .IO_RETRY: 16
        }
    }
}

/// The fault handler that finally ran; `name` is what `FaultResult.handler`
/// and the statistics report.
enum FaultHandler: Int, CaseIterable {
    case doAnonymousPage, doSwapPage, handlePTEFault, doFault, doReadFault, doCowFault, doSharedFault, doWPPage

    var name: String {
        switch self {
        case .doAnonymousPage: "do_anonymous_page"
        case .doSwapPage: "do_swap_page"
        case .handlePTEFault: "handle_pte_fault"
        case .doFault: "do_fault"
        case .doReadFault: "do_read_fault"
        case .doCowFault: "do_cow_fault"
        case .doSharedFault: "do_shared_fault"
        case .doWPPage: "do_wp_page"
        }
    }
}

/// docs/API.md `lock.path`.
public enum LockPath: String, Sendable, Codable {
    case vmaLock = "vma_lock"
    case mmapLock = "mmap_lock"
    case vmaLockThenMmapLock = "vma_lock_then_mmap_lock"
}

/// CONFIG_PER_VMA_LOCK_STATS counter class.
public enum LockStat: String, Sendable, Codable { case success, abort, retry, miss }

/// One attempt on the way to handling a fault.
public struct LockStep: Sendable, Equatable {
    /// "lock_vma_under_rcu", "vmf_anon_prepare", "lock_mm_and_find_vma", …
    public var fn: String
    /// "success", "abort", "retry", "fail", "locked", …
    public var result: String
    public var reason: String?
}

/// The lock decision of one fault.
public struct LockDecision: Sendable, Equatable {
    public var path: LockPath
    public var stat: LockStat?
    public var code: LockCode
    /// The attempts on the way (recorded only when tracing).
    public var steps: [LockStep]
}

/// One neighbour considered by find_mergeable_anon_vma().
public struct AnonVMACandidate: Sendable, Equatable {
    public enum Side: String, Sendable, Codable { case prev, next }
    public var side: Side
    public var vma: String
    public var compatible: Bool
    public var anonVMA: Int?
    public var why: String
}

/// What the fault did about an anon_vma.
public struct AnonVMAOutcome: Sendable, Equatable {
    public enum Action: String, Sendable, Codable { case none, present, reused, allocated }
    public var action: Action
    public var id: Int?
    public var fromSide: AnonVMACandidate.Side?
    public var fromVMA: String?
    public var candidates: [AnonVMACandidate]

    public static var none: AnonVMAOutcome {
        AnonVMAOutcome(action: .none, id: nil, fromSide: nil, fromVMA: nil, candidates: [])
    }
}

/// A PTE's visible state.
public struct PTESnapshot: Sendable, Equatable {
    public var present: Bool
    public var writable: Bool
    public var dirty: Bool
    public var guardMarker: Bool
    public var folio: Int?

    public init(_ pte: __shared PTE?) {
        present = pte?.present ?? false
        writable = pte?.writable ?? false
        dirty = pte?.dirty ?? false
        guardMarker = pte?.guardMarker ?? false
        folio = pte?.folio?.id
    }
}

/// A folio's visible state.
public struct FolioSnapshot: Sendable, Equatable {
    public var id: Int
    public var kind: Folio.Kind
    public var mapcount: Int
    public var anonExclusive: Bool
    public var anonVMA: Int?
    public var index: UInt64
    public var copiedFrom: Int?

    public init(_ f: __shared Folio) {
        id = f.id
        kind = f.kind
        mapcount = f.mapcount
        anonExclusive = f.anonExclusive
        anonVMA = f.anonVMA?.id
        index = f.index
        copiedFrom = f.copiedFrom
    }
}

/// The answer of one simulated fault (docs/API.md "Faults", docs/KERNEL-MODEL.md §9.1).
public struct FaultResult: Sendable {
    public enum Outcome: String, Sendable, Codable { case handled, SIGSEGV, SIGBUS }
    public enum SiCode: String, Sendable, Codable { case SEGV_MAPERR, SEGV_ACCERR, SEGV_PKUERR, BUS_ADRERR }

    /// false when the PTE already allowed the access (no fault taken).
    public var fault: Bool
    public var address: UInt64
    public var access: Access
    public var mode: FaultMode
    public var outcome: Outcome
    public var siCode: SiCode?
    /// nil when no fault was taken.
    public var lock: LockDecision?
    /// The handler that finally ran ("do_anonymous_page", …), if any.
    public var handler: String?
    public var anonVMA: AnonVMAOutcome
    public var pteBefore: PTESnapshot
    public var pteAfter: PTESnapshot
    /// The folio the PTE maps afterwards (recorded only when tracing).
    public var folio: FolioSnapshot?
    /// The VMA after the fault (nil for SEGV_MAPERR; recorded only when tracing).
    public var vma: VMASnapshot?
    public var trace: [TraceStep]
    /// An exec fault on a non-exec page takes a second (protection) fault: this is it.
    public var secondFault: [FaultResult] = []
}
