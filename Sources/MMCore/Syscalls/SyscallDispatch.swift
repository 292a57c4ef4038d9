extension Simulation {
    /// Applies one syscall in process `pid` and explains it.
    ///
    /// Each call is one mmap_lock write period: VMAs it write-locks are
    /// unlocked when it returns (mmap_write_unlock()).
    public func syscall(pid: Int, _ call: Syscall) throws(SimulationError) -> SyscallResult {
        let p = try process(pid)
        effects.reset()
        _ = tracer.take()
        pendingFaults = []
        let ret: SysReturn
        switch call {
        case let .open(path, flags): ret = sysOpen(p, path: path, flags: flags)
        case let .close(fd): ret = sysClose(p, fd: fd)
        case let .mmap(addr, length, prot, flags, fd, offset):
            ret = sysMmap(p, addr: addr, length: length, prot: prot, flags: flags, fd: fd, offset: offset)
        case let .munmap(addr, length): ret = sysMunmap(p, addr: addr, length: length)
        case let .mprotect(addr, length, prot): ret = sysMprotect(p, addr: addr, length: length, prot: prot)
        case let .madvise(addr, length, advice): ret = sysMadvise(p, addr: addr, length: length, advice: advice)
        case let .mremap(old, oldSize, newSize, flags, newAddr):
            ret = sysMremap(p, oldAddress: old, oldSize: oldSize, newSize: newSize, flags: flags, newAddress: newAddr)
        case let .brk(addr): ret = sysBrk(p, addr: addr)
        case .fork: ret = sysFork(p)
        case let .exit(status): ret = sysExit(p, status: status)
        }
        if p.state == .running { mmapWriteUnlock(p.mm) }
        let raw: Int64
        let err: Errno?
        switch ret {
        case let .value(v): raw = Int64(bitPattern: v); err = nil
        case let .error(e): raw = -Int64(e.rawValue); err = e
        }
        let faults = pendingFaults
        pendingFaults = []
        return SyscallResult(syscall: call.name, returnsAddress: call.returnsAddress, ret: raw, errno: err,
                             strace: tracer.enabled ? StraceFormat.line(call, ret) : "", effects: effects,
                             trace: tracer.take(), faults: faults)
    }

    /// open(2): a new `struct file` on an existing inode of the session.
    func sysOpen(_ p: Process, path: String, flags: UInt64) -> SysReturn {
        guard let inode = inodes[path] else {
            tracer.step("do_sys_open", "\(path): no such file in the session")
            return .error(.ENOENT)
        }
        let file = makeOpenFile(inode, flags: flags)
        let fd = p.fds.install(file)
        tracer.step("do_sys_open", "new struct file file\(file.id) on inode \(inode.ino), fd \(fd)")
        return .value(UInt64(fd))
    }

    /// close(2): drops the descriptor; mappings keep their file reference.
    func sysClose(_ p: Process, fd: Int) -> SysReturn {
        guard p.fds.close(fd) else { return .error(.EBADF) }
        tracer.step("close_fd", "fd \(fd) closed; VMAs keep their struct file reference")
        return .zero
    }
}

/// strace's one-line rendering of a call and its result.
public enum StraceFormat {
    static func addr(_ v: UInt64) -> String { v == 0 ? "NULL" : hex(v) }

    /// `mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f…`.
    public static func line(_ call: Syscall, _ ret: SysReturn) -> String {
        let args: String
        switch call {
        case let .open(path, flags): args = "\"\(path)\", \(Linux.openNames.format(flags))"
        case let .close(fd): args = "\(fd)"
        case let .mmap(a, len, prot, flags, fd, off):
            args = "\(addr(a)), \(len), \(Linux.protNames.format(prot)), \(Linux.mapNames.format(flags)), \(fd), \(off == 0 ? "0" : hex(off))"
        case let .munmap(a, len): args = "\(hex(a)), \(len)"
        case let .mprotect(a, len, prot): args = "\(hex(a)), \(len), \(Linux.protNames.format(prot))"
        case let .madvise(a, len, adv): args = "\(hex(a)), \(len), \(Linux.madvNames.format(adv))"
        case let .mremap(a, o, n, f, na):
            var s = "\(hex(a)), \(o), \(n), \(Linux.mremapNames.format(f))"
            if f & Linux.MREMAP_FIXED != 0 { s += ", \(hex(na))" }
            args = s
        case let .brk(a): args = addr(a)
        case .fork: args = ""
        case let .exit(status): args = "\(status)"
        }
        let result: String
        switch ret {
        case let .value(v): result = call.returnsAddress ? hex(v) : String(v)
        case let .error(e): result = "-1 \(e.name) (\(e.message))"
        }
        if case .exit = call { return "\(call.name)(\(args)) = ?" }
        return "\(call.name)(\(args)) = \(result)"
    }
}
