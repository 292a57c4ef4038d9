/// Per-session counters (docs/API.md "Statistics").
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
        public var byReason: [String: Int] {
            get { Self.dictionary(reasonCounts, LockCode.allCases.map(\.rawValue), otherReasons) }
            set { (reasonCounts, otherReasons) = Self.counts(newValue, LockCode.allCases.map(\.rawValue)) }
        }
        /// Faults by handler ("do_anonymous_page", …).
        public var byHandler: [String: Int] {
            get { Self.dictionary(handlerCounts, FaultHandler.allCases.map(\.name), otherHandlers) }
            set { (handlerCounts, otherHandlers) = Self.counts(newValue, FaultHandler.allCases.map(\.name)) }
        }
        public var sigsegv = 0
        public var sigbus = 0

        /// The counters behind `byReason` and `byHandler`, indexed by
        /// `LockCode.ordinal` and `FaultHandler.rawValue` (the fault path
        /// counts without hashing strings); keys set through the public
        /// setters that name no code or handler are kept aside.
        var reasonCounts = [Int](repeating: 0, count: LockCode.allCases.count)
        var handlerCounts = [Int](repeating: 0, count: FaultHandler.allCases.count)
        var otherReasons: [String: Int] = [:]
        var otherHandlers: [String: Int] = [:]

        private static func dictionary(_ counts: [Int], _ names: [String], _ other: [String: Int]) -> [String: Int] {
            var d = other
            for (i, n) in counts.enumerated() where n != 0 { d[names[i]] = n }
            return d
        }

        private static func counts(_ d: [String: Int], _ names: [String]) -> ([Int], [String: Int]) {
            var counts = [Int](repeating: 0, count: names.count)
            var other: [String: Int] = [:]
            for (k, v) in d {
                if let i = names.firstIndex(of: k) { counts[i] = v } else { other[k] = v }
            }
            return (counts, other)
        }
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

extension Stats.Faults {
    enum CodingKeys: String, CodingKey {
        case total, vmaLockSuccess, vmaLockAbort, vmaLockRetry, vmaLockMiss, mmapLock, byReason, byHandler, sigsegv, sigbus
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        total = try c.decode(Int.self, forKey: .total)
        vmaLockSuccess = try c.decode(Int.self, forKey: .vmaLockSuccess)
        vmaLockAbort = try c.decode(Int.self, forKey: .vmaLockAbort)
        vmaLockRetry = try c.decode(Int.self, forKey: .vmaLockRetry)
        vmaLockMiss = try c.decode(Int.self, forKey: .vmaLockMiss)
        mmapLock = try c.decode(Int.self, forKey: .mmapLock)
        byReason = try c.decode([String: Int].self, forKey: .byReason)
        byHandler = try c.decode([String: Int].self, forKey: .byHandler)
        sigsegv = try c.decode(Int.self, forKey: .sigsegv)
        sigbus = try c.decode(Int.self, forKey: .sigbus)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(total, forKey: .total)
        try c.encode(vmaLockSuccess, forKey: .vmaLockSuccess)
        try c.encode(vmaLockAbort, forKey: .vmaLockAbort)
        try c.encode(vmaLockRetry, forKey: .vmaLockRetry)
        try c.encode(vmaLockMiss, forKey: .vmaLockMiss)
        try c.encode(mmapLock, forKey: .mmapLock)
        try c.encode(byReason, forKey: .byReason)
        try c.encode(byHandler, forKey: .byHandler)
        try c.encode(sigsegv, forKey: .sigsegv)
        try c.encode(sigbus, forKey: .sigbus)
    }
}
