import MMHTTP
import MMCore
import MMTrace

/// JSON shapes of docs/API.md, built from MMCore values in one place.
enum DTO {
    /// How many populate faults a syscall response lists in full.
    static let maxFaultsShown = 64

    static func perms(_ f: VMFlags) -> String {
        var s = ""
        s += f.contains(.READ) ? "r" : "-"
        s += f.contains(.WRITE) ? "w" : "-"
        s += f.contains(.EXEC) ? "x" : "-"
        s += f.contains(.MAYSHARE) ? "s" : "p"
        return s
    }

    static func av(_ id: Int?) -> JSONValue { id.map { .string("av\($0)") } ?? .null }
    static func folioID(_ id: Int?) -> JSONValue { id.map { .string("f\($0)") } ?? .null }

    static func flagNames(_ f: VMFlags) -> JSONValue { .array(f.names.map { .string($0) }) }

    static func fileRef(_ file: OpenFile?) -> JSONValue {
        guard let file else { return .null }
        return .object([("path", .string(file.inode.isShmem ? "/dev/zero (deleted)" : file.inode.path)),
                        ("file_id", .string("file\(file.id)"))])
    }

    /// docs/API.md's vma object for a live VMA.
    static func vma(_ v: VMA, mm: MM, sim: Simulation) -> JSONValue {
        var resident = 0
        for vpn in mm.pageTable.vpns(in: v.start, v.end) where mm.pageTable[vpn]?.present == true { resident += 1 }
        return .object([
            ("start", .addr(v.start)), ("end", .addr(v.end)), ("pages", .num(v.pages)),
            ("perms", .string(perms(v.flags))), ("flags", flagNames(v.flags)),
            ("vmflags", .array(v.flags.smapsCodes.map { .string($0) })),
            ("pgoff", .num(v.pgoff)), ("file", fileRef(v.file)), ("name", .str(v.name ?? specialName(v))),
            ("anon_vma", av(v.anonVMA?.id)),
            ("anon_vma_chain", .array(v.chainNewestFirst.map { .string("av\($0.id)") })),
            ("resident_pages", .num(resident)),
            ("lock", .object([("write_locked", .bool(sim.isWriteLocked(mm, v))), ("vm_lock_seq", .num(v.vmLockSeq))])),
        ])
    }

    static func specialName(_ v: VMA) -> String? {
        if case let .special(name) = v.kind { return name }
        return nil
    }

    /// A snapshot (effects lists).
    static func snapshot(_ s: VMASnapshot) -> JSONValue {
        .object([("start", .addr(s.start)), ("end", .addr(s.end)), ("perms", .string(perms(s.flags))),
                 ("pgoff", .num(s.pgoff)), ("flags", flagNames(s.flags)),
                 ("file_id", s.fileID.map { .string("file\($0)") } ?? .null), ("anon_vma", av(s.anonVMA))])
    }

    static func trace(_ steps: [TraceStep]) -> JSONValue {
        .array(steps.map { .object([("fn", .string($0.fn)), ("note", .string($0.note))]) })
    }

    static func effects(_ e: Effects) -> JSONValue {
        var m: [(String, JSONValue)] = [
            ("vmas_created", .array(e.vmasCreated.map(snapshot))),
            ("vmas_removed", .array(e.vmasRemoved.map(snapshot))),
            ("merged", .str(e.merged?.rawValue)), ("splits", .num(e.splits)),
            ("pages_zapped", .num(e.pagesZapped)), ("pages_populated", .num(e.pagesPopulated)),
        ]
        if !e.fork.isEmpty {
            m.append(("fork", .array(e.fork.map { f in
                .object([("vma", snapshot(f.parent)), ("copied", .bool(f.copied)),
                         ("anon_vma", .string(f.anonVMA.rawValue)), ("child_anon_vma", av(f.childAnonVMA)),
                         ("page_tables_copied", .bool(f.pageTablesCopied)),
                         ("pages_write_protected", .num(f.pagesWriteProtected)), ("why", .string(f.why))])
            })))
        }
        return .object(m)
    }

    /// A syscall response; summary mode drops effects and trace.
    static func syscall(_ r: SyscallResult, summary: Bool) -> JSONValue {
        if summary { return SyscallSummary(r).json }
        var m: [(String, JSONValue)] = [("syscall", .string(r.syscall)), ("return", retValue(r)),
                                        ("errno", .str(r.errno?.name))]
        m.append(("strace", .string(r.strace)))
        m.append(("effects", effects(r.effects)))
        m.append(("trace", trace(r.trace)))
        if !r.faults.isEmpty {
            // Populating a large range takes one fault per page: show the first ones in full.
            m.append(("faults_total", .num(r.faults.count)))
            m.append(("faults", .array(r.faults.prefix(maxFaultsShown).map { fault($0, summary: false) })))
        }
        return .object(m)
    }

    /// Addresses print as hex strings, everything else as integers.
    static func retValue(_ r: SyscallResult) -> JSONValue {
        if r.errno == nil, r.returnsAddress { return .addr(UInt64(bitPattern: r.ret)) }
        return .int(r.ret)
    }

    static func pte(_ p: PTESnapshot) -> JSONValue {
        .object([("present", .bool(p.present)), ("writable", .bool(p.writable)), ("dirty", .bool(p.dirty)),
                 ("guard", .bool(p.guardMarker)), ("folio", folioID(p.folio))])
    }

    static func lock(_ l: LockDecision?) -> JSONValue {
        guard let l else { return .null }
        return .object([
            ("path", .string(l.path.rawValue)), ("stat", .str(l.stat?.rawValue)), ("code", .string(l.code.rawValue)),
            ("reason", .str(l.code.reason)),
            ("steps", .array(l.steps.map { .object([("fn", .string($0.fn)), ("result", .string($0.result)),
                                                     ("reason", .str($0.reason))]) })),
        ])
    }

    static func anonVMA(_ a: AnonVMAOutcome) -> JSONValue {
        var m: [(String, JSONValue)] = [("action", .string(a.action.rawValue)), ("id", av(a.id))]
        if let side = a.fromSide {
            m.append(("from", .object([("side", .string(side.rawValue)), ("vma", .str(a.fromVMA))])))
        } else {
            m.append(("from", .null))
        }
        m.append(("candidates", .array(a.candidates.map {
            .object([("side", .string($0.side.rawValue)), ("vma", .string($0.vma)), ("compatible", .bool($0.compatible)),
                     ("anon_vma", av($0.anonVMA)), ("why", .string($0.why))])
        })))
        return .object(m)
    }

    static func folio(_ f: FolioSnapshot?) -> JSONValue {
        guard let f else { return .null }
        return .object([("id", .string("f\(f.id)")), ("kind", .string(f.kind.rawValue)), ("anon", .bool(f.kind == .anon)),
                        ("zero_page", .bool(f.kind == .zero)), ("mapcount", .num(f.mapcount)),
                        ("anon_exclusive", .bool(f.anonExclusive)), ("anon_vma", av(f.anonVMA)),
                        ("index", .num(f.index)), ("copied_from", folioID(f.copiedFrom))])
    }

    /// A fault response (docs/API.md "Faults"); summary keeps outcome and lock code.
    /// FaultJSON writes the same full response without the tree.
    static func fault(_ r: FaultResult, summary: Bool) -> JSONValue {
        if summary { return FaultSummary(r).json }
        var m: [(String, JSONValue)] = [
            ("fault", .bool(r.fault)), ("address", .addr(r.address)), ("access", .string(r.access.rawValue)),
            ("mode", .string(r.mode.rawValue)), ("outcome", .string(r.outcome.rawValue)),
            ("si_code", .str(r.siCode?.rawValue)), ("lock", lock(r.lock)), ("handler", .str(r.handler)),
            ("anon_vma", anonVMA(r.anonVMA)),
            ("pte", .object([("before", pte(r.pteBefore)), ("after", pte(r.pteAfter))])),
            ("folio", folio(r.folio)), ("vma", r.vma.map(snapshot) ?? .null), ("trace", trace(r.trace)),
        ]
        if !r.secondFault.isEmpty {
            m.append(("second_fault", .array(r.secondFault.map { fault($0, summary: false) })))
        }
        return .object(m)
    }

    static func process(_ p: Process) -> JSONValue {
        .object([("pid", .num(p.pid)), ("ppid", .num(p.ppid)), ("comm", .string(p.comm)),
                 ("state", .string(p.state.rawValue)), ("exit_status", .num(p.exitStatus)),
                 ("threads", .array(p.threads.map { .num($0) })), ("vma_count", .num(p.mm.mapCount))])
    }

    static func stats(_ s: Stats) -> JSONValue {
        func dict(_ d: [String: Int]) -> JSONValue { .object(d.keys.sorted().map { ($0, .num(d[$0]!)) }) }
        let f = s.faults, a = s.anonVMA, v = s.vmas
        return .object([
            ("faults", .object([
                ("total", .num(f.total)),
                ("vma_lock", .object([("success", .num(f.vmaLockSuccess)), ("abort", .num(f.vmaLockAbort)),
                                      ("retry", .num(f.vmaLockRetry)), ("miss", .num(f.vmaLockMiss))])),
                ("mmap_lock", .num(f.mmapLock)), ("by_reason", dict(f.byReason)), ("by_handler", dict(f.byHandler)),
                ("sigsegv", .num(f.sigsegv)), ("sigbus", .num(f.sigbus)),
            ])),
            ("anon_vma", .object([("allocated", .num(a.allocated)), ("reused_prev", .num(a.reusedPrev)),
                                  ("reused_next", .num(a.reusedNext)), ("fork_cloned", .num(a.forkCloned)),
                                  ("fork_reused", .num(a.forkReused)), ("freed", .num(a.freed)), ("live", .num(a.live))])),
            ("vmas", .object([("created", .num(v.created)), ("merged", .num(v.merged)), ("split", .num(v.split)),
                              ("never_faulted", .num(v.neverFaulted)), ("read_faulted_only", .num(v.readFaultedOnly)),
                              ("live", .num(v.live))])),
        ])
    }

    static func replayStep(_ s: ReplayStep) -> JSONValue {
        .object([("line", .num(s.line)), ("pid", .num(s.pid)), ("status", .string(s.status.rawValue)), ("what", .string(s.what))])
    }

    /// The replay report (docs/API.md "replay"): lines applied and skipped
    /// with reasons, the pid mapping, and agreement with the real kernel.
    static func replay(_ r: ReplayReport) -> JSONValue {
        let agreement: JSONValue = .object([
            ("real_faults", .num(r.realFaults)), ("faults_reproduced", .num(r.faultsAgreeing)),
            ("fault_ratio", .double(r.faultAgreement)),
            ("lock_observed", .num(r.lockObserved)), ("lock_agreeing", .num(r.lockAgreeing)),
            ("lock_ratio", .double(r.lockAgreement)),
        ])
        let disagreements: [JSONValue] = r.disagreements.prefix(1000).map {
            .object([("line", .num($0.line)), ("address", .addr($0.address)), ("what", .string($0.what))])
        }
        return .object([
            ("applied", .num(r.applied)), ("skipped", .num(r.skipped)),
            ("processes", .object(r.processes.keys.sorted().map { (String($0), .num(r.processes[$0]!)) })),
            ("agreement", agreement), ("disagreements", .array(disagreements)),
            ("lines", .array(r.steps.map(replayStep))),
        ])
    }
}
