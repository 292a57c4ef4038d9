import MMCore
/// The side-band records `perf script --show-mmap-events --show-task-events`
/// prints between tracepoint lines, after the usual header
/// (`comm pid [cpu] time: PERF_RECORD_…`):
///
/// ```
/// PERF_RECORD_MMAP2 4134/4134: [0x7ffcfeb1c000(0x21000) @ 0x7ffffffde000 00:00 0 0]: rw-p [stack]
/// PERF_RECORD_MMAP 4134/4134: [0x7f0000000000(0x1000) @ 0]: x /usr/lib/libc.so.6
/// PERF_RECORD_COMM exec: ls:4136/4136
/// PERF_RECORD_FORK(4136:4136):(4134:4134)
/// PERF_RECORD_EXIT(4136:4136):(4134:4134)
/// ```
///
/// MMAP2/MMAP come from perf_event_mmap() (kernel/events/core.c), called
/// wherever a VMA is created or changed: mmap_region(), the ELF loader,
/// mprotect_fixup(), do_brk_flags(), _install_special_mapping(); data
/// (non-exec) mappings only when recorded with `perf record -d`. COMM with
/// `exec` is perf_event_comm() from begin_new_exec() (fs/exec.c), the exec's
/// point of no return. FORK/EXIT are perf_event_task() from copy_process()
/// and do_exit(): `(pid:tid):(ppid:ptid)`; a child whose pid equals its
/// parent's is a thread.
enum PerfRecords {
    /// What one record line reports: the event and the task it belongs to
    /// (from the record, not the header, which perf fills with 0 for
    /// synthesized records).
    struct Parsed {
        var kind: TraceEvent.Kind
        var tid: Int?
        var pid: Int?
    }

    /// Parses the record starting at `at` (the `P` of `PERF_RECORD_`).
    static func parse(_ b: Bytes, _ at: Int, _ end: Int) -> Parsed {
        var i = at + 12
        let nameStart = i
        while i < end, Scan.isIdent(b[i]) { i += 1 }
        let name = nameStart..<i
        func unknown(_ why: String) -> Parsed {
            Parsed(kind: .unrecognised(reason: why, text: Scan.string(b, 0..<end)), tid: nil, pid: nil)
        }
        if Scan.has(b, nameStart, end, "MMAP") {
            let v2 = Scan.has(b, nameStart, end, "MMAP2")
            return mmap(b, i, end, v2: v2) ?? unknown("PERF_RECORD_MMAP\(v2 ? "2" : "") line not understood")
        }
        if Scan.has(b, nameStart, end, "COMM") {
            // " exec: comm:pid/tid" or ": comm:pid/tid"
            let exec = Scan.has(b, i, end, " exec:")
            var s = i
            while s < end, b[s] != Ch.colon { s += 1 }
            s += 1
            Scan.skipSpaces(b, &s, end)
            var c = end - 1  // the last ':' separates comm from pid/tid
            while c > s, b[c] != Ch.colon { c -= 1 }
            var k = c + 1
            guard c > s - 1, let pid = Scan.parseUInt(b, &k, end), k < end, b[k] == Ch.slash else {
                return unknown("PERF_RECORD_COMM line not understood")
            }
            k += 1
            guard let tid = Scan.parseUInt(b, &k, end) else { return unknown("PERF_RECORD_COMM line not understood") }
            let comm = Scan.string(b, s..<c)
            if !exec {
                return Parsed(kind: .skipped(reason: "task renamed (PERF_RECORD_COMM without exec)", text: Scan.string(b, 0..<end)),
                              tid: Int(tid), pid: Int(pid))
            }
            return Parsed(kind: .execNewMM(comm: comm), tid: Int(tid), pid: Int(pid))
        }
        let fork = Scan.has(b, nameStart, end, "FORK")
        if fork || Scan.has(b, nameStart, end, "EXIT") {
            // "(pid:tid):(ppid:ptid)"
            var k = i
            func pair() -> (Int, Int)? {
                guard k < end, b[k] == Ch.lparen else { return nil }
                k += 1
                guard let a = Scan.parseInt(b, &k, end), k < end, b[k] == Ch.colon else { return nil }
                k += 1
                guard let t = Scan.parseInt(b, &k, end), k < end, b[k] == Ch.rparen else { return nil }
                k += 1
                return (Int(a), Int(t))
            }
            guard let child = pair(), k < end, b[k] == Ch.colon else { return unknown("PERF_RECORD_FORK/EXIT line not understood") }
            k += 1
            guard let parent = pair() else { return unknown("PERF_RECORD_FORK/EXIT line not understood") }
            if fork {
                let kind: TraceEvent.Kind = child.0 == parent.0 ? .thread(childPid: child.1) : .fork(childPid: child.1)
                return Parsed(kind: kind, tid: parent.1, pid: parent.0)
            }
            return Parsed(kind: .threadExit(status: -1), tid: child.1, pid: child.0)
        }
        return Parsed(kind: .skipped(reason: "perf record not modelled: PERF_RECORD_" + Scan.string(b, name), text: Scan.string(b, 0..<end)),
                      tid: nil, pid: nil)
    }

    /// `PERF_RECORD_MMAP2 pid/tid: [0xSTART(0xLEN) @ PGOFF MAJ:MIN INO GEN]: rw-p PATH`
    /// (or a build id instead of MAJ:MIN INO GEN); `PERF_RECORD_MMAP
    /// pid/tid: [0xSTART(0xLEN) @ PGOFF]: x PATH` (x: executable, r: data).
    private static func mmap(_ b: Bytes, _ from: Int, _ end: Int, v2: Bool) -> Parsed? {
        var k = from
        Scan.skipSpaces(b, &k, end)
        guard let pid = Scan.parseInt(b, &k, end), k < end, b[k] == Ch.slash else { return nil }
        k += 1
        guard let tid = Scan.parseInt(b, &k, end) else { return nil }
        guard let open = Scan.find(b, k, end, "[") else { return nil }
        k = open + 1
        guard let start = Scan.parseUInt(b, &k, end), k < end, b[k] == Ch.lparen else { return nil }
        k += 1
        guard let length = Scan.parseUInt(b, &k, end), let at = Scan.find(b, k, end, "@ ") else { return nil }
        k = at + 2
        guard var pgoff = Scan.parseUInt(b, &k, end), let close = Scan.find(b, k, end, "]: ") else { return nil }
        k = close + 3
        var read = true, write = false, exec = false, shared = false
        if v2 {
            guard k + 4 <= end else { return nil }
            read = b[k] == 0x72
            write = b[k + 1] == 0x77
            exec = b[k + 2] == Ch.x
            shared = b[k + 3] == 0x73
            k += 4
        } else {
            guard k < end else { return nil }
            exec = b[k] == Ch.x
            k += 1
        }
        Scan.skipSpaces(b, &k, end)
        var pathEnd = end
        var deleted = false
        if pathEnd - k >= 10, Scan.has(b, pathEnd - 10, pathEnd, " (deleted)") { deleted = true; pathEnd -= 10 }
        var path = Scan.string(b, k..<pathEnd)
        if path == "//anon" { path = "" }
        if !v2, path.isEmpty { write = true }
        if pid < 0 {
            return Parsed(kind: .skipped(reason: "kernel mapping", text: Scan.string(b, 0..<end)), tid: nil, pid: nil)
        }
        let kind = MapsParser.kind(of: path)
        if kind != .file { pgoff = 0 }
        let entry = MapsEntry(start: start, end: start &+ length, read: read, write: write, exec: exec, shared: shared,
                              offset: pgoff, devMajor: 0, devMinor: 0, inode: 0, path: path, deleted: deleted, kind: kind)
        return Parsed(kind: .mapping(entry), tid: Int(tid), pid: Int(pid))
    }
}

/// `PerfScriptParser`'s handling of a `PERF_RECORD_*` line: the record
/// (see `PerfRecords`) reported as an event, with the parser's per-task state.
extension PerfScriptParser {
    /// A `PERF_RECORD_*` line (see `PerfRecords`).
    mutating func record(_ b: Bytes, _ at: Int, _ end: Int, _ number: Int, _ events: inout [TraceEvent]) {
        let (hpid, htgid, time) = PerfFields.header(b, at)
        let r = PerfRecords.parse(b, at, end)
        let ctx = Context(b: b, end: end, number: number, pid: r.tid ?? hpid, tgid: r.pid ?? htgid, time: time)
        switch r.kind {
        case .thread(let child), .fork(let child):
            releaseHeldFork(&events)
            guard !reportedChildren.contains(child) else { events.append(ctx.skip("child \(child) already reported")); return }
            var flags = pending[ctx.key].flatMap(Self.cloneFlags)
            if case .thread = r.kind { flags = TraceTables.CLONE_VM | TraceTables.CLONE_THREAD }
            if let flags {
                events.append(report(child: child, flags: flags, ctx))
            } else {
                // clone3's flags are in user memory: task_newtask, if recorded, follows.
                heldFork = (child, ctx.event(r.kind))
                events.append(ctx.skip("process creation: reported with the next line (task_newtask has the clone flags)"))
            }
        case .execNewMM:
            releaseHeldFork(&events)
            commExec.insert(ctx.key)
            events.append(ctx.event(r.kind))
        case .threadExit:
            releaseHeldFork(&events)
            flush(ctx.key, into: &events)
            if exitSeen.remove(ctx.key) != nil {
                events.append(ctx.skip("exit already reported"))
            } else {
                events.append(ctx.event(r.kind))
            }
        case .mapping:
            if let p = pending[ctx.key], [.mmap, .munmap, .mprotect, .mremap, .brk, .madvise].contains(p.call) {
                if case .mapping(let m) = r.kind { events.append(ctx.event(.mappingInSyscall(m))) }
            } else {
                events.append(ctx.event(r.kind))
            }
        default:
            events.append(ctx.event(r.kind))
        }
    }

    /// Reports a held `PERF_RECORD_FORK` as a plain fork: no task_newtask followed it.
    mutating func releaseHeldFork(_ events: inout [TraceEvent]) {
        guard let held = heldFork else { return }
        heldFork = nil
        reportedChildren.insert(held.child)
        events.append(held.event)
    }
}
