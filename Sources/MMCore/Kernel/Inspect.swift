/// Read-only views of the simulated machine for the API (docs/API.md "pages",
/// "anon_vmas", "stats"). Nothing here changes state.

/// One page of a process with a page-table entry (docs/API.md `pages`).
public struct PageInfo: Sendable, Equatable {
    /// The page's virtual address.
    public var address: UInt64
    public var present: Bool
    public var writable: Bool
    public var dirty: Bool
    /// A MADV_GUARD_INSTALL marker: a PTE marker with no page behind it
    /// (pagemap's PM_GUARD_REGION bit), never a missing page.
    public var guardMarker: Bool
    /// PTEs mapping this entry's frame across all processes, as
    /// /proc/kpagecount reports it: 0 for a guard marker (no frame), 0 for
    /// the zero page, else the folio's mapcount.
    public var mapcount: Int
    /// The frame mapped, if the entry is present (nil for a guard marker).
    public var folio: FolioInfo?
}

/// The frame behind a PTE, as /proc/kpageflags and /proc/kpagecount show it.
public struct FolioInfo: Sendable, Equatable {
    /// "f<id>" (the zero page is f0).
    public var id: Int
    public var kind: Folio.Kind
    /// KPF_ANON.
    public var anon: Bool
    /// KPF_ZERO_PAGE.
    public var zeroPage: Bool
    /// Path of the regular file whose page cache holds it.
    public var file: String?
    /// The shmem object id (MAP_SHARED|MAP_ANONYMOUS).
    public var object: Int?
    /// Page index in the file or shmem object (nil for anonymous and zero pages).
    public var index: UInt64?
    /// PTEs mapping it across all processes (0 for the zero page).
    public var mapcount: Int
    /// PageAnonExclusive.
    public var anonExclusive: Bool
    /// folio->mapping for anonymous folios.
    public var anonVMA: Int?

    /// The public view of `f`.
    public init(_ f: Folio) {
        id = f.id
        kind = f.kind
        anon = f.isAnon
        zeroPage = f.isZero
        mapcount = f.mapcount
        anonExclusive = f.anonExclusive
        anonVMA = f.anonVMA?.id
        switch f.inode?.kind {
        case .regular?: file = f.inode?.path; object = nil; index = f.index
        case let .shmem(object: o)?: file = nil; object = o; index = f.index
        case nil: file = nil; object = nil; index = f.kind == .file ? f.index : nil
        }
    }
}

/// One anon_vma of the session's forest (docs/API.md `anon_vmas`).
public struct AnonVMAInfo: Sendable, Equatable {
    public struct Chain: Sendable, Equatable {
        public var pid: Int
        /// "0xstart-0xend".
        public var vma: String
    }
    public var id: Int
    public var root: Int
    public var parent: Int
    public var refcount: Int
    public var numChildren: Int
    public var numActiveVMAs: Int
    /// Every VMA linked into this anon_vma's interval tree, in link order.
    public var chains: [Chain]
    /// Anonymous folios whose mapping is this anon_vma.
    public var folios: Int
}

extension Simulation {
    /// Every page of `pid` in [start, end) that has a page-table entry
    /// (present, or a marker such as a guard), ascending, as pagemap walks
    /// it (pagemap_pte_range(), fs/proc/task_mmu.c): a guard marker
    /// (madvise_guard_install(), mm/madvise.c) is an entry of its own with
    /// `guardMarker` set and mapcount 0. An exited process has none.
    public func pages(pid: Int, start: UInt64 = 0, end: UInt64 = UInt64.max) throws(SimulationError) -> [PageInfo] {
        guard let p = processes[pid] else { throw .noSuchProcess(pid) }
        let pt = p.mm.pageTable
        let lo = start & ~(Linux.PAGE_SIZE - 1)
        let hi = end == UInt64.max ? end & ~(Linux.PAGE_SIZE - 1) : end
        return pt.vpns(in: lo, hi).compactMap { vpn in
            guard let pte = pt[vpn] else { return nil }
            let folio = pte.present ? pte.folio : nil
            return PageInfo(address: vpn << Linux.PAGE_SHIFT, present: pte.present, writable: pte.writable,
                            dirty: pte.dirty, guardMarker: pte.guardMarker,
                            mapcount: folio.map { $0.isZero ? 0 : $0.mapcount } ?? 0,
                            folio: folio.map(FolioInfo.init))
        }
    }

    /// The anon_vma forest: every live anon_vma with its tree links, counters,
    /// linked VMAs and folio count, sorted by id.
    public func anonVMAForest() -> [AnonVMAInfo] {
        var folioCount: [Int: Int] = [:]
        var seen = Set<Int>()
        for p in processes.values where p.state == .running {
            for pte in p.mm.pageTable.entries.values {
                guard let f = pte.folio, f.isAnon, let av = f.anonVMA, seen.insert(f.id).inserted else { continue }
                folioCount[av.id, default: 0] += 1
            }
        }
        return anonVMAs.keys.sorted().compactMap { id in
            guard let av = anonVMAs[id] else { return nil }
            let chains = av.avcs.keys.sorted().compactMap { k in
                av.avcs[k].map { AnonVMAInfo.Chain(pid: $0.pid, vma: $0.vma.rangeDescription) }
            }
            return AnonVMAInfo(id: av.id, root: av.root.id, parent: av.parent.id, refcount: av.refcount,
                               numChildren: av.numChildren, numActiveVMAs: av.numActiveVMAs,
                               chains: chains, folios: folioCount[av.id] ?? 0)
        }
    }

    /// The session counters with the computed VMA and anon_vma gauges
    /// (never_faulted, read_faulted_only, live).
    public func statsSnapshot() -> Stats {
        var s = stats
        computeVMAStats(&s)
        return s
    }
}
