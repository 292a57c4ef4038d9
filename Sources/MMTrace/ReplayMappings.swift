import MMCore
/// perf's mapping records (`PERF_RECORD_MMAP2`) in a replay.
extension Replayer {
    /// Brings the simulated layout in line with one VMA as perf reported it.
    ///
    /// perf_event_mmap() (kernel/events/core.c) reports the whole VMA after
    /// every change: the ELF loader's mappings and the stack at exec
    /// (load_elf_binary(), setup_arg_pages()), mmap_region(),
    /// mprotect_fixup(), do_brk_flags(), _install_special_mapping(). A record
    /// therefore describes state, not an operation, and is applied piece by
    /// piece over the range: where the simulation already has a VMA with the
    /// same backing (the same file at the same offset, or anonymous memory,
    /// private or shared alike) only a protection change is applied
    /// (mprotect, keeping its pages and anon_vma, as mprotect_fixup() does);
    /// a hole or a different backing gets a MAP_FIXED mmap of the record's
    /// file, offset, protection and sharing. A record that changes nothing
    /// (a brk or stack growth already replayed) is applied as "no change".
    func reconcile(_ p: Process, _ m: MapsEntry, line: Int, tracePid: Int?) {
        let what = "\(hex(m.start))-\(hex(m.end)) \(m.path.isEmpty ? "anon" : m.path)"
        switch m.kind {
        case .vsyscall, .pseudo:
            return step(line, tracePid, .skipped, "\(m.path): not modelled")
        case .vdso, .vvar:
            guard !p.mm.vmas.intersects(m.start, m.end) else { return step(line, tracePid, .applied, "\(what): already mapped") }
            var flags: VMFlags = [.MAYREAD, .DONTEXPAND]
            if m.read { flags.insert(.READ) }
            if m.exec { flags.formUnion([.EXEC, .MAYEXEC, .MAYWRITE]) } else { flags.formUnion([.PFNMAP, .IO, .DONTDUMP]) }
            sim.installSpecialMapping(in: p, start: m.start, end: m.end, flags: flags, name: m.path)
            return step(line, tracePid, .applied, "special mapping \(m.path)")
        default:
            break
        }
        guard m.start < m.end, m.start & (Linux.PAGE_SIZE - 1) == 0 else { return step(line, tracePid, .skipped, "\(what): not page aligned") }
        var done: [String] = []
        var cursor = m.start
        while cursor < m.end {
            if let v = p.mm.vmas.find(containing: cursor) {
                let segEnd = min(v.end, m.end)
                if sameBacking(v, m, at: cursor) {
                    if protection(v) != m.prot {
                        let r = try? sim.syscall(pid: p.pid, .mprotect(addr: cursor, length: segEnd - cursor, prot: m.prot))
                        done.append(r?.strace ?? "mprotect failed")
                    }
                } else {
                    done.append(mapFixed(p, m, cursor, segEnd, tracePid: tracePid))
                }
                cursor = segEnd
            } else {
                let next = p.mm.vmas.findVMA(cursor)?.start ?? m.end
                let segEnd = min(next, m.end)
                done.append(mapFixed(p, m, cursor, segEnd, tracePid: tracePid))
                cursor = segEnd
            }
        }
        step(line, tracePid, .applied, done.isEmpty ? "\(what): no change" : done.joined(separator: "; "))
    }

    private func protection(_ v: VMA) -> UInt64 {
        (v.flags.contains(.READ) ? Linux.PROT_READ : 0) | (v.flags.contains(.WRITE) ? Linux.PROT_WRITE : 0)
            | (v.flags.contains(.EXEC) ? Linux.PROT_EXEC : 0)
    }

    /// Whether `v` maps what `m` reports at `addr`: the same file page, or
    /// anonymous memory, with the same sharing.
    private func sameBacking(_ v: VMA, _ m: MapsEntry, at addr: UInt64) -> Bool {
        guard v.flags.contains(.MAYSHARE) == m.shared else { return false }
        switch m.kind {
        case .file:
            guard v.kind == .file, let f = v.file, f.inode.path == m.path else { return false }
            return v.pgoff + (addr - v.start) >> Linux.PAGE_SHIFT == (m.offset + (addr - m.start)) >> Linux.PAGE_SHIFT
        case .anonymous, .heap, .stack:
            return v.isAnonymous
        default:
            return false
        }
    }

    /// A MAP_FIXED mmap of `m`'s backing over [lo, hi).
    private func mapFixed(_ p: Process, _ m: MapsEntry, _ lo: UInt64, _ hi: UInt64, tracePid: Int?) -> String {
        let share = m.shared ? Linux.MAP_SHARED : Linux.MAP_PRIVATE
        switch m.kind {
        case .file:
            if sim.inodes[m.path] == nil { _ = try? sim.createFile(path: m.path, size: 0) }
            if let inode = sim.inodes[m.path], !inode.isShmem { inode.size = max(inode.size, m.offset + m.length) }
            let mode = m.shared && m.write ? Linux.O_RDWR : Linux.O_RDONLY
            guard let o = try? sim.syscall(pid: p.pid, .open(path: m.path, flags: mode)), o.errno == nil else { return "open \(m.path) failed" }
            let fd = Int(o.ret)
            let r = try? sim.syscall(pid: p.pid, .mmap(addr: lo, length: hi - lo, prot: m.prot, flags: share | Linux.MAP_FIXED,
                                                        fd: fd, offset: m.offset + (lo - m.start)))
            _ = try? sim.syscall(pid: p.pid, .close(fd: fd))
            return r?.strace ?? "mmap failed"
        default:
            var flags = share | Linux.MAP_FIXED | Linux.MAP_ANONYMOUS
            if m.kind == .stack { flags |= Linux.MAP_GROWSDOWN }
            let r = try? sim.syscall(pid: p.pid, .mmap(addr: lo, length: hi - lo, prot: m.prot, flags: flags, fd: -1, offset: 0))
            if m.kind == .stack, let v = p.mm.vmas.find(containing: lo) {
                v.name = "[stack]"
                // The arguments, environment and auxv were copied to the top
                // of the new stack by copy_strings() through GUP: no fault event.
                if hi == m.end { _ = try? sim.fault(pid: p.pid, address: hi - Linux.PAGE_SIZE, access: .write, mode: .kernel) }
            }
            if m.kind == .heap, lo == m.start {
                p.mm.startBrk = m.start
                p.mm.brk = m.end
                brkKnown.insert(p.pid)
            }
            return r?.strace ?? "mmap failed"
        }
    }
}
