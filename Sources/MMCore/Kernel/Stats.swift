/// Per-session counters (api.md "Statistics").
public struct Stats: Sendable, Equatable, Codable {
    public struct Faults: Sendable, Equatable, Codable {
        public var total = 0
        /// CONFIG_PER_VMA_LOCK_STATS: vma_lock_success / abort / retry / miss.
        public var vmaLockSuccess = 0
        public var vmaLockAbort = 0
        public var vmaLockRetry = 0
        public var vmaLockMiss = 0
        /// Faults (finally) handled under mmap_lock.
        public var mmapLock = 0
        /// Faults by §9.1 code ("VMA_OK", "NO_ANON_VMA", …).
        public var byReason: [String: Int] = [:]
        /// Faults by handler ("do_anonymous_page", …).
        public var byHandler: [String: Int] = [:]
        public var sigsegv = 0
        public var sigbus = 0
    }

    public struct AnonVMAs: Sendable, Equatable, Codable {
        public var allocated = 0
        public var reusedPrev = 0
        public var reusedNext = 0
        public var forkCloned = 0
        public var forkReused = 0
        public var freed = 0
        public var live = 0
    }

    public struct VMAs: Sendable, Equatable, Codable {
        public var created = 0
        public var merged = 0
        public var split = 0
        /// Computed on read from live VMAs.
        public var neverFaulted = 0
        public var readFaultedOnly = 0
        public var live = 0
    }

    public var faults = Faults()
    public var anonVMA = AnonVMAs()
    public var vmas = VMAs()

    public init() {}
}
