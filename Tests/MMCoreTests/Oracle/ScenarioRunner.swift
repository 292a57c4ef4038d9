import Foundation
@testable import MMCore

/// Runs an oracle scenario through MMCore in-process and reports what the
/// simulator did in the kernel runner's terms (run_kernel.py): the same
/// step results and the same observations, so that they can be compared
/// with expected/NAME.json value by value.
///
/// Mirrors of run_kernel.py, in order of appearance:
/// * addresses are page offsets from WINDOW (0x100000000000), plus `byte_offset`;
///   lengths are `pages` pages unless `length_bytes` is given;
/// * files are created as "/oracle/<name>"; the runner writes them page by
///   page and reads every page before the workers start, so every page below
///   EOF is cached — which is how the simulator treats session files. Those
///   page-cache pages (created here up front) are labelled "<name>@<index>";
///   a page the file gets later (after a punched hole) is just a frame ("F<n>"),
///   as the runner labels every PFN it did not resolve at start;
/// * fd labels are per process; a child inherits its parent's labels (the
///   worker's dict is copied by fork(), and the simulator's fork copies the
///   fd table); a closed label passes fd -1 afterwards;
/// * `touch` makes one user fault per page and keeps going after a signal; a
///   page whose access raised SIGSEGV/SIGBUS is reported as
///   `{"ok": false, "errno": <first signal by name>, "faults": [{page, signal}]}`
///   (the runner probes such pages through a syscall instead of dying);
/// * mmap/mremap report `at` for a page-aligned address inside the window,
///   `outside_window` otherwise;
/// * observations list live processes in registration order and the pages that
///   pagemap would show (present, or a guard marker) with kpageflags/kpagecount.
final class ScenarioRunner {
    static let windowBase: UInt64 = 0x1000_0000_0000
    static let pageSize: UInt64 = 4096

    /// What the run produced.
    struct Output {
        var steps: [StepResult] = []
        var observations: [Observation] = []
        /// Problems of the harness itself (unknown fd label, dead process, …),
        /// by step index.
        var harnessErrors: [Int: String] = [:]
    }

    struct HarnessError: Error, CustomStringConvertible {
        var description: String
        init(_ s: String) { description = s }
    }

    let scenario: OracleScenario
    let sim: Simulation
    private var windowEnd: UInt64 { Self.windowBase + UInt64(scenario.windowPages) * Self.pageSize }

    /// Process labels in registration order (the order observations list
    /// them in), and their pids.
    private(set) var registrationOrder: [String] = []
    private(set) var pids: [String: Int] = [:]
    /// fd label → fd number, per process label.
    private var fds: [String: [String: Int]] = [:]
    /// Scenario file name → inode.
    private var inodes: [String: Inode] = [:]
    /// Frame labels: private anonymous folio id → "F<n>", shmem object → "shm<k>".
    private var anonLabels: [Int: String] = [:]
    private var shmemLabels: [Int: String] = [:]
    /// Ids of the page-cache folios the files had at start (run_kernel.py's
    /// resolve_file_pfns()).
    private var originalFileFolios: Set<Int> = []

    init(_ scenario: OracleScenario, model: KernelModel = .v6_18) {
        self.scenario = scenario
        self.sim = Simulation(model: model)
    }

    static func path(of file: String) -> String { "/oracle/\(file)" }

    // MARK: running

    func run() throws -> Output {
        for f in scenario.files {
            let inode = try sim.createFile(path: Self.path(of: f.name), size: f.size,
                                           mode: f.writable == false ? 0o444 : 0o644)
            inodes[f.name] = inode
            for index in 0..<inode.sizePages { originalFileFolios.insert(sim.pageCacheFolio(inode, index).id) }
        }
        let p0 = sim.createProcess(comm: "p0")
        register("p0", pid: p0.pid, fds: [:])

        var out = Output()
        for (i, step) in scenario.steps.enumerated() {
            do {
                if step.op == "observe" {
                    out.observations.append(observe(step.label ?? "?"))
                    out.steps.append(StepResult(ok: true))
                } else {
                    out.steps.append(try execute(step))
                }
            } catch {
                out.harnessErrors[i] = "\(error)"
                out.steps.append(StepResult(ok: false, errno: "HARNESS: \(error)"))
            }
        }
        return out
    }

    private func register(_ label: String, pid: Int, fds table: [String: Int]) {
        registrationOrder.append(label)
        pids[label] = pid
        fds[label] = table
    }

    private func isAlive(_ label: String) -> Bool {
        guard let pid = pids[label], let p = sim.processes[pid] else { return false }
        return p.state == .running
    }

    private func addr(_ s: OracleStep) throws -> UInt64 {
        guard let at = s.at else { throw HarnessError("step lacks 'at'") }
        let a = Int64(bitPattern: Self.windowBase) + Int64(at) * Int64(Self.pageSize) + (s.byteOffset ?? 0)
        return UInt64(bitPattern: a)
    }

    private func length(_ s: OracleStep) throws -> UInt64 {
        if let b = s.lengthBytes { return b }
        guard let p = s.pages else { throw HarnessError("step lacks 'pages'") }
        return UInt64(p) * Self.pageSize
    }

    static func prot(_ s: String) throws -> UInt64 {
        let chars = Array(s)
        guard chars.count == 3 else { throw HarnessError("prot must be 3 chars like 'rw-': \(s)") }
        var v: UInt64 = 0
        for ch in chars {
            switch ch {
            case "-": break
            case "r": v |= Linux.PROT_READ
            case "w": v |= Linux.PROT_WRITE
            case "x": v |= Linux.PROT_EXEC
            default: throw HarnessError("bad prot \(s)")
            }
        }
        return v
    }

    /// run_kernel.py MAP_FLAGS.
    static let mapFlags: [String: UInt64] = [
        "shared": Linux.MAP_SHARED, "private": Linux.MAP_PRIVATE,
        "shared_validate": Linux.MAP_SHARED_VALIDATE, "fixed": Linux.MAP_FIXED,
        "anonymous": Linux.MAP_ANONYMOUS, "growsdown": Linux.MAP_GROWSDOWN,
        "denywrite": Linux.MAP_DENYWRITE, "locked": Linux.MAP_LOCKED,
        "noreserve": Linux.MAP_NORESERVE, "populate": Linux.MAP_POPULATE,
        "fixed_noreplace": Linux.MAP_FIXED_NOREPLACE, "hint": 0,
    ]

    /// run_kernel.py MADV.
    static let madvise: [String: UInt64] = [
        "normal": 0, "random": 1, "sequential": 2, "willneed": 3, "dontneed": 4,
        "free": 8, "remove": 9, "dontfork": 10, "dofork": 11, "mergeable": 12,
        "unmergeable": 13, "hugepage": 14, "nohugepage": 15, "dontdump": 16,
        "dodump": 17, "wipeonfork": 18, "keeponfork": 19, "cold": 20,
        "pageout": 21, "populate_read": 22, "populate_write": 23,
        "dontneed_locked": 24, "collapse": 25, "guard_install": 102,
        "guard_remove": 103,
    ]

    /// run_kernel.py MREMAP_FLAGS.
    static let mremapFlags: [String: UInt64] = [
        "maymove": Linux.MREMAP_MAYMOVE, "fixed": Linux.MREMAP_FIXED, "dontunmap": Linux.MREMAP_DONTUNMAP,
    ]

    private func fd(of s: OracleStep, proc: String) throws -> Int {
        if let raw = s.fdRaw { return raw }
        if let label = s.fd {
            guard let n = fds[proc]?[label] else { throw HarnessError("unknown fd label \(label)") }
            return n
        }
        return -1
    }

    /// Where an mmap/mremap result landed (run_kernel.py `where`).
    private func whereResult(_ a: UInt64) -> StepResult {
        if a >= Self.windowBase && a < windowEnd && (a - Self.windowBase) % Self.pageSize == 0 {
            return StepResult(ok: true, at: Int((a - Self.windowBase) / Self.pageSize))
        }
        return StepResult(ok: true, outsideWindow: true)
    }

    /// Linux errno names by number (what Python's errno.errorcode prints).
    static let errnoNames: [Int: String] = [
        1: "EPERM", 2: "ENOENT", 4: "EINTR", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES",
        14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 24: "EMFILE", 26: "ETXTBSY",
        27: "EFBIG", 38: "ENOSYS", 75: "EOVERFLOW", 95: "EOPNOTSUPP",
    ]

    static func errnoName(_ e: Errno) -> String { errnoNames[e.rawValue] ?? "errno\(e.rawValue)" }

    private func call(_ pid: Int, _ c: Syscall) throws -> SyscallResult {
        do { return try sim.syscall(pid: pid, c) } catch { throw HarnessError("syscall \(c.name): \(error)") }
    }

    private func plain(_ r: SyscallResult) -> StepResult {
        if let e = r.errno { return StepResult(ok: false, errno: Self.errnoName(e)) }
        return StepResult(ok: true)
    }

    private func execute(_ s: OracleStep) throws -> StepResult {
        let label = s.procLabel
        guard isAlive(label), let pid = pids[label] else { throw HarnessError("process \(label) is not alive") }
        switch s.op {
        case "open":
            guard let name = s.file, inodes[name] != nil, let fdLabel = s.fd else {
                throw HarnessError("open: unknown file or missing fd label")
            }
            let modes: [String: UInt64] = ["r": Linux.O_RDONLY, "rw": Linux.O_RDWR, "w": Linux.O_WRONLY]
            guard let flags = modes[s.mode ?? "r"] else { throw HarnessError("bad open mode \(s.mode ?? "")") }
            let r = try call(pid, .open(path: Self.path(of: name), flags: flags))
            if let e = r.errno { return StepResult(ok: false, errno: Self.errnoName(e)) }
            fds[label, default: [:]][fdLabel] = Int(r.ret)
            return StepResult(ok: true)

        case "close":
            guard let fdLabel = s.fd else { throw HarnessError("close: missing fd label") }
            let n = fds[label]?[fdLabel] ?? -1
            let r = try call(pid, .close(fd: n))
            if let e = r.errno { return StepResult(ok: false, errno: Self.errnoName(e)) }
            fds[label]?[fdLabel] = -1
            return StepResult(ok: true)

        case "mmap":
            var flags: UInt64 = 0
            for f in s.flags ?? [] {
                guard let v = Self.mapFlags[f] else { throw HarnessError("bad mmap flag \(f)") }
                flags |= v
            }
            let a = s.at == nil ? 0 : try addr(s)
            let off = (s.offsetPages ?? 0) * Self.pageSize + (s.offsetBytes ?? 0)
            let r = try call(pid, .mmap(addr: a, length: try length(s), prot: try Self.prot(s.prot ?? "rw-"),
                                        flags: flags, fd: try fd(of: s, proc: label), offset: off))
            if let e = r.errno { return StepResult(ok: false, errno: Self.errnoName(e)) }
            return whereResult(UInt64(bitPattern: r.ret))

        case "munmap":
            return plain(try call(pid, .munmap(addr: try addr(s), length: try length(s))))

        case "mprotect":
            guard let p = s.prot else { throw HarnessError("mprotect lacks prot") }
            return plain(try call(pid, .mprotect(addr: try addr(s), length: try length(s), prot: try Self.prot(p))))

        case "madvise":
            guard let name = s.advice, let adv = Self.madvise[name] else {
                throw HarnessError("bad advice \(s.advice ?? "nil")")
            }
            return plain(try call(pid, .madvise(addr: try addr(s), length: try length(s), advice: adv)))

        case "mremap":
            var flags: UInt64 = 0
            for f in s.flags ?? [] {
                guard let v = Self.mremapFlags[f] else { throw HarnessError("bad mremap flag \(f)") }
                flags |= v
            }
            let newAddr = s.newAt.map { Self.windowBase + UInt64($0) * Self.pageSize } ?? 0
            let newLen: UInt64
            if let b = s.newLengthBytes { newLen = b } else if let p = s.newPages { newLen = UInt64(p) * Self.pageSize } else {
                throw HarnessError("mremap lacks new_pages")
            }
            let r = try call(pid, .mremap(oldAddress: try addr(s), oldSize: try length(s), newSize: newLen,
                                          flags: flags, newAddress: newAddr))
            if let e = r.errno { return StepResult(ok: false, errno: Self.errnoName(e)) }
            return whereResult(UInt64(bitPattern: r.ret))

        case "touch":
            guard let at = s.at else { throw HarnessError("touch lacks at") }
            let access: Access
            switch s.access ?? "read" {
            case "read": access = .read
            case "write": access = .write
            default: throw HarnessError("bad access \(s.access ?? "")")
            }
            var faults: [TouchFault] = []
            for i in 0..<(s.pages ?? 1) {
                let page = at + i
                let a = Self.windowBase + UInt64(page) * Self.pageSize
                let r: FaultResult
                do { r = try sim.fault(pid: pid, address: a, access: access, mode: .user, inject: .none) } catch {
                    throw HarnessError("fault: \(error)")
                }
                switch r.outcome {
                case .handled: break
                case .SIGSEGV: faults.append(TouchFault(page: page, signal: "SIGSEGV"))
                case .SIGBUS: faults.append(TouchFault(page: page, signal: "SIGBUS"))
                }
            }
            if faults.isEmpty { return StepResult(ok: true) }
            let first = faults.compactMap(\.signal).sorted().first
            return StepResult(ok: false, errno: first, faults: faults)

        case "fork":
            guard let child = s.child else { throw HarnessError("fork lacks child") }
            guard pids[child] == nil else { throw HarnessError("label \(child) in use") }
            let r = try call(pid, .fork)
            if let e = r.errno { return StepResult(ok: false, errno: Self.errnoName(e)) }
            let cpid = Int(r.ret)
            guard sim.processes[cpid] != nil else { throw HarnessError("fork returned \(cpid): no such process") }
            register(child, pid: cpid, fds: fds[label] ?? [:])
            return StepResult(ok: true, child: child)

        case "exit":
            let r = try call(pid, .exit(status: 0))
            if let e = r.errno { return StepResult(ok: false, errno: Self.errnoName(e)) }
            return StepResult(ok: true)

        default:
            throw HarnessError("unknown op \(s.op)")
        }
    }

    // MARK: observing

    /// The window of every live process, as run_kernel.py's `observe` reads it.
    func observe(_ label: String) -> Observation {
        var procs: [String: ProcObservation] = [:]
        for l in registrationOrder where isAlive(l) {
            guard let pid = pids[l], let p = sim.processes[pid] else { continue }
            procs[l] = ProcObservation(vmas: vmas(p.mm), pages: pages(p.mm))
        }
        return Observation(label: label, procs: procs)
    }

    private func pageOffset(_ a: UInt64) -> Int {
        Int(Int64(bitPattern: a &- Self.windowBase) / Int64(Self.pageSize))
    }

    private func fileName(_ inode: Inode) -> String? {
        let prefix = "/oracle/"
        guard !inode.isShmem, inode.path.hasPrefix(prefix) else { return nil }
        return String(inode.path.dropFirst(prefix.count))
    }

    private func vmas(_ mm: MM) -> [ObservedVMA] {
        mm.vmas.overlapping(Self.windowBase, windowEnd).map { v in
            let f = v.flags
            let perms = (f.contains(.READ) ? "r" : "-") + (f.contains(.WRITE) ? "w" : "-")
                + (f.contains(.EXEC) ? "x" : "-") + (f.contains(.MAYSHARE) ? "s" : "p")
            var file: String?
            var special: String?
            if let inode = v.file?.inode {
                if inode.isShmem {
                    special = "/dev/zero (deleted)"
                } else if let n = fileName(inode) {
                    file = n
                } else {
                    special = inode.path
                }
            } else if let n = v.name {
                special = n
            }
            // smaps prints the file offset; private anonymous VMAs always show 0.
            let offset = v.file == nil ? 0 : Int(v.pgoff)
            return ObservedVMA(start: pageOffset(v.start), end: pageOffset(v.end), perms: perms,
                               offsetPages: offset, file: file, special: special, vmflags: f.smapsCodes)
        }
    }

    private func frameLabel(_ folio: Folio) -> String {
        switch folio.kind {
        case .zero:
            return "ZERO"
        case .file, .shmem:
            if let inode = folio.inode {
                if case let .shmem(object) = inode.kind {
                    let k = shmemLabels[object] ?? {
                        let l = "shm\(shmemLabels.count + 1)"
                        shmemLabels[object] = l
                        return l
                    }()
                    return "\(k)@\(folio.index)"
                }
                if let n = fileName(inode), originalFileFolios.contains(folio.id) { return "\(n)@\(folio.index)" }
            }
            fallthrough
        case .anon:
            if let l = anonLabels[folio.id] { return l }
            let l = "F\(anonLabels.count + 1)"
            anonLabels[folio.id] = l
            return l
        }
    }

    private func pages(_ mm: MM) -> [ObservedPage] {
        mm.pageTable.vpns(in: Self.windowBase, windowEnd).compactMap { vpn in
            guard let pte = mm.pageTable[vpn], pte.present || pte.guardMarker else { return nil }
            var page = ObservedPage(page: pageOffset(vpn << Linux.PAGE_SHIFT), present: pte.present,
                                    swapped: pte.guardMarker, zeroPage: false, anon: false, exclusive: false,
                                    mapcount: 0, frame: nil, fileOrSharedAnon: false, anonExclusive: false,
                                    large: false, guard: pte.guardMarker ? true : nil)
            if pte.present, let folio = pte.folio {
                let zero = folio.kind == .zero
                page.zeroPage = zero
                page.anon = folio.kind == .anon
                page.mapcount = zero ? 0 : folio.mapcount
                page.exclusive = !zero && folio.mapcount == 1
                page.fileOrSharedAnon = folio.kind == .file || folio.kind == .shmem
                page.anonExclusive = folio.kind == .anon && folio.anonExclusive
                page.frame = frameLabel(folio)
            }
            return page
        }
    }
}
