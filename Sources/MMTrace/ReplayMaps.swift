import MMCore
extension Replayer {
    /// Builds a process's starting layout from a `/proc/PID/maps` text: what
    /// the ELF loader left at exec (binary, interpreter, stack, vdso). Each
    /// line becomes a MAP_FIXED mmap (one `struct file` per path, as the
    /// loader opens each object once), `[heap]` sets the brk area,
    /// `[vdso]`/`[vvar]`/`[vvar_vclock]` become special mappings without
    /// `map_pages` (docs/KERNEL-MODEL.md §10), and `[stack]` a growsdown VMA.
    /// The loader's own writes are modelled as kernel-mode write faults: the
    /// top page of the stack (argv, envp, auxv) and, where an anonymous
    /// `.bss` follows a writable file segment, that segment's last page
    /// (padzero()) — unless `loaderWrites` is false because the trace itself
    /// records the loader's faults. Returns one step per entry.
    @discardableResult
    public func importMaps(_ entries: [MapsEntry], into p: Process, loaderWrites: Bool = true) -> [ReplayStep] {
        var out: [ReplayStep] = []
        var opened: [String: Int] = [:]
        func note(_ e: MapsEntry, _ s: ReplayStep.Status, _ what: String) {
            out.append(ReplayStep(line: 0, pid: p.pid, status: s, what: "\(hex(e.start))-\(hex(e.end)) \(what)"))
        }
        for (n, e) in entries.enumerated() {
            let privateFlag = e.shared ? Linux.MAP_SHARED : Linux.MAP_PRIVATE
            switch e.kind {
            case .file:
                let path = e.path
                if sim.inodes[path] == nil { _ = try? sim.createFile(path: path, size: 0) }
                if let inode = sim.inodes[path] { inode.size = max(inode.size, e.offset + e.length) }
                let fd: Int
                if let f = opened[path] {
                    fd = f
                } else {
                    guard let r = try? sim.syscall(pid: p.pid, .open(path: path, flags: e.shared && e.write ? Linux.O_RDWR : Linux.O_RDONLY)) else { continue }
                    fd = Int(r.ret)
                    opened[path] = fd
                }
                let r = try? sim.syscall(pid: p.pid, .mmap(addr: e.start, length: e.length, prot: e.prot,
                                                            flags: privateFlag | Linux.MAP_FIXED, fd: fd, offset: e.offset))
                note(e, .applied, r?.strace ?? "mmap failed")
                if loaderWrites, e.write, !e.shared, n + 1 < entries.count, entries[n + 1].kind == .anonymous, entries[n + 1].start == e.end {
                    _ = try? sim.fault(pid: p.pid, address: e.end - Linux.PAGE_SIZE, access: .write, mode: .kernel)
                }
            case .anonymous, .stack:
                var flags = privateFlag | Linux.MAP_FIXED | Linux.MAP_ANONYMOUS
                if e.kind == .stack { flags |= Linux.MAP_GROWSDOWN }
                let r = try? sim.syscall(pid: p.pid, .mmap(addr: e.start, length: e.length, prot: e.prot,
                                                            flags: flags, fd: -1, offset: 0))
                note(e, .applied, r?.strace ?? "mmap failed")
                if e.kind == .stack, let v = p.mm.vmas.find(containing: e.start) {
                    v.name = "[stack]"
                    _ = try? sim.fault(pid: p.pid, address: e.end - Linux.PAGE_SIZE, access: .write, mode: .kernel)
                }
            case .heap:
                p.mm.startBrk = e.start
                p.mm.brk = e.start
                let r = try? sim.syscall(pid: p.pid, .brk(addr: e.end))
                note(e, .applied, r?.strace ?? "brk failed")
            case .vdso, .vvar:
                guard !p.mm.vmas.intersects(e.start, e.end) else { note(e, .skipped, "overlaps an existing VMA"); continue }
                var flags: VMFlags = [.MAYREAD, .DONTEXPAND]
                if e.read { flags.insert(.READ) }
                if e.exec { flags.formUnion([.EXEC, .MAYEXEC, .MAYWRITE]) } else { flags.formUnion([.PFNMAP, .IO, .DONTDUMP]) }
                sim.installSpecialMapping(in: p, start: e.start, end: e.end, flags: flags, name: e.path)
                note(e, .applied, "special mapping \(e.path)")
            case .vsyscall:
                note(e, .skipped, "[vsyscall] lies outside the 47-bit user window")
            case .pseudo:
                note(e, .skipped, "\(e.path): not modelled")
            }
        }
        for fd in opened.values { _ = try? sim.syscall(pid: p.pid, .close(fd: fd)) }
        return out
    }
}
