/// Choosing an address for a mapping (docs/KERNEL-MODEL.md §2.3): mm/mmap.c
/// `__get_unmapped_area`, mm/huge_memory.c `__thp_get_unmapped_area`,
/// arch/x86/kernel/sys_x86_64.c `arch_get_unmapped_area[_topdown]`, mm/vma.c
/// `unmapped_area[_topdown]`. x86-64, 47-bit window, ASLR off.

/// The outcome of an address search: an address or an errno.
enum AreaResult: Equatable {
    case addr(UInt64)
    case failed(Errno)
}

/// PMD_SIZE on x86-64 (2 MiB): the THP alignment.
let pmdSize: UInt64 = 2 << 20

/// PAGE_ALIGN(): rounds up to a page; wraps to 0 near 2^64 like the kernel's.
@inline(__always) func pageAlign(_ v: UInt64) -> UInt64 { (v &+ 4095) & ~4095 }
/// offset_in_page().
@inline(__always) func offsetInPage(_ v: UInt64) -> UInt64 { v & 4095 }

extension VMA {
    /// vm_start_gap(): a VM_GROWSDOWN VMA claims stack_guard_gap below its start.
    @inline(__always)
    func startGap(_ guardGap: UInt64) -> UInt64 {
        guard flags.contains(.GROWSDOWN) else { return start }
        return start >= guardGap ? start - guardGap : 0
    }
}

extension Simulation {
    /// TASK_UNMAPPED_BASE (mmap_legacy_base with ASLR off): a third of the
    /// task size, page aligned — where bottom-up searches start.
    func taskUnmappedBase(_ mm: MM) -> UInt64 { pageAlign(mm.taskSize / 3) }

    /// Models __get_unmapped_area() (mm/mmap.c): pick the allocator — a
    /// regular file uses its `get_unmapped_area` (ext4: thp_get_unmapped_area),
    /// shared anonymous memory shmem's (no huge pages here: plain), private
    /// anonymous memory with no hint and a length that is a multiple of 2 MiB
    /// the THP-aligned one, anything else the mm's top-down allocator — then
    /// check the result: `> TASK_SIZE - len` → ENOMEM, unaligned → EINVAL.
    /// Addresses below mmap_min_addr pass security_mmap_addr() because the
    /// simulated user is root (CAP_SYS_RAWIO) [observed E-26].
    func getUnmappedArea(_ mm: MM, file: OpenFile?, addr: UInt64, len: UInt64, pgoff: UInt64,
                         flags: UInt64) -> AreaResult {
        if len > mm.taskSize { return .failed(.ENOMEM) }
        let result: AreaResult
        if let f = file, !f.inode.isShmem {
            result = thpGetUnmappedArea(mm, addr: addr, len: len, off: pgoff << Linux.PAGE_SHIFT, flags: flags)
        } else if file == nil, flags & Linux.MAP_SHARED == 0, addr == 0, len % pmdSize == 0 {
            // Always treat pgoff as zero for anonymous memory.
            result = thpGetUnmappedArea(mm, addr: addr, len: len, off: 0, flags: flags)
        } else {
            result = archGetUnmappedAreaTopdown(mm, addr: addr, len: len, flags: flags)
        }
        guard case let .addr(a) = result else { return result }
        if a > mm.taskSize - len { return .failed(.ENOMEM) }
        if offsetInPage(a) != 0 { return .failed(.EINVAL) }
        return .addr(a)
    }

    /// Models thp_get_unmapped_area_vmflags() / __thp_get_unmapped_area()
    /// (mm/huge_memory.c): when the mapping covers a whole 2 MiB-aligned
    /// range of its offsets, search for `len + 2 MiB` and place the mapping
    /// so that address ≡ offset (mod 2 MiB) — at the top of the padded area
    /// when it came out aligned (top-down). Falls back to the plain search.
    func thpGetUnmappedArea(_ mm: MM, addr: UInt64, len: UInt64, off: UInt64, flags: UInt64) -> AreaResult {
        let size = pmdSize
        let offEnd = off &+ len
        let offAlign = (off &+ size &- 1) & ~(size - 1)
        if offEnd > offAlign, offEnd - offAlign >= size, len &+ size > len, off &+ len &+ size > off,
           case let .addr(ret) = archGetUnmappedAreaTopdown(mm, addr: addr, len: len + size, flags: flags) {
            if ret == addr { return .addr(addr) }
            let offSub = (off &- ret) & (size - 1)
            let placed = offSub == 0 ? ret + size : ret + offSub
            tracer.step("__thp_get_unmapped_area", "len \(hex(len)) covers a 2 MiB unit: padded search, placed at \(hex(placed))")
            return .addr(placed)
        }
        return archGetUnmappedAreaTopdown(mm, addr: addr, len: len, flags: flags)
    }

    /// mmap_address_hint_valid() (arch/x86/mm/mmap.c): the hinted range must
    /// lie below TASK_SIZE (and not straddle the 47-bit window edge).
    @inline(__always)
    func hintValid(_ mm: MM, _ addr: UInt64, _ len: UInt64) -> Bool {
        len <= mm.taskSize && addr <= mm.taskSize - len
    }

    /// Whether a hinted [addr, addr+len) is free, counting the stack guard
    /// gap of a following VM_GROWSDOWN VMA.
    @inline(__always)
    func hintFree(_ mm: MM, _ addr: UInt64, _ len: UInt64) -> Bool {
        guard let vma = mm.vmas.findVMA(addr) else { return true }
        return addr + len <= vma.startGap(layout.stackGuardGap)
    }

    /// Models arch_get_unmapped_area_topdown() (arch/x86/kernel/sys_x86_64.c):
    /// MAP_FIXED returns the address unchanged; MAP_32BIT goes bottom-up in
    /// the low 2 GiB; a free, valid hint is honoured; otherwise the highest
    /// free gap below mmap_base, at its top; bottom-up from
    /// TASK_UNMAPPED_BASE if nothing fits.
    func archGetUnmappedAreaTopdown(_ mm: MM, addr addr0: UInt64, len: UInt64, flags: UInt64) -> AreaResult {
        if len > mm.taskSize { return .failed(.ENOMEM) }
        if flags & Linux.MAP_FIXED != 0 { return .addr(addr0) }
        if flags & Linux.MAP_32BIT != 0 { return archGetUnmappedAreaBottomup(mm, addr: addr0, len: len, flags: flags) }
        if addr0 != 0 {
            let addr = addr0 & ~4095
            if hintValid(mm, addr, len), hintFree(mm, addr, len) {
                tracer.step("arch_get_unmapped_area_topdown", "hint \(hex(addr)) is free: honoured")
                return .addr(addr)
            }
            tracer.step("arch_get_unmapped_area_topdown", "hint \(hex(addr)) unusable (occupied or invalid): searching")
        }
        if case let .addr(a) = unmappedAreaTopdown(mm, len: len, low: Linux.PAGE_SIZE, high: mm.mmapBase) {
            tracer.step("unmapped_area_topdown", "highest gap below mmap_base \(hex(mm.mmapBase)) fitting \(hex(len)): \(hex(a))")
            return .addr(a)
        }
        tracer.step("arch_get_unmapped_area_topdown", "no gap below mmap_base: bottom-up fallback")
        return archGetUnmappedAreaBottomup(mm, addr: addr0, len: len, flags: flags)
    }

    /// Models arch_get_unmapped_area() (arch/x86/kernel/sys_x86_64.c), the
    /// bottom-up allocator: [TASK_UNMAPPED_BASE, TASK_SIZE), or
    /// [1 GiB, 2 GiB) for MAP_32BIT (ASLR off); a free hint is honoured;
    /// else the lowest gap that fits.
    func archGetUnmappedAreaBottomup(_ mm: MM, addr addr0: UInt64, len: UInt64, flags: UInt64) -> AreaResult {
        if flags & Linux.MAP_FIXED != 0 { return .addr(addr0) }
        let begin: UInt64, end: UInt64
        if flags & Linux.MAP_32BIT != 0 {
            begin = 0x4000_0000
            end = 0x8000_0000
        } else {
            begin = taskUnmappedBase(mm)
            end = mm.taskSize
        }
        if len > end { return .failed(.ENOMEM) }
        if addr0 != 0 {
            let addr = pageAlign(addr0)
            if hintValid(mm, addr, len), end - len >= addr, hintFree(mm, addr, len) { return .addr(addr) }
        }
        return unmappedArea(mm, len: len, low: begin, high: end)
    }

    /// Models unmapped_area_topdown() (mm/vma.c): the highest gap of at least
    /// `len` bytes inside [max(low, mmap_min_addr), high); the result is the
    /// gap's top minus `len`. A following VM_GROWSDOWN VMA lowers the usable
    /// top by stack_guard_gap (the search is retried below it).
    func unmappedAreaTopdown(_ mm: MM, len: UInt64, low: UInt64, high: UInt64) -> AreaResult {
        let lowLimit = max(low, layout.mmapMinAddr)
        var highLimit = high
        let tree = mm.vmas
        while true {
            guard highLimit > lowLimit, highLimit - lowLimit >= len else { return .failed(.ENOMEM) }
            // Walk down from the first VMA ending above highLimit.
            let cur = tree.cursor(firstEndAbove: highLimit)
            var next = tree.vma(at: cur)
            var top = highLimit
            if let n = next, n.start < highLimit { top = n.start }
            var belowCur = tree.before(cur)
            var gapEnd: UInt64?
            while top > lowLimit {
                let below = belowCur.flatMap { tree.vma(at: $0) }
                let gapStart = max(below?.end ?? 0, lowLimit)
                if top > gapStart, top - gapStart >= len {
                    gapEnd = top
                    break
                }
                guard let b = below, let bc = belowCur else { break }
                top = min(b.start, top)
                next = b
                belowCur = tree.before(bc)
            }
            guard let end = gapEnd else { return .failed(.ENOMEM) }
            if let n = next, n.flags.contains(.GROWSDOWN), n.startGap(layout.stackGuardGap) < end {
                highLimit = n.startGap(layout.stackGuardGap)
                continue
            }
            return .addr(end - len)
        }
    }

    /// Models unmapped_area() (mm/vma.c): the lowest gap of at least `len`
    /// bytes inside [max(low, mmap_min_addr), high), keeping clear of the
    /// guard gap below a following VM_GROWSDOWN VMA.
    func unmappedArea(_ mm: MM, len: UInt64, low: UInt64, high: UInt64) -> AreaResult {
        var lowLimit = max(low, layout.mmapMinAddr)
        let tree = mm.vmas
        while true {
            guard high > lowLimit, high - lowLimit >= len else { return .failed(.ENOMEM) }
            var cur = tree.cursor(firstEndAbove: lowLimit)
            var bottom = lowLimit
            var found: (gap: UInt64, next: VMA?)?
            while bottom < high {
                let v = tree.vma(at: cur)
                if let v, v.start <= bottom {
                    bottom = max(bottom, v.end)
                    cur = tree.after(cur)
                    continue
                }
                let gapEnd = min(v?.start ?? high, high)
                if gapEnd > bottom, gapEnd - bottom >= len {
                    found = (bottom, v)
                    break
                }
                guard let v else { break }
                bottom = v.end
                cur = tree.after(cur)
            }
            guard let (gap, next) = found else { return .failed(.ENOMEM) }
            if let n = next, n.flags.contains(.GROWSDOWN), n.startGap(layout.stackGuardGap) < gap + len - 1 {
                lowLimit = n.end
                continue
            }
            return .addr(gap)
        }
    }
}
