/// vm_flags of a VMA (include/linux/mm.h, x86-64 values).
///
/// The numeric values of most flags follow mainline; `VM_MAYBE_GUARD` uses the
/// post-6.18 value the test machine's backport exposes as `gu`.
public struct VMFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let READ = VMFlags(rawValue: 0x1)
    public static let WRITE = VMFlags(rawValue: 0x2)
    public static let EXEC = VMFlags(rawValue: 0x4)
    public static let SHARED = VMFlags(rawValue: 0x8)
    public static let MAYREAD = VMFlags(rawValue: 0x10)
    public static let MAYWRITE = VMFlags(rawValue: 0x20)
    public static let MAYEXEC = VMFlags(rawValue: 0x40)
    public static let MAYSHARE = VMFlags(rawValue: 0x80)
    public static let GROWSDOWN = VMFlags(rawValue: 0x100)
    public static let UFFD_MISSING = VMFlags(rawValue: 0x200)
    public static let PFNMAP = VMFlags(rawValue: 0x400)
    public static let MAYBE_GUARD = VMFlags(rawValue: 0x800)
    public static let UFFD_WP = VMFlags(rawValue: 0x1000)
    public static let LOCKED = VMFlags(rawValue: 0x2000)
    public static let IO = VMFlags(rawValue: 0x4000)
    public static let SEQ_READ = VMFlags(rawValue: 0x8000)
    public static let RAND_READ = VMFlags(rawValue: 0x10000)
    public static let DONTCOPY = VMFlags(rawValue: 0x20000)
    public static let DONTEXPAND = VMFlags(rawValue: 0x40000)
    public static let LOCKONFAULT = VMFlags(rawValue: 0x80000)
    public static let ACCOUNT = VMFlags(rawValue: 0x100000)
    public static let NORESERVE = VMFlags(rawValue: 0x200000)
    public static let HUGETLB = VMFlags(rawValue: 0x400000)
    public static let SYNC = VMFlags(rawValue: 0x800000)
    public static let ARCH_1 = VMFlags(rawValue: 0x0100_0000)
    public static let WIPEONFORK = VMFlags(rawValue: 0x0200_0000)
    public static let DONTDUMP = VMFlags(rawValue: 0x0400_0000)
    public static let SOFTDIRTY = VMFlags(rawValue: 0x0800_0000)
    public static let MIXEDMAP = VMFlags(rawValue: 0x1000_0000)
    public static let HUGEPAGE = VMFlags(rawValue: 0x2000_0000)
    public static let NOHUGEPAGE = VMFlags(rawValue: 0x4000_0000)
    public static let MERGEABLE = VMFlags(rawValue: 0x8000_0000)
    /// VM_DROPPABLE (a high arch bit on 64-bit, 6.11+).
    public static let DROPPABLE = VMFlags(rawValue: 1 << 40)

    /// VM_ACCESS_FLAGS.
    public static let accessFlags: VMFlags = [.READ, .WRITE, .EXEC]
    /// VM_SPECIAL: mappings that never merge.
    public static let special: VMFlags = [.IO, .DONTEXPAND, .PFNMAP, .MIXEDMAP]
    /// Flags a merge comparison ignores (VM_SOFTDIRTY; on the test machine also the sticky VM_MAYBE_GUARD).
    public static let ignoredByMerge: VMFlags = [.SOFTDIRTY, .MAYBE_GUARD]
    /// Flags OR-ed into the result of a merge (the sticky VM_MAYBE_GUARD of the test machine).
    public static let sticky: VMFlags = [.MAYBE_GUARD]

    /// The kernel's names and smaps two-letter codes, in bit order
    /// (show_smap_vma_flags() in fs/proc/task_mmu.c prints them by bit index).
    public static let table: [(flag: VMFlags, name: String, smaps: String)] = [
        (.READ, "VM_READ", "rd"), (.WRITE, "VM_WRITE", "wr"), (.EXEC, "VM_EXEC", "ex"),
        (.SHARED, "VM_SHARED", "sh"), (.MAYREAD, "VM_MAYREAD", "mr"), (.MAYWRITE, "VM_MAYWRITE", "mw"),
        (.MAYEXEC, "VM_MAYEXEC", "me"), (.MAYSHARE, "VM_MAYSHARE", "ms"),
        (.GROWSDOWN, "VM_GROWSDOWN", "gd"), (.UFFD_MISSING, "VM_UFFD_MISSING", "um"),
        (.PFNMAP, "VM_PFNMAP", "pf"), (.MAYBE_GUARD, "VM_MAYBE_GUARD", "gu"),
        (.UFFD_WP, "VM_UFFD_WP", "uw"), (.LOCKED, "VM_LOCKED", "lo"), (.IO, "VM_IO", "io"),
        (.SEQ_READ, "VM_SEQ_READ", "sr"), (.RAND_READ, "VM_RAND_READ", "rr"),
        (.DONTCOPY, "VM_DONTCOPY", "dc"), (.DONTEXPAND, "VM_DONTEXPAND", "de"),
        (.LOCKONFAULT, "VM_LOCKONFAULT", "lf"), (.ACCOUNT, "VM_ACCOUNT", "ac"),
        (.NORESERVE, "VM_NORESERVE", "nr"), (.HUGETLB, "VM_HUGETLB", "ht"), (.SYNC, "VM_SYNC", "sf"),
        (.ARCH_1, "VM_ARCH_1", "ar"), (.WIPEONFORK, "VM_WIPEONFORK", "wf"),
        (.DONTDUMP, "VM_DONTDUMP", "dd"), (.SOFTDIRTY, "VM_SOFTDIRTY", "sd"),
        (.MIXEDMAP, "VM_MIXEDMAP", "mm"), (.HUGEPAGE, "VM_HUGEPAGE", "hg"),
        (.NOHUGEPAGE, "VM_NOHUGEPAGE", "nh"), (.MERGEABLE, "VM_MERGEABLE", "mg"),
        (.DROPPABLE, "VM_DROPPABLE", "dp"),
    ]

    /// The smaps `VmFlags:` codes of these flags, in the kernel's order.
    public var smapsCodes: [String] { Self.table.filter { contains($0.flag) }.map(\.smaps) }
    /// The kernel's names of these flags (`VM_READ`, …), in bit order.
    public var names: [String] { Self.table.filter { contains($0.flag) }.map(\.name) }

    /// is_cow_mapping(): private and may be written.
    public var isCOWMapping: Bool { contains(.MAYWRITE) && !contains(.SHARED) }
    /// vma_is_accessible(): any of READ/WRITE/EXEC.
    public var isAccessible: Bool { !intersection(Self.accessFlags).isEmpty }
}
