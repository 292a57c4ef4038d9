/// A named boolean of `ModelOptions` or `FaultInjection`: the name the API,
/// the CLI and the visualizer use, a one-line description, and the
/// property it sets. The tables below are the one list of them; the
/// service reads and writes options and injections through these.
public struct ModelSwitch<Value>: @unchecked Sendable {
    /// The snake_case name (`eager_anon_vma`, `mmap_lock_contended`).
    public let name: String
    /// One line: what turning it on changes.
    public let summary: String
    /// The property it sets.
    public let keyPath: WritableKeyPath<Value, Bool>

    public init(_ name: String, _ keyPath: WritableKeyPath<Value, Bool>, _ summary: String) {
        self.name = name
        self.keyPath = keyPath
        self.summary = summary
    }
}

extension ModelOptions {
    /// The options from the thread, combinable with any kernel model (docs/KERNEL-MODEL.md §8.4).
    public static let switches: [ModelSwitch<ModelOptions>] = [
        ModelSwitch("eager_anon_vma", \.eagerAnonVMA,
                    "private writable VMAs get their anon_vma when created (mmap, brk, mprotect, mremap), not at the first write fault"),
        ModelSwitch("skip_mergeable_for_file", \.skipMergeableForFile,
                    "a private file mapping's first CoW write allocates a fresh anon_vma without find_mergeable_anon_vma() (and so without mmap_read_trylock)"),
    ]
}

extension FaultInjection {
    /// The concurrent conditions one fault can be given (docs/KERNEL-MODEL.md §4.1–4.2).
    public static let switches: [ModelSwitch<FaultInjection>] = [
        ModelSwitch("mmap_lock_contended", \.mmapLockContended,
                    "every mmap_read_trylock() fails: another thread holds mmap_lock"),
        ModelSwitch("vma_write_locked", \.vmaWriteLocked,
                    "another thread holds mmap_lock for write and has write-locked the VMA (the per-VMA lock aborts)"),
        ModelSwitch("page_cache_miss", \.pageCacheMiss,
                    "the file page is not cached or its folio is locked: the fault needs I/O and is retried"),
        ModelSwitch("vma_detached_during_lookup", \.vmaDetachedDuringLookup,
                    "the VMA found under RCU was detached before it could be read-locked (the lookup is retried once)"),
        ModelSwitch("vma_recycled", \.vmaRecycled,
                    "the VMA object was freed and reused by another mm during the lookup (6.18: detected, falls back)"),
        ModelSwitch("vma_range_changed", \.vmaRangeChanged,
                    "the locked VMA no longer covers the address (shrunk or moved meanwhile)"),
    ]
}
