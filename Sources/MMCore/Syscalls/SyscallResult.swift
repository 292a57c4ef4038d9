/// Which neighbour a merge joined (docs/API.md `effects.merged`).
public enum MergeSide: String, Sendable, Codable { case prev, next, both }

/// What dup_mmap() did with one parent VMA (docs/KERNEL-MODEL.md §6).
public struct ForkVMAEffect: Sendable, Equatable {
    public enum AnonVMAAction: String, Sendable, Codable {
        /// The parent VMA had no anon_vma: nothing to clone.
        case none
        /// anon_vma_fork() allocated a child anon_vma.
        case cloned
        /// anon_vma_fork() reused an idle anon_vma of the chain.
        case reused
        /// VM_WIPEONFORK: the child VMA gets no anon_vma.
        case wiped
        /// VM_DONTCOPY: the VMA was not copied.
        case skipped
    }
    public var parent: VMASnapshot
    public var copied: Bool
    public var anonVMA: AnonVMAAction
    /// The child's anon_vma id, if any.
    public var childAnonVMA: Int?
    /// vma_needs_copy(): whether page tables were copied.
    public var pageTablesCopied: Bool
    /// PTEs write-protected in both processes for CoW.
    public var pagesWriteProtected: Int
    public var why: String
}

/// The effects of one operation on the address space.
public struct Effects: Sendable, Equatable {
    public var vmasCreated: [VMASnapshot] = []
    public var vmasRemoved: [VMASnapshot] = []
    public var merged: MergeSide?
    public var splits = 0
    public var pagesZapped = 0
    public var pagesPopulated = 0
    public var fork: [ForkVMAEffect] = []
    public init() {}

    /// No effects again (`Effects()`), for the next operation. An array no
    /// result shares any more (a summary drops the result) keeps its
    /// storage, so the next operation's effects are recorded without
    /// allocating. A field added to `Effects` must be reset here too: the
    /// assertion (debug builds, so every test) catches one that is not.
    mutating func reset() {
        Self.empty(&vmasCreated)
        Self.empty(&vmasRemoved)
        merged = nil
        splits = 0
        pagesZapped = 0
        pagesPopulated = 0
        Self.empty(&fork)
        assert(self == Effects(), "Effects.reset() left a field set")
    }

    private static func empty<T>(_ a: inout [T]) {
        if !a.isEmpty { a.removeAll(keepingCapacity: true) }
    }
}

/// The answer of one simulated syscall: a return value or an errno, as the
/// kernel would return it, plus what it did and why.
public struct SyscallResult: Sendable {
    public var syscall: String
    /// Whether `ret` is an address (mmap, mremap, brk).
    public var returnsAddress: Bool
    /// The raw return value (negative errno on failure).
    public var ret: Int64
    public var errno: Errno?
    public var strace: String
    public var effects: Effects
    public var trace: [TraceStep]
    /// Faults taken while populating (MAP_POPULATE, MADV_POPULATE_*), if any.
    public var faults: [FaultResult] = []
}

/// Internal outcome of a syscall body: a return value or an errno.
public enum SysReturn: Sendable, Equatable {
    case value(UInt64)
    case error(Errno)

    public static let zero = SysReturn.value(0)
}
