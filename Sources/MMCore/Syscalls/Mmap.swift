/// mmap(2) (docs/KERNEL-MODEL.md §2): arch/x86/kernel/sys_x86_64.c `sys_mmap`,
/// mm/mmap.c `ksys_mmap_pgoff`, `do_mmap`, mm/vma.c `mmap_region` /
/// `__mmap_region`, mm/gup.c `__mm_populate`.
extension Simulation {
    /// MAX_LFS_FILESIZE on 64-bit (file_mmap_size_max() of a regular file).
    static let maxLFSFileSize: UInt64 = UInt64(Int64.max)

    /// mmap(2): the errno contract of docs/KERNEL-MODEL.md §2.1 in the kernel's
    /// order, the vm_flags of §2.2, placement (§2.3), mmap_region() (§2.4)
    /// and MAP_POPULATE / MAP_LOCKED population. Returns the start of the
    /// requested range (which may lie inside a larger, merged VMA).
    func sysMmap(_ p: Process, addr: UInt64, length: UInt64, prot: UInt64, flags: UInt64, fd: Int,
                 offset: UInt64) -> SysReturn {
        let mm = p.mm
        let firstID = nextVMAId
        // sys_mmap (x86-64): the byte offset must be page aligned.
        if offsetInPage(offset) != 0 {
            tracer.step("sys_mmap", "offset \(hex(offset)) not page aligned: EINVAL")
            return .error(.EINVAL)
        }
        var pgoff = offset >> Linux.PAGE_SHIFT
        // ksys_mmap_pgoff(): the file, or the anonymous hugetlb setup.
        var file: OpenFile?
        if flags & Linux.MAP_ANONYMOUS == 0 {
            guard let f = p.fds[fd] else {
                tracer.step("ksys_mmap_pgoff", "fd \(fd) is not open: EBADF")
                return .error(.EBADF)
            }
            if flags & Linux.MAP_HUGETLB != 0 {
                tracer.step("ksys_mmap_pgoff", "MAP_HUGETLB on a non-hugetlbfs file: EINVAL")
                return .error(.EINVAL)
            }
            file = f
        } else if flags & Linux.MAP_HUGETLB != 0 {
            tracer.step("ksys_mmap_pgoff", "MAP_HUGETLB: no huge pages are reserved (nr_hugepages 0): ENOMEM")
            return .error(.ENOMEM)
        }
        // do_mmap().
        if length == 0 {
            tracer.step("do_mmap", "length 0: EINVAL")
            return .error(.EINVAL)
        }
        var flags = flags
        if flags & Linux.MAP_FIXED_NOREPLACE != 0 { flags |= Linux.MAP_FIXED }
        var addr = addr
        if flags & Linux.MAP_FIXED == 0 { addr = roundHintToMin(addr) }
        let len = pageAlign(length)
        if len == 0 {
            tracer.step("do_mmap", "length rounds up past 2^64: ENOMEM")
            return .error(.ENOMEM)
        }
        if pgoff &+ (len >> Linux.PAGE_SHIFT) < pgoff {
            tracer.step("do_mmap", "pgoff + pages overflows: EOVERFLOW")
            return .error(.EOVERFLOW)
        }
        if mm.mapCount > layout.maxMapCount {
            tracer.step("do_mmap", "map_count \(mm.mapCount) > max_map_count \(layout.maxMapCount): ENOMEM")
            return .error(.ENOMEM)
        }
        var vmFlags = calcVMProtBits(prot).union(calcVMFlagBits(flags)).union(mm.defFlags)
            .union([.MAYREAD, .MAYWRITE, .MAYEXEC])
        switch getUnmappedArea(mm, file: file, addr: addr, len: len, pgoff: pgoff, flags: flags) {
        case let .failed(e):
            tracer.step("__get_unmapped_area", "no address for \(hex(len)) bytes: \(e.name)")
            return .error(e)
        case let .addr(a):
            addr = a
        }
        if flags & Linux.MAP_FIXED_NOREPLACE != 0, mm.vmas.intersects(addr, addr + len) {
            tracer.step("do_mmap", "MAP_FIXED_NOREPLACE and [\(hex(addr))-\(hex(addr + len))) is occupied: EEXIST")
            return .error(.EEXIST)
        }
        if let f = file {
            if let e = mmapFileChecks(f, flags: flags, prot: prot, pgoff: pgoff, len: len, vmFlags: &vmFlags) {
                return .error(e)
            }
        } else {
            switch flags & Linux.MAP_TYPE {
            case Linux.MAP_SHARED:
                if vmFlags.contains(.GROWSDOWN) {
                    tracer.step("do_mmap", "shared anonymous with MAP_GROWSDOWN: EINVAL")
                    return .error(.EINVAL)
                }
                pgoff = 0
                vmFlags.formUnion([.SHARED, .MAYSHARE])
            case Linux.MAP_DROPPABLE, Linux.MAP_PRIVATE:
                if flags & Linux.MAP_TYPE == Linux.MAP_DROPPABLE {
                    if flags & (Linux.MAP_LOCKED | Linux.MAP_HUGETLB) != 0 || vmFlags.contains(.GROWSDOWN) {
                        tracer.step("do_mmap", "MAP_DROPPABLE with MAP_LOCKED/MAP_HUGETLB/growsdown: EINVAL")
                        return .error(.EINVAL)
                    }
                    vmFlags.formUnion([.DROPPABLE, .NORESERVE, .WIPEONFORK, .DONTDUMP])
                }
                // pgoff follows the address so that anonymous VMAs can merge.
                pgoff = addr >> Linux.PAGE_SHIFT
            default:
                tracer.step("do_mmap", "anonymous mapping type \(hex(flags & Linux.MAP_TYPE)) is not SHARED/PRIVATE/DROPPABLE: EINVAL")
                return .error(.EINVAL)
            }
        }
        // MAP_NORESERVE is honoured (vm.overcommit_memory = 0).
        if flags & Linux.MAP_NORESERVE != 0 { vmFlags.insert(.NORESERVE) }
        let r = mmapRegion(p, file: file, addr: addr, len: len, vmFlags: vmFlags, pgoff: pgoff)
        noteCreatedVMAs(mm, firstID: firstID, addr, addr + len)
        if case .value = r,
           vmFlags.contains(.LOCKED) || flags & (Linux.MAP_POPULATE | Linux.MAP_NONBLOCK) == Linux.MAP_POPULATE {
            // vm_mmap_pgoff() drops the write lock before mm_populate().
            mmapWriteUnlock(mm)
            mmPopulate(p, addr, len)
        }
        return r
    }

    /// round_hint_to_min() (mm/mmap.c): a hint is rounded down to a page; a
    /// non-zero hint below mmap_min_addr is raised to it.
    func roundHintToMin(_ hint: UInt64) -> UInt64 {
        let h = hint & ~4095
        if h != 0 && h < layout.mmapMinAddr { return pageAlign(layout.mmapMinAddr) }
        return h
    }

    /// calc_vm_prot_bits() (include/linux/mman.h): PROT_READ/WRITE/EXEC →
    /// VM_READ/WRITE/EXEC (no pkeys).
    func calcVMProtBits(_ prot: UInt64) -> VMFlags {
        var f: VMFlags = []
        if prot & Linux.PROT_READ != 0 { f.insert(.READ) }
        if prot & Linux.PROT_WRITE != 0 { f.insert(.WRITE) }
        if prot & Linux.PROT_EXEC != 0 { f.insert(.EXEC) }
        return f
    }

    /// calc_vm_flag_bits() (include/linux/mman.h): MAP_GROWSDOWN, MAP_LOCKED,
    /// MAP_SYNC, and MAP_STACK → VM_NOHUGEPAGE (~6.7+, `model.mapStackSetsNoHugepage`).
    func calcVMFlagBits(_ flags: UInt64) -> VMFlags {
        var f: VMFlags = []
        if flags & Linux.MAP_GROWSDOWN != 0 { f.insert(.GROWSDOWN) }
        if flags & Linux.MAP_LOCKED != 0 { f.insert(.LOCKED) }
        if flags & Linux.MAP_SYNC != 0 { f.insert(.SYNC) }
        if model.mapStackSetsNoHugepage, flags & Linux.MAP_STACK != 0 { f.insert(.NOHUGEPAGE) }
        return f
    }

    /// The file-mapping part of do_mmap() (mm/mmap.c), §2.1 item 8: offset
    /// limits (EOVERFLOW), MAP_SHARED drops unknown flags while
    /// MAP_SHARED_VALIDATE refuses them (EOPNOTSUPP: no session file supports
    /// MAP_SYNC), shared writes need FMODE_WRITE (EACCES), a shared mapping of
    /// a read-only fd loses VM_MAYWRITE and VM_SHARED but keeps VM_MAYSHARE,
    /// every file mapping needs FMODE_READ (EACCES), no MAP_GROWSDOWN
    /// (EINVAL), other map types EINVAL.
    func mmapFileChecks(_ f: OpenFile, flags: UInt64, prot: UInt64, pgoff: UInt64, len: UInt64,
                        vmFlags: inout VMFlags) -> Errno? {
        // file_mmap_ok()
        let maxSize = Self.maxLFSFileSize
        if len > maxSize || pgoff > (maxSize - len) >> Linux.PAGE_SHIFT {
            tracer.step("file_mmap_ok", "offset beyond the file size limit: EOVERFLOW")
            return .EOVERFLOW
        }
        let type = flags & Linux.MAP_TYPE
        switch type {
        case Linux.MAP_SHARED, Linux.MAP_SHARED_VALIDATE:
            let checked = type == Linux.MAP_SHARED ? flags & Linux.LEGACY_MAP_MASK : flags
            if checked & ~Linux.LEGACY_MAP_MASK != 0 {
                tracer.step("do_mmap", "MAP_SHARED_VALIDATE with unsupported flags \(hex(checked & ~Linux.LEGACY_MAP_MASK)): EOPNOTSUPP")
                return .EOPNOTSUPP
            }
            if prot & Linux.PROT_WRITE != 0 && !f.writable {
                tracer.step("do_mmap", "shared PROT_WRITE mapping of file\(f.id) not opened for writing: EACCES")
                return .EACCES
            }
            vmFlags.formUnion([.SHARED, .MAYSHARE])
            if !f.writable {
                vmFlags.subtract([.MAYWRITE, .SHARED])
                tracer.step("do_mmap", "file\(f.id) is read-only: VM_MAYWRITE and VM_SHARED cleared, VM_MAYSHARE kept")
            }
            fallthrough
        case Linux.MAP_PRIVATE:
            if !f.readable {
                tracer.step("do_mmap", "file\(f.id) not opened for reading: EACCES")
                return .EACCES
            }
            if vmFlags.contains(.GROWSDOWN) {
                tracer.step("do_mmap", "MAP_GROWSDOWN on a file mapping: EINVAL")
                return .EINVAL
            }
        default:
            tracer.step("do_mmap", "file mapping type \(hex(type)) is not SHARED/SHARED_VALIDATE/PRIVATE: EINVAL")
            return .EINVAL
        }
        return nil
    }

    /// accountable_mapping() (mm/vma.c): private, writable, reserve honoured
    /// — (VM_NORESERVE|VM_SHARED|VM_WRITE) ∩ flags == {VM_WRITE}.
    @inline(__always)
    func accountableMapping(_ flags: VMFlags) -> Bool {
        flags.intersection([.NORESERVE, .SHARED, .WRITE]) == .WRITE
    }

    /// Models mmap_region() / __mmap_region() (mm/vma.c), §2.4: gather and
    /// split whatever the range replaces (MAP_FIXED; ENOMEM at the map-count
    /// limit), add VM_ACCOUNT for accountable mappings, zap the replaced
    /// PTEs and unlink their chains, try vma_merge_new_range() with
    /// anon_vma = NULL, else allocate a VMA (shared anonymous memory gets a
    /// shmem file, pgoff 0). Never allocates an anon_vma.
    func mmapRegion(_ p: Process, file: OpenFile?, addr: UInt64, len: UInt64, vmFlags: VMFlags,
                    pgoff: UInt64) -> SysReturn {
        let mm = p.mm
        let end = addr + len
        var flags = vmFlags
        // __mmap_prepare(): overlapping VMAs (MAP_FIXED) are split and detached.
        var detached = DetachedVMAs()
        if let first = mm.vmas.findVMA(addr), first.start < end {
            guard let d = vmsGatherMunmapVMAs(p, first, addr, end) else { return .error(.ENOMEM) }
            detached = d
        }
        if accountableMapping(flags) { flags.insert(.ACCOUNT) }
        if !detached.isEmpty {
            tracer.step("__mmap_prepare", "MAP_FIXED replaces \(detached.count) VMA(s) in [\(hex(addr))-\(hex(end)))")
            vmsCompleteMunmapVMAs(p, detached, addr, end)
        }
        let prev = mm.vmas.vmaEnding(atOrBefore: addr)
        let next = mm.vmas.findVMA(addr)
        var vma: VMA?
        if prev != nil || next != nil {
            var vmg = VMAMergeProposal(mm: mm, pid: p.pid, prev: prev, middle: nil, next: next, start: addr,
                                       end: end, pgoff: pgoff, flags: flags, file: file, anonVMA: nil)
            vma = vmaMergeNewRange(&vmg)
        }
        if vma == nil {
            let kind: VMAKind
            var vmFile = file
            if file != nil {
                kind = .file
            } else if flags.contains(.SHARED) {
                // shmem_zero_setup(): a shmem object behind the mapping.
                vmFile = makeShmemFile(size: len)
                kind = .file
            } else {
                kind = .anonymous
            }
            let v = insertNewVMA(mm, start: addr, end: end, pgoff: pgoff, flags: flags, kind: kind, file: vmFile)
            tracer.step("__mmap_new_vma", "new VMA \(v.rangeDescription) pgoff \(hex(pgoff))\(vmFile.map { " file\($0.id)" } ?? ""), no anon_vma")
            vma = v
        }
        if flags.contains(.ACCOUNT) { mm.committedPages += len >> Linux.PAGE_SHIFT }
        eagerAnonVMAIfNeeded(p, vma!)
        return .value(addr)
    }

    /// Models __mm_populate() with ignore_errors (mm/gup.c), for MAP_POPULATE
    /// and VM_LOCKED: each VMA in range except VM_IO/VM_PFNMAP/VM_LOCKONFAULT
    /// is faulted in page by page under mmap_lock (GUP): writable private
    /// mappings with write faults, others with read faults; PROT_NONE VMAs
    /// are skipped (no FOLL_FORCE). A failing fault ends that VMA only.
    func mmPopulate(_ p: Process, _ start: UInt64, _ len: UInt64) {
        let mm = p.mm
        let end = start + len
        var cur = start
        var populated = 0
        while cur < end, let vma = mm.vmas.findVMA(cur), vma.start < end {
            let vStart = max(cur, vma.start), vEnd = min(end, vma.end)
            cur = vEnd
            if !vma.flags.intersection([.IO, .PFNMAP, .LOCKONFAULT]).isEmpty || !vma.flags.isAccessible { continue }
            let write = vma.flags.intersection([.WRITE, .SHARED]) == .WRITE
            var a = vStart
            while a < vEnd {
                let r = gupFault(p, a, write: write)
                if r.outcome != .handled { break }
                if r.fault { populated += 1 }
                a += Linux.PAGE_SIZE
            }
        }
        effects.pagesPopulated += populated
        tracer.step("__mm_populate", "\(populated) page(s) faulted in over [\(hex(start))-\(hex(end)))")
    }

    /// One GUP fault (faultin_page(): under mmap_lock, never the VMA lock)
    /// for populate paths. The fault keeps its own trace (the syscall's
    /// steps are set aside meanwhile); taken faults go to `pendingFaults`.
    func gupFault(_ p: Process, _ address: UInt64, write: Bool) -> FaultResult {
        let saved = tracer
        tracer = Tracer(enabled: saved.enabled)
        let r = handleFault(p, address: address, access: write ? .write : .read, mode: .kernel,
                            inject: .none, gup: true)
        tracer = saved
        if r.fault { pendingFaults.append(r) }
        return r
    }
}
