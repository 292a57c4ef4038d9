import MMCore
/// `PerfScriptParser`'s tracepoint events → `TraceEvent`: page faults,
/// mmap_lock, sched/task events and syscall entries paired with their exits.
extension PerfScriptParser {
    mutating func handle(_ event: Event, _ ctx: Context, _ f: Int, _ events: inout [TraceEvent]) {
        let b = ctx.b, end = ctx.end
        switch event {
        case .faultUser, .faultKernel:
            // "address=0x7f.. ip=0x7f.. error_code=0x6"; ip may be a symbol.
            var address: UInt64?, ip: UInt64?, code: UInt64?
            var k = f
            while let (key, v) = PerfFields.nextField(b, &k, end) {
                switch key.count {
                case 7 where Scan.has(b, key.lowerBound, end, "address"): address = PerfFields.number(b, v)
                case 2 where Scan.has(b, key.lowerBound, end, "ip"): ip = PerfFields.number(b, v)
                case 10 where Scan.has(b, key.lowerBound, end, "error_code"): code = PerfFields.number(b, v)
                default: break
                }
            }
            guard let address, let code else {
                events.append(ctx.unknown("page fault without a numeric address")); return
            }
            events.append(ctx.event(.fault(address: address, ip: ip, write: code & 2 != 0,
                                           exec: code & 0x10 != 0, user: code & 4 != 0)))
        case .lock(let phase):
            // "mm=0xffff.. memcg_id=3137 write=true success=true" (older
            // kernels print memcg_path= instead of memcg_id=).
            var write: Bool?, success: Bool?, mm: UInt64?
            var k = f
            while let (key, v) = PerfFields.nextField(b, &k, end) {
                switch key.count {
                case 2 where Scan.has(b, key.lowerBound, end, "mm"):  // %p: "0xffff..." or hashed hex
                    mm = Scan.has(b, v.lowerBound, end, "0x") ? PerfFields.number(b, v) : PerfFields.number(b, v, hex: true)
                case 5 where Scan.has(b, key.lowerBound, end, "write"): write = PerfFields.flag(b, v)
                case 7 where Scan.has(b, key.lowerBound, end, "success"): success = PerfFields.flag(b, v)
                default: break
                }
            }
            guard let write else {
                events.append(ctx.unknown("mmap_lock event without write=")); return
            }
            if phase != .acquireReturned { success = nil }
            events.append(ctx.event(.mmapLock(LockEvent(phase: phase, write: write, success: success, mm: mm))))
        case .enter(let call):
            enter(call, ctx, f, &events)
        case .exit(let call):
            exit(call, ctx, f, &events)
        case .newTask:
            guard let child = PerfFields.number(b, PerfFields.value(b, f, end, "pid=")).map({ Int($0) }),
                  let flags = PerfFields.number(b, PerfFields.value(b, f, end, "clone_flags="), hex: true)
            else { events.append(ctx.unknown("task_newtask without pid or clone_flags")); return }
            if let held = heldFork {
                heldFork = nil
                if held.child != child { reportedChildren.insert(held.child); events.append(held.event) }
            }
            events.append(report(child: child, flags: flags, ctx))
        case .schedFork:
            guard let child = PerfFields.number(b, PerfFields.value(b, f, end, "child_pid=")).map({ Int($0) }) else {
                events.append(ctx.unknown("sched_process_fork without child_pid")); return
            }
            events.append(report(child: child, flags: pending[ctx.key].flatMap(Self.cloneFlags), ctx))
        case .schedExec:
            // "filename=/usr/bin/ls pid=12 old_pid=12"; the path may hold blanks.
            guard let at = Scan.find(b, f, end, "filename=") else {
                events.append(ctx.unknown("sched_process_exec without filename")); return
            }
            var pathEnd = end
            var k = end - 5
            while k > at { if Scan.has(b, k, end, " pid=") { pathEnd = k; break }; k -= 1 }
            if commExec.contains(ctx.key) {
                events.append(ctx.skip("exec already reported by PERF_RECORD_COMM exec")); return
            }
            execReported.insert(ctx.key)
            events.append(ctx.event(.execve(path: Scan.string(b, (at + 9)..<pathEnd))))
        case .schedExit:
            let task = PerfFields.number(b, PerfFields.value(b, f, end, "pid=")).map { Int($0) } ?? ctx.key
            flush(task, into: &events)
            exitSeen.insert(task)
            if exitReported.remove(task) != nil {
                events.append(ctx.skip("exit already reported by the exit syscall"))
            } else if PerfFields.flag(b, PerfFields.value(b, f, end, "group_dead=")) == true {
                events.append(ctx.event(.exit(status: -1)))
            } else {
                events.append(ctx.event(.threadExit(status: -1)))
            }
        case .schedFree:
            events.append(ctx.skip("task freed"))
        }
    }

    private mutating func enter(_ call: Call, _ ctx: Context, _ f: Int, _ events: inout [TraceEvent]) {
        var v: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        var k = 0, i = f
        let b = ctx.b
        while k < 6, i < ctx.end {  // "name: 0x..., name: 0x..."
            guard let c = Scan.find(b, i, ctx.end, ": ") else { break }
            i = c + 2
            guard let x = Scan.parseUInt(b, &i, ctx.end) else { break }
            switch k {
            case 0: v.0 = x
            case 1: v.1 = x
            case 2: v.2 = x
            case 3: v.3 = x
            case 4: v.4 = x
            default: v.5 = x
            }
            k += 1
        }
        switch call {
        case .exit, .exitGroup:
            exitReported.insert(ctx.key)
            exitSeen.insert(ctx.key)
            let status = Int(v.0 & 0xff)
            events.append(ctx.event(call == .exit ? .threadExit(status: status) : .exit(status: status)))
            return
        default:
            break
        }
        flush(ctx.key, into: &events)
        pending[ctx.key] = Pending(call: call, a: v, line: ctx.number,
                                   pid: ctx.pid, tgid: ctx.tgid, time: ctx.time)
        events.append(ctx.skip("syscall entry: reported with its exit"))
    }

    static func cloneFlags(_ p: Pending) -> UInt64? {
        switch p.call {
        case .clone: p.a.0
        case .vfork: TraceTables.CLONE_VM | TraceTables.CLONE_VFORK
        case .fork: 0
        default: nil
        }
    }

    mutating func report(child: Int, flags: UInt64?, _ ctx: Context) -> TraceEvent {
        guard reportedChildren.insert(child).inserted else {
            return ctx.skip("child \(child) already reported")
        }
        if let flags, TraceTables.isVfork(flags) { return ctx.event(.vfork(childPid: child)) }
        if let flags, TraceTables.sharesAddressSpace(flags) { return ctx.event(.thread(childPid: child)) }
        return ctx.event(.fork(childPid: child))
    }

    private func result(_ raw: UInt64) -> TraceResult {
        let s = Int64(bitPattern: raw)
        if s < 0, s >= -4095 { return .error(TraceErrno(number: Int(-s)), raw: s) }
        return .value(raw)
    }

    private mutating func exit(_ call: Call, _ ctx: Context, _ f: Int, _ events: inout [TraceEvent]) {
        let b = ctx.b
        var i = f
        guard let raw = Scan.parseInt(b, &i, ctx.end).map({ UInt64(bitPattern: $0) }) else {
            events.append(ctx.unknown("syscall exit without a return value")); return
        }
        let res = result(raw)
        var p = pending[ctx.key]
        if p?.call == call { pending[ctx.key] = nil } else { p = nil }
        switch call {
        case .execve:
            if case .error(let e, _) = res { events.append(ctx.skip("execve failed: " + e.name)); return }
            if commExec.remove(ctx.key) != nil {
                events.append(ctx.skip("exec already reported by PERF_RECORD_COMM exec"))
            } else if execReported.remove(ctx.key) != nil {
                events.append(ctx.skip("exec already reported by sched_process_exec"))
            } else {
                events.append(ctx.event(.execve(path: "<unknown>")))
            }
            return
        case .clone, .clone3, .fork, .vfork:
            if case .error(let e, _) = res {
                events.append(ctx.skip("process creation failed: " + e.name)); return
            }
            if raw == 0 { events.append(ctx.skip("child side of process creation")); return }
            let child = Int(truncatingIfNeeded: raw)
            events.append(report(child: child, flags: p.flatMap(Self.cloneFlags), ctx))
            reportedChildren.remove(child)
            return
        default:
            break
        }
        guard let p else {
            events.append(ctx.skip("syscall exit without a recorded entry")); return
        }
        events.append(ctx.event(.syscall(Self.syscall(p), result: res)))
    }

    /// The syscall a recorded entry describes.
    private static func syscall(_ p: Pending) -> Syscall {
        let a = p.a
        let fd = { (v: UInt64) in Int(Int32(truncatingIfNeeded: v)) }
        switch p.call {
        case .mmap: return .mmap(addr: a.0, length: a.1, prot: a.2, flags: a.3, fd: fd(a.4), offset: a.5)
        case .munmap: return .munmap(addr: a.0, length: a.1)
        case .mprotect: return .mprotect(addr: a.0, length: a.1, prot: a.2)
        case .madvise: return .madvise(addr: a.0, length: a.1, advice: a.2)
        case .mremap:
            return .mremap(oldAddress: a.0, oldSize: a.1, newSize: a.2, flags: a.3, newAddress: a.4)
        case .brk: return .brk(addr: a.0)
        case .open: return .open(path: "<unknown>", flags: a.1)
        case .openat: return .open(path: "<unknown>", flags: a.2)
        case .close: return .close(fd: fd(a.0))
        case .clone, .clone3, .fork, .vfork: return .fork
        case .execve, .exit, .exitGroup: return .exit(status: Int(a.0 & 0xff))
        }
    }

    /// Reports the entered-but-not-exited syscall of `key` as unknown.
    mutating func flush(_ key: Int, into events: inout [TraceEvent]) {
        guard let p = pending.removeValue(forKey: key) else { return }
        let kind: TraceEvent.Kind
        switch p.call {
        case .clone, .clone3, .fork, .vfork, .execve, .exit, .exitGroup:
            kind = .skipped(reason: "syscall entered but never exited", text: "")
        default:
            kind = .syscall(Self.syscall(p), result: .unknown)
        }
        events.append(TraceEvent(line: p.line, pid: p.pid, tgid: p.tgid, time: p.time, kind: kind))
    }
}
