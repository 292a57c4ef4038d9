import MMCore
extension Replayer {
    /// Replays one traced syscall. Calls that failed in the trace are not
    /// replayed (their failure came from state the trace does not show);
    /// placements the kernel chose are replayed with MAP_FIXED / MREMAP_FIXED.
    func syscall(_ p: Process, _ call: Syscall, _ result: TraceResult, line: Int, tracePid: Int?) {
        let ret: UInt64
        switch result {
        case let .value(v): ret = v
        case let .error(errno, _):
            return step(line, tracePid, .skipped, "\(call.name) failed in the trace (\(errno.name)); not replayed")
        case .unknown:
            if case .exit = call {} else { return step(line, tracePid, .skipped, "\(call.name) has no result in the trace") }
            ret = 0
        }
        let replayed: Syscall
        switch call {
        case let .open(path, flags):
            var fdMap = fdTable(p.pid)
            if path == "<unknown>" {
                // perf shows no file names: open lazily at the first mmap, named after the layout hints.
                lazyOpens[p.pid, default: [:]][Int(truncatingIfNeeded: ret)] = flags
                fdMap.removeValue(forKey: Int(truncatingIfNeeded: ret))
                setFdTable(p.pid, fdMap)
                return step(line, tracePid, .applied, "open(<unknown>) = \(ret): opened at its first mmap")
            }
            let simPath = path
            if sim.inodes[simPath] == nil { _ = try? sim.createFile(path: simPath, size: 0) }
            guard let r = try? sim.syscall(pid: p.pid, .open(path: simPath, flags: flags)), r.errno == nil else {
                return step(line, tracePid, .skipped, "open failed in the simulation")
            }
            fdMap[Int(truncatingIfNeeded: ret)] = Int(r.ret)
            setFdTable(p.pid, fdMap)
            return step(line, tracePid, .applied, r.strace)
        case let .close(fd):
            var fdMap = fdTable(p.pid)
            if lazyOpens[p.pid]?.removeValue(forKey: fd) != nil {
                return step(line, tracePid, .applied, "close(\(fd)): never mapped")
            }
            guard let simFd = fdMap.removeValue(forKey: fd) else {
                return step(line, tracePid, .skipped, "close(\(fd)): not a file the trace opened")
            }
            setFdTable(p.pid, fdMap)
            replayed = .close(fd: simFd)
        case let .mmap(_, length, prot, flags, fd, offset):
            var simFd = -1
            if flags & Linux.MAP_ANONYMOUS == 0 {
                var fdMap = fdTable(p.pid)
                if let f = fdMap[fd] {
                    simFd = f
                } else {
                    // Opened without a name (perf), or a descriptor the trace did not show
                    // being opened (memfd, dup, inherited): name it from the layout hints.
                    let openFlags = lazyOpens[p.pid]?.removeValue(forKey: fd) ?? Linux.O_RDWR
                    let path = hintedPath(tracePid, ret) ?? nextUnknownPath()
                    if sim.inodes[path] == nil { _ = try? sim.createFile(path: path, size: 0) }
                    guard let r = try? sim.syscall(pid: p.pid, .open(path: path, flags: openFlags)) else { return }
                    simFd = Int(r.ret)
                    fdMap[fd] = simFd
                    setFdTable(p.pid, fdMap)
                }
                if let inode = p.fds[simFd]?.inode, !inode.isShmem {
                    inode.size = max(inode.size, offset &+ length)   // the file reaches at least this far
                }
            }
            let fixed = (flags & ~Linux.MAP_FIXED_NOREPLACE) | Linux.MAP_FIXED
            replayed = .mmap(addr: ret, length: length, prot: prot, flags: fixed, fd: simFd, offset: offset)
        case let .mremap(old, oldSize, newSize, flags, newAddr):
            if ret != old && flags & Linux.MREMAP_MAYMOVE != 0 {
                replayed = .mremap(oldAddress: old, oldSize: oldSize, newSize: newSize,
                                   flags: flags | Linux.MREMAP_FIXED, newAddress: ret)
            } else {
                replayed = .mremap(oldAddress: old, oldSize: oldSize, newSize: newSize, flags: flags, newAddress: newAddr)
            }
        case let .brk(addr):
            // The first brk shows where the kernel put the heap: adopt it.
            if !brkKnown.contains(p.pid), addr == 0 || addr < ret {
                p.mm.startBrk = ret
                p.mm.brk = ret
            }
            brkKnown.insert(p.pid)
            replayed = call
        default:
            replayed = call
        }
        guard let r = try? sim.syscall(pid: p.pid, replayed) else { return }
        step(line, tracePid, .applied, r.strace)
        if faults == .touch, r.errno == nil { touchNew(p, replayed, r) }
    }

    /// The path the hints (a recorded layout) show at `addr` for this trace process.
    private func hintedPath(_ tracePid: Int?, _ addr: UInt64) -> String? {
        guard let hints = pathHints[tracePid ?? -1] else { return nil }
        return hints.first { $0.start <= addr && addr < $0.end && $0.kind == .file }?.path
    }

    private func nextUnknownPath() -> String {
        unknownFilesCount += 1
        return "<unknown file \(unknownFilesCount)>"
    }

    /// faults=touch: one fault per new page of a successful mmap.
    private func touchNew(_ p: Process, _ call: Syscall, _ r: SyscallResult) {
        guard case let .mmap(addr, length, prot, _, _, _) = call, prot != Linux.PROT_NONE else { return }
        let pages = min((length + Linux.PAGE_SIZE - 1) >> Linux.PAGE_SHIFT, 256)
        let access: Access = prot & Linux.PROT_WRITE != 0 ? .write : .read
        for i in 0..<pages {
            if let f = try? sim.fault(pid: p.pid, address: addr + i << Linux.PAGE_SHIFT, access: access), collectFaults {
                appendFault(f)
            }
        }
    }
}
