import MMHTTP
import MMCore

/// Decodes syscall and fault requests (docs/API.md "Syscalls", "Faults").
enum Requests {
    /// The syscall names docs/API.md accepts.
    static let syscallNames: Set<String> = ["open", "close", "mmap", "munmap", "mprotect", "madvise",
                                             "mremap", "brk", "fork", "exit"]
    /// What an `ops` entry may name: the endpoint names plus the strace
    /// spellings `syscall(_:_:)` also accepts. Decoding matches names with
    /// `OpName`; this list is the reference KeywordsTests checks it against.
    static let opSyscallNames = syscallNames.union(["openat", "exit_group", "clone", "vfork"])

    /// A syscall from its name and JSON arguments.
    static func syscall<A: OpFields>(_ name: String, _ a: A) throws(APIError) -> Syscall {
        guard let op = OpName(name), op.isSyscall else { throw .notFound("unknown syscall '\(name)'") }
        return try syscall(op, a)
    }

    /// A syscall from its `OpName` (one of the syscalls) and JSON arguments.
    static func syscall<A: OpFields>(_ name: OpName, _ a: A) throws(APIError) -> Syscall {
        switch name {
        case .open:
            return .open(path: try a.string("path"), flags: try a.flags("flags", Linux.openNames, default: 0))
        case .close:
            return .close(fd: try a.int("fd"))
        case .mmap:
            return .mmap(addr: try a.address("addr", default: 0), length: try a.u64("length"),
                         prot: try a.flags("prot", Linux.protNames), flags: try a.flags("flags", Linux.mapNames),
                         fd: try a.int("fd", default: -1), offset: try a.u64("offset", default: 0))
        case .munmap:
            return .munmap(addr: try a.address("addr"), length: try a.u64("length"))
        case .mprotect:
            return .mprotect(addr: try a.address("addr"), length: try a.u64("length"),
                             prot: try a.flags("prot", Linux.protNames))
        case .madvise:
            return .madvise(addr: try a.address("addr"), length: try a.u64("length"),
                            advice: try a.flags("advice", Linux.madvNames))
        case .mremap:
            return .mremap(oldAddress: try a.address("old_address"), oldSize: try a.u64("old_size"),
                           newSize: try a.u64("new_size"), flags: try a.flags("flags", Linux.mremapNames, default: 0),
                           newAddress: try a.address("new_address", default: 0))
        case .brk:
            return .brk(addr: try a.address("brk", default: 0))
        case .fork:
            return .fork
        case .exit:
            return .exit(status: try a.int("status", default: 0))
        case .file, .process, .thread, .fault, .replay, .touch:
            throw APIError(.internalError, "\(name) is not a syscall")
        }
    }

    /// A fault request: address, access, optional mode and inject.
    static func fault<A: OpFields>(_ a: A) throws(APIError) -> (UInt64, Access, FaultMode, FaultInjection) {
        let address = try a.address("address")
        let access = try access(a)
        guard let mode = try a.keyword("mode", default: FaultMode.user, Keywords.faultMode) else {
            throw .badRequest("field '\(a.context)mode' must be \"user\" or \"kernel\"")
        }
        var inject = FaultInjection()
        if let i = try a.object("inject") {
            for s in FaultInjection.switches { inject[keyPath: s.keyPath] = try i.bool(s.name, default: false) }
        }
        return (address, access, mode, inject)
    }

    /// The `access` member (default read).
    static func access<A: OpFields>(_ a: A) throws(APIError) -> Access {
        guard let access = try a.keyword("access", default: Access.read, Keywords.access) else {
            throw .badRequest("field '\(a.context)access' must be \"read\", \"write\" or \"exec\"")
        }
        return access
    }
}
