/// `/proc/PID/maps` and `/proc/PID/smaps` exactly as fs/proc/task_mmu.c
/// prints them on the test machine (x86-64 6.18: no ProtectionKey line,
/// VM_SOFTDIRTY is 0, THP `enabled=[madvise]`, shmem THP `never`).
public enum ProcMaps {
    /// The device column of session files (a fixed fake block device).
    public static let fileDevice = (major: 0x08, minor: 0x01)
    /// The device column of shmem objects (the internal shm mount).
    public static let shmemDevice = (major: 0x00, minor: 0x01)
    /// Column where the path starts: seq_setwidth(25 + 6 * sizeof(void *) - 1) plus one space.
    static let pathColumn = 73

    /// The whole `/proc/PID/maps` text of a process.
    public static func maps(_ p: Process) -> String {
        var out = ""
        for v in p.mm.vmas { out += mapsLine(v, p.mm); out += "\n" }
        return out
    }

    /// The whole `/proc/PID/smaps` text of a process.
    public static func smaps(_ p: Process) -> String {
        var out = ""
        for v in p.mm.vmas { out += smapsEntry(v, p.mm) }
        return out
    }

    /// What show_map_vma()'s get_vma_name() prints for a VMA, if anything:
    /// the file path (`/dev/zero (deleted)` for shared anonymous memory), a
    /// special mapping's name, `[heap]` for an anonymous VMA overlapping
    /// [start_brk, brk) (vma_is_initial_heap()), else the VMA's own name
    /// (`[stack]`).
    public static func name(_ v: VMA, _ mm: MM) -> String? {
        if let f = v.file { return f.inode.isShmem ? f.inode.path + " (deleted)" : f.inode.path }
        if case let .special(name) = v.kind { return name }
        if v.start < mm.brk && v.end > mm.startBrk { return "[heap]" }
        if let n = v.name, n != "[heap]" { return n }
        return nil
    }

    /// One line of `/proc/PID/maps` without the newline (show_map_vma()):
    /// `%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu `, then, if the VMA has a
    /// name, spaces up to column 73 and the name.
    public static func mapsLine(_ v: VMA, _ mm: MM) -> String {
        var s = hex8(v.start)
        s += "-"
        s += hex8(v.end)
        s += " "
        s += v.flags.contains(.READ) ? "r" : "-"
        s += v.flags.contains(.WRITE) ? "w" : "-"
        s += v.flags.contains(.EXEC) ? "x" : "-"
        s += v.flags.contains(.MAYSHARE) ? "s" : "p"
        s += " "
        var dev = (major: 0, minor: 0), ino = 0
        var offset: UInt64 = 0
        if let f = v.file {
            dev = f.inode.isShmem ? shmemDevice : fileDevice
            ino = f.inode.ino
            offset = v.pgoff << Linux.PAGE_SHIFT
        }
        s += hex8(offset)
        s += " " + hex2(dev.major) + ":" + hex2(dev.minor) + " " + String(ino) + " "
        if let n = name(v, mm) {
            let count = s.utf8.count
            if count < pathColumn { s += String(repeating: " ", count: pathColumn - count) }
            s += n
        }
        return s
    }

    /// The memory statistics of one VMA, as smaps_pte_range()/smaps_account()
    /// compute them from the page table and folio mapcounts.
    /// Byte counts, except the Pss fields which are bytes << `pssShift`.
    public struct Usage: Sendable, Equatable {
        /// Rss: resident pages (normal pages only; the zero page is not counted).
        public var rss: UInt64 = 0
        /// Pss: each page divided by its mapcount, in bytes << 12 (PSS_SHIFT fixed point).
        public var pss: UInt64 = 0
        /// Pss_Dirty (fixed point).
        public var pssDirty: UInt64 = 0
        /// Locked: Pss of a VM_LOCKED VMA (fixed point).
        public var pssLocked: UInt64 = 0
        /// Shared_Clean: pages mapped ≥ 2 times, clean.
        public var sharedClean: UInt64 = 0
        /// Shared_Dirty.
        public var sharedDirty: UInt64 = 0
        /// Private_Clean: pages mapped once, clean.
        public var privateClean: UInt64 = 0
        /// Private_Dirty.
        public var privateDirty: UInt64 = 0
        /// Referenced: young PTEs.
        public var referenced: UInt64 = 0
        /// Anonymous: anonymous folios.
        public var anonymous: UInt64 = 0
    }

    /// PSS_SHIFT (fs/proc/task_mmu.c): Pss is accumulated in bytes << 12.
    public static let pssShift: UInt64 = 12

    /// Models smap_gather_stats() for order-0 folios: every present PTE with
    /// a normal page (the zero page has none: vm_normal_page() is NULL) adds
    /// 4 KiB to Rss; anonymous folios to Anonymous; young PTEs to Referenced;
    /// a page mapped by ≥ 2 PTEs counts as shared and 1/mapcount of it to
    /// Pss, otherwise private; dirty PTEs go to the *_Dirty columns.
    public static func usage(_ v: VMA, _ mm: MM) -> Usage {
        var u = Usage()
        let size = Linux.PAGE_SIZE
        let locked = v.flags.contains(.LOCKED)
        for vpn in mm.pageTable.vpns(in: v.start, v.end) {
            guard let pte = mm.pageTable[vpn], pte.present, let folio = pte.folio, folio.kind != .zero else { continue }
            if folio.kind == .anon { u.anonymous += size }
            u.rss += size
            if pte.young { u.referenced += size }
            let mapcount = UInt64(max(folio.mapcount, 1))
            let pss = (size << pssShift) / (mapcount >= 2 ? mapcount : 1)
            let isPrivate = mapcount < 2
            u.pss += pss
            if locked { u.pssLocked += pss }
            if pte.dirty {
                u.pssDirty += pss
                if isPrivate { u.privateDirty += size } else { u.sharedDirty += size }
            } else {
                if isPrivate { u.privateClean += size } else { u.sharedClean += size }
            }
        }
        return u
    }

    /// THPeligible: thp_vma_allowable_orders() with THP `enabled=[madvise]`,
    /// every mTHP size `never` and shmem THP `never`: an anonymous VMA with
    /// VM_HUGEPAGE (not VM_NOHUGEPAGE, not special) that still contains an
    /// aligned 2 MiB block ending at or below its end.
    public static func thpEligible(_ v: VMA) -> Bool {
        guard v.isAnonymous, v.flags.contains(.HUGEPAGE), !v.flags.contains(.NOHUGEPAGE),
              v.flags.intersection(VMFlags.special.union(.HUGETLB)).isEmpty else { return false }
        let pmd: UInt64 = 2 << 20
        guard v.end - v.start >= pmd else { return false }
        let haddr = (v.end - pmd) & ~(pmd - 1)
        return haddr >= v.start
    }

    /// One VMA's block of `/proc/PID/smaps` (show_smap()), newline-terminated.
    public static func smapsEntry(_ v: VMA, _ mm: MM) -> String {
        let u = usage(v, mm)
        var s = mapsLine(v, mm) + "\n"
        // SEQ_PUT_DEC(): the label, the value in kB right-aligned in `width` columns, " kB".
        func kb(_ label: String, _ bytes: UInt64, width: Int = 8) {
            s += label
            let n = String(bytes >> 10)
            if n.count < width { s += String(repeating: " ", count: width - n.count) }
            s += n + " kB\n"
        }
        kb("Size:           ", v.end - v.start)
        kb("KernelPageSize: ", Linux.PAGE_SIZE)
        kb("MMUPageSize:    ", Linux.PAGE_SIZE)
        kb("Rss:            ", u.rss)
        kb("Pss:            ", u.pss >> pssShift)
        kb("Pss_Dirty:      ", u.pssDirty >> pssShift)
        kb("Shared_Clean:   ", u.sharedClean)
        kb("Shared_Dirty:   ", u.sharedDirty)
        kb("Private_Clean:  ", u.privateClean)
        kb("Private_Dirty:  ", u.privateDirty)
        kb("Referenced:     ", u.referenced)
        kb("Anonymous:      ", u.anonymous)
        kb("KSM:            ", 0)
        kb("LazyFree:       ", 0)
        kb("AnonHugePages:  ", 0)
        kb("ShmemPmdMapped: ", 0)
        kb("FilePmdMapped:  ", 0)
        kb("Shared_Hugetlb: ", 0)
        kb("Private_Hugetlb: ", 0, width: 7)
        kb("Swap:           ", 0)
        kb("SwapPss:        ", 0)
        kb("Locked:         ", u.pssLocked >> pssShift)
        s += "THPeligible:    " + pad(thpEligible(v) ? "1" : "0", 8) + "\n"
        s += "VmFlags: "
        for code in v.flags.smapsCodes { s += code + " " }
        s += "\n"
        return s
    }

    /// Right-aligns `s` in `width` columns (`%8u`).
    @inline(__always) static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    /// `%08lx`: lower-case hex, at least 8 digits.
    @inline(__always) static func hex8(_ v: UInt64) -> String {
        let h = String(v, radix: 16)
        return h.count >= 8 ? h : String(repeating: "0", count: 8 - h.count) + h
    }

    /// `%02x`.
    @inline(__always) static func hex2(_ v: Int) -> String {
        let h = String(v, radix: 16)
        return h.count >= 2 ? h : "0" + h
    }
}
