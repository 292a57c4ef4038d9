/// Validation of a request and the engine's starting point.
struct EngineStart {
    var world: World
    var threads: [ThreadState]
    var names: [String]
    var programs: [[ThreadOp]]
    var model: KernelModel
    var mutant: Mutant?
    var inject: ExploreInjection
    /// vm_flags each anonymous mmap op would get (calc_vm_prot_bits() |
    /// calc_vm_flag_bits() | def_flags | VM_MAY* | VM_ACCOUNT), per thread and op.
    var mmapFlags: [[VMFlags?]]
    /// The file each mmap op maps (nil: anonymous), per thread and op.
    var mmapFiles: [[EngineFileMapping?]]
}

/// What a private file mmap op maps: the open file (fd looked up when the
/// exploration starts) and the first page offset.
struct EngineFileMapping: Hashable {
    /// The OpenFile's id (vm_file identity).
    var file: Int
    var pgoff: UInt64
}

extension Simulation {
    /// Checks the programs and imports process `pid` (docs/CONCURRENCY.md §5.1).
    func engineStart(pid: Int, programs: [ThreadProgram], options: ExploreOptions) throws(ExploreError) -> EngineStart {
        guard let p = processes[pid], p.state == .running else { throw .noSuchProcess(pid) }
        if programs.isEmpty { throw .noThreads }
        var seen = Set<String>()
        for prog in programs {
            if prog.name.isEmpty || prog.name == "rcu" || !seen.insert(prog.name).inserted {
                throw .invalidThreadName(prog.name)
            }
            if prog.ops.isEmpty { throw .emptyProgram(thread: prog.name) }
            for (i, op) in prog.ops.enumerated() {
                if let why = Self.engineRefusal(op) ?? Self.fileMappingRefusal(op, p) {
                    throw .invalidOp(thread: prog.name, index: i, reason: why)
                }
            }
        }
        let world = World(importing: p, from: self)
        let threads = programs.indices.map { ThreadState(index: $0) }
        let flags = programs.map { prog in
            prog.ops.map { op -> VMFlags? in
                guard case let .syscall(.mmap(_, _, prot, fl, _, _)) = op else { return nil }
                var f = calcVMProtBits(prot).union(calcVMFlagBits(fl)).union(p.mm.defFlags)
                    .union([.MAYREAD, .MAYWRITE, .MAYEXEC])
                if fl & Linux.MAP_NORESERVE != 0 { f.insert(.NORESERVE) }
                if accountableMapping(f) { f.insert(.ACCOUNT) }
                return f
            }
        }
        let files = programs.map { prog in
            prog.ops.map { op -> EngineFileMapping? in
                guard case let .syscall(.mmap(_, _, _, fl, fd, offset)) = op, fl & Linux.MAP_ANONYMOUS == 0,
                      let f = p.fds[fd] else { return nil }
                return EngineFileMapping(file: f.id, pgoff: offset >> 12)
            }
        }
        return EngineStart(world: world, threads: threads, names: programs.map(\.name), programs: programs.map(\.ops),
                           model: model, mutant: options.mutant, inject: options.inject, mmapFlags: flags,
                           mmapFiles: files)
    }

    /// Why the engine cannot map the file of a private file mmap op of
    /// process `p`: the fd must be open (before exploring) and readable.
    static func fileMappingRefusal(_ op: ThreadOp, _ p: Process) -> String? {
        guard case let .syscall(.mmap(_, _, _, flags, fd, _)) = op, flags & Linux.MAP_ANONYMOUS == 0 else { return nil }
        guard let f = p.fds[fd] else { return "fd \(fd) is not open in process \(p.pid): open the file before exploring" }
        return f.readable ? nil : "fd \(fd) is not open for reading (do_mmap(): EACCES)"
    }

    /// Why the engine cannot run `op`, or nil.
    static func engineRefusal(_ op: ThreadOp) -> String? {
        switch op {
        case let .fault(address, _):
            return address >= 0x8000_0000_0000 ? "address \(hex(address)) is not a user address" : nil
        case .mbind:
            return nil
        case let .syscall(call):
            switch call {
            case .open, .close: return "\(call.name) does not touch the mm: run it before exploring"
            case .exit: return "exit is not modelled by the step engine"
            case let .mmap(_, length, _, flags, _, offset):
                if flags & Linux.MAP_TYPE != Linux.MAP_PRIVATE {
                    return "only private mmap is modelled by the step engine (MAP_SHARED page-cache writes are not)"
                }
                if flags & Linux.MAP_HUGETLB != 0 { return "MAP_HUGETLB is not modelled by the step engine" }
                if length == 0 { return "length must not be 0" }
                if flags & Linux.MAP_ANONYMOUS == 0 {
                    if flags & Linux.MAP_FIXED == 0 {
                        return "a file mmap must be MAP_FIXED in the step engine (get_unmapped_area() of a file is not modelled)"
                    }
                    if offset & 0xfff != 0 { return "offset must be page aligned" }
                    if flags & Linux.MAP_GROWSDOWN != 0 { return "MAP_GROWSDOWN on a file mapping: EINVAL" }
                }
                return nil
            case let .madvise(_, _, advice):
                return advice == Linux.MADV_DONTNEED ? nil : "only MADV_DONTNEED is modelled by the step engine"
            case let .mremap(_, oldSize, newSize, flags, _):
                if flags & Linux.MREMAP_MAYMOVE == 0 { return "mremap needs MREMAP_MAYMOVE in the step engine" }
                if oldSize != newSize { return "the step engine models moves only (old_size == new_size)" }
                return nil
            case .munmap, .mprotect, .brk, .fork: return nil
            }
        }
    }
}
