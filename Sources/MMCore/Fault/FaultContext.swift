/// FAULT_FLAG_* bits the model uses (include/linux/mm_types.h).
struct FaultFlags: OptionSet {
    let rawValue: UInt16
    static let write = FaultFlags(rawValue: 1 << 0)
    static let allowRetry = FaultFlags(rawValue: 1 << 2)
    static let killable = FaultFlags(rawValue: 1 << 4)
    static let tried = FaultFlags(rawValue: 1 << 5)
    static let user = FaultFlags(rawValue: 1 << 6)
    static let instruction = FaultFlags(rawValue: 1 << 8)
    static let vmaLock = FaultFlags(rawValue: 1 << 12)
}

/// vm_fault_t bits a handler returns (include/linux/mm_types.h).
struct VMFault: OptionSet {
    let rawValue: UInt16
    static let oom = VMFault(rawValue: 1 << 0)
    static let sigbus = VMFault(rawValue: 1 << 1)
    static let major = VMFault(rawValue: 1 << 2)
    static let sigsegv = VMFault(rawValue: 1 << 6)
    static let nopage = VMFault(rawValue: 1 << 8)
    static let retry = VMFault(rawValue: 1 << 10)
    static let completed = VMFault(rawValue: 1 << 14)

    /// VM_FAULT_ERROR.
    var isError: Bool { !intersection([.oom, .sigbus, .sigsegv]).isEmpty }
}

/// The state of one fault as it travels through the pipeline (`struct vm_fault`
/// plus what the simulator reports about it). Noncopyable: built in place
/// and passed `inout` through the pipeline, never copied.
struct FaultContext: ~Copyable {
    // Both outlive the fault. `p` is rarely used (an unmanaged reference
    // costs a retain per use); `mm` is used at every stage: held strongly, it
    // is retained once and borrowed from then on.
    unowned(unsafe) let p: Process
    let mm: MM
    let address: UInt64
    /// Virtual page number of `address`.
    let vpn: UInt64
    let access: Access
    let mode: FaultMode
    let inject: FaultInjection
    /// Kernel-initiated (GUP/populate): mmap_lock only, no access_error, no stack growth.
    let gup: Bool
    var flags: FaultFlags
    /// Lock-path steps for `LockDecision.steps` (recorded only when tracing).
    var steps: [LockStep] = []
    /// The §9.1 code: the reason of the fallback, or the final per-VMA result.
    var code: LockCode = .LEGACY
    var stat: LockStat?
    /// Whether the per-VMA attempt was made at all.
    var vmaAttempt = false
    /// A VMA_LOCK_MISS happened during lookup (counted in addition to the final class).
    var missed = false
    /// Reason a handler gave for VM_FAULT_RETRY.
    var retryCode: LockCode?
    /// vmf_anon_prepare() succeeded with mmap_read_trylock() under the VMA lock.
    var trylocked = false
    /// pageCacheMiss not yet resolved by the I/O a RETRY started.
    var cacheMissPending: Bool
    /// The anon_vma outcome reported to the caller.
    var anon: AnonVMAOutcome = .none
    /// Handler that finally ran.
    var handler: FaultHandler?
    var outcome: FaultResult.Outcome = .handled
    var siCode: FaultResult.SiCode?
    /// The VMA the fault was finally handled against.
    var vma: VMA?
    /// vmf->orig_pte: the faulting page's PTE as the current attempt sees it.
    /// Every change to that PTE goes through `setPTE` so it stays current.
    var pte: PTE?
    /// Whether trace notes are built (read once: the tracer is not touched otherwise).
    let tracing: Bool

    init(p: Process, address: UInt64, access: Access, mode: FaultMode, inject: FaultInjection, gup: Bool,
         pte: PTE?, tracing: Bool) {
        self.p = p
        self.pte = pte
        self.tracing = tracing
        self.mm = p.mm
        self.address = address
        self.vpn = address >> Linux.PAGE_SHIFT
        self.access = access
        self.mode = mode
        self.inject = inject
        self.gup = gup
        self.cacheMissPending = inject.pageCacheMiss
        var f: FaultFlags = [.allowRetry, .killable]
        if access == .write { f.insert(.write) }
        if access == .exec { f.insert(.instruction) }
        if mode == .user && !gup { f.insert(.user) }
        self.flags = f
    }

    @inline(__always) var isWrite: Bool { flags.contains(.write) }
    @inline(__always) var underVMALock: Bool { flags.contains(.vmaLock) }

    /// Installs (or clears) the faulting page's PTE.
    @inline(__always)
    mutating func setPTE(_ e: PTE?) {
        mm.pageTable[vpn] = e
        pte = e
    }

    /// Marks the present faulting PTE writable/dirty/young (one page-table write).
    @inline(__always)
    mutating func updatePTE(writable: Bool? = nil, dirty: Bool? = nil, young: Bool = true) {
        guard var e = pte else { return }
        if let writable { e.writable = writable }
        if let dirty { e.dirty = dirty }
        e.young = young
        setPTE(e)
    }

    /// Records a lock-path step (when tracing: summary mode reports only
    /// the lock path and code).
    @inline(__always)
    mutating func step(_ fn: String, _ result: String, _ reason: String? = nil) {
        if tracing { steps.append(LockStep(fn: fn, result: result, reason: reason)) }
    }
}

/// What a VMA's vm_ops provide (vm_operations_struct), derived from its kind.
struct VMOps {
    var mapPages: Bool
    var fault: Bool
    var pageMkwrite: Bool
    /// vma_wants_writenotify(): shared writable mappings of a regular file
    /// keep PTEs read-only until the first write (dirty tracking).
    var writeNotify: Bool

    init(_ vma: VMA) {
        switch vma.kind {
        case .anonymous:
            mapPages = false; fault = false; pageMkwrite = false; writeNotify = false
        case .special:
            // special_mapping_vmops / vvar: ->fault only, no ->map_pages.
            mapPages = false; fault = true; pageMkwrite = false; writeNotify = false
        case .file:
            let shmem = vma.file?.inode.isShmem ?? false
            // generic_file_vm_ops (filemap_map_pages, filemap_fault, filemap_page_mkwrite)
            // or shmem_vm_ops (no page_mkwrite, no dirty accounting).
            mapPages = true; fault = true; pageMkwrite = !shmem; writeNotify = !shmem
        }
    }

    /// Whether vm_page_prot lets a read fault map the page writable
    /// (shared, writable, no write notification).
    static func protWritable(_ vma: VMA, _ ops: VMOps) -> Bool {
        vma.flags.contains(.SHARED) && vma.flags.contains(.WRITE) && !ops.writeNotify
    }
}

extension Simulation {
    /// Appends a trace step when `on` (the fault's cached `tracer.enabled`):
    /// with tracing off neither the note nor the tracer is touched.
    @inline(__always)
    func trace(_ on: Bool, _ fn: StaticString, _ note: @autoclosure () -> String) {
        if on { tracer.step(fn, note()) }
    }

    /// `trace` with a templated note (formatted only when written).
    @inline(__always)
    func trace(_ on: Bool, _ fn: StaticString, _ note: @autoclosure () -> TraceNote) {
        if on { tracer.step(fn, note()) }
    }
}
