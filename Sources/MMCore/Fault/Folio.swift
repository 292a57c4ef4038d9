/// An order-0 folio (a page frame) and what /proc/kpageflags and
/// /proc/kpagecount would report for it (docs/KERNEL-MODEL.md §1.6).
public final class Folio {
    /// What the frame holds.
    public enum Kind: String, Sendable {
        /// A private anonymous page (folio->mapping is an anon_vma).
        case anon
        /// A page-cache page of a regular file.
        case file
        /// A shmem page (MAP_SHARED|MAP_ANONYMOUS).
        case shmem
        /// The shared zero page (my_zero_pfn): no rmap, mapcount stays 0.
        case zero
    }

    // One folio is allocated per faulted page, so the stored layout is
    // compact (56 bytes: one 64-byte heap block): anon_vma and inode share
    // one reference (folio->mapping), the map count is 32-bit and "no copy
    // source" is a sentinel. The public properties below present them.

    /// folio->mapping: the AnonVMA of an anonymous folio or the Inode of a
    /// page-cache / shmem folio (`kind` says which).
    private var mapping: AnyObject?
    /// anon: linear page index at first mapping; file/shmem: page index.
    public var index: UInt64
    /// "f1", "f2", … in allocation order (the zero page is f0).
    public let id: Int
    private var copiedFromID: Int
    private var mapcount32: Int32
    public let kind: Kind
    /// PageAnonExclusive.
    public var anonExclusive = false
    /// An anonymous folio MADV_FREE made lazily freeable (PG_swapbacked
    /// cleared by folio_mark_lazyfree()): reclaim discards it if no PTE
    /// dirtied it again.
    public var lazyFree = false

    private static let noCopySource = Int.min

    public init(id: Int, kind: Kind, index: UInt64, inode: Inode? = nil, anonVMA: AnonVMA? = nil) {
        self.id = id
        self.kind = kind
        self.index = index
        self.mapping = kind == .anon ? anonVMA : inode
        self.copiedFromID = Self.noCopySource
        self.mapcount32 = 0
    }

    /// anon: the anon_vma folio->mapping points at (moved on reuse).
    public var anonVMA: AnonVMA? {
        get { kind == .anon ? mapping as? AnonVMA : nil }
        set { if kind == .anon { mapping = newValue } }
    }

    /// file/shmem: the inode whose page cache holds it.
    public var inode: Inode? { kind == .anon ? nil : mapping as? Inode }

    /// Number of PTEs mapping it across all processes (/proc/kpagecount).
    public var mapcount: Int {
        @inline(__always) get { Int(mapcount32) }
        @inline(__always) set { mapcount32 = Int32(newValue) }
    }

    /// The folio this one was copied from by a CoW fault, if any.
    public var copiedFrom: Int? {
        get { copiedFromID == Self.noCopySource ? nil : copiedFromID }
        set { copiedFromID = newValue ?? Self.noCopySource }
    }

    public var isAnon: Bool { kind == .anon }
    public var isZero: Bool { kind == .zero }
}

/// A page-table entry (docs/KERNEL-MODEL.md §1.8). Absent entries are `pte_none`.
public struct PTE {
    public var folio: Folio?
    public var present: Bool
    public var writable: Bool
    public var dirty: Bool
    public var young: Bool
    /// A MADV_GUARD_INSTALL marker (a non-present PTE marker).
    public var guardMarker: Bool

    /// A present PTE mapping `folio`.
    public static func mapping(_ folio: Folio, writable: Bool, dirty: Bool, young: Bool = true) -> PTE {
        PTE(folio: folio, present: true, writable: writable, dirty: dirty, young: young, guardMarker: false)
    }

    /// A guard-region marker.
    public static var guardPTE: PTE { PTE(folio: nil, present: false, writable: false, dirty: false, young: false, guardMarker: true) }

    /// A special PTE (the zero page): vm_normal_page() returns NULL.
    public var isSpecial: Bool { folio?.kind == .zero }
}
