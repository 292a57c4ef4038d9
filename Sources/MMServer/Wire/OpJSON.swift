import Foundation
import MMHTTP
import MMCore

extension Op {
    /// The operation as the JSON that replays it (`GET …/log`, SSE events):
    /// numbers as integers, addresses as 0x strings, flags in strace spelling.
    /// The log keeps decoded `Op` values (tens of bytes each) and renders
    /// them only when read.
    var json: JSONValue {
        switch self {
        case let .file(path, size, mode):
            return .object([("op", .string("file")), ("path", .string(path)), ("size", .num(size)),
                            ("mode", .string("0" + String(mode, radix: 8)))])
        case let .process(comm):
            return .object([("op", .string("process")), ("comm", .string(comm))])
        case let .thread(pid):
            return .object([("op", .string("thread")), ("pid", .num(pid))])
        case let .fault(pid, tid, address, access, mode, inject):
            var m: [(String, JSONValue)] = [("op", .string("fault")), ("pid", .num(pid))]
            if let tid { m.append(("tid", .num(tid))) }
            m += [("address", .addr(address)), ("access", .string(access.rawValue)), ("mode", .string(mode.rawValue))]
            if inject != FaultInjection() {
                m.append(("inject", .object(FaultInjection.switches.map { ($0.name, .bool(inject[keyPath: $0.keyPath])) })))
            }
            return .object(m)
        case let .touch(pid, address, pages, access):
            return .object([("op", .string("touch")), ("pid", .num(pid)), ("address", .addr(address)),
                            ("pages", .num(pages)), ("access", .string(access.rawValue))])
        case let .replay(r):
            var m: [(String, JSONValue)] = [("op", .string("replay"))]
            if let format = r.format { m.append(("format", .string(format.rawValue))) }
            if let spool = r.spool {
                // A streamed replay: its text is in the spool file, not in memory.
                m += [("spool", .string((spool as NSString).lastPathComponent)), ("bytes", .num(r.spooledBytes))]
            } else {
                m.append(("text", .string(r.text)))
            }
            if let pid = r.pid { m.append(("pid", .num(pid))) }
            if let faults = r.faults { m.append(("faults", .string(faults.rawValue))) }
            if r.detail != .summary { m.append(("detail", .string(r.detail.rawValue))) }
            if let n = r.maxEvents { m.append(("max_events", .num(n))) }
            return .object(m)
        case let .syscall(pid, tid, call):
            let who: [(String, JSONValue)] = tid.map { [("pid", .num(pid)), ("tid", .num($0))] } ?? [("pid", .num(pid))]
            return .object([("op", .string(call.name))] + who + Self.arguments(call))
        }
    }

    /// A syscall's arguments under the names `Requests.syscall` reads
    /// (`Schemas.syscall` lists them).
    static func arguments(_ call: Syscall) -> [(String, JSONValue)] {
        switch call {
        case let .open(path, flags): [("path", .string(path)), ("flags", .string(Linux.openNames.format(flags)))]
        case let .close(fd): [("fd", .num(fd))]
        case let .mmap(addr, length, prot, flags, fd, offset):
            [("addr", .addr(addr)), ("length", .num(length)), ("prot", .string(Linux.protNames.format(prot))),
             ("flags", .string(Linux.mapNames.format(flags))), ("fd", .num(fd)), ("offset", .num(offset))]
        case let .munmap(addr, length): [("addr", .addr(addr)), ("length", .num(length))]
        case let .mprotect(addr, length, prot):
            [("addr", .addr(addr)), ("length", .num(length)), ("prot", .string(Linux.protNames.format(prot)))]
        case let .madvise(addr, length, advice):
            [("addr", .addr(addr)), ("length", .num(length)), ("advice", .string(Linux.madvNames.format(advice)))]
        case let .mremap(old, oldSize, newSize, flags, newAddr):
            [("old_address", .addr(old)), ("old_size", .num(oldSize)), ("new_size", .num(newSize)),
             ("flags", .string(Linux.mremapNames.format(flags))), ("new_address", .addr(newAddr))]
        case let .brk(addr): [("brk", .addr(addr))]
        case .fork: []
        case let .exit(status): [("status", .num(status))]
        }
    }
}
