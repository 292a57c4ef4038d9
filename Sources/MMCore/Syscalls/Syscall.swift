/// One simulated system call with its arguments, as the man page names them.
/// Numeric arguments keep the raw x86-64 values so that invalid combinations
/// reach the simulated kernel and get its errno.
public enum Syscall: Sendable, Equatable {
    case open(path: String, flags: UInt64)
    case close(fd: Int)
    case mmap(addr: UInt64, length: UInt64, prot: UInt64, flags: UInt64, fd: Int, offset: UInt64)
    case munmap(addr: UInt64, length: UInt64)
    case mprotect(addr: UInt64, length: UInt64, prot: UInt64)
    case madvise(addr: UInt64, length: UInt64, advice: UInt64)
    case mremap(oldAddress: UInt64, oldSize: UInt64, newSize: UInt64, flags: UInt64, newAddress: UInt64)
    case brk(addr: UInt64)
    case fork
    case exit(status: Int)

    /// Whether the return value is an address (strace prints it in hex).
    public var returnsAddress: Bool {
        switch self {
        case .mmap, .mremap, .brk: true
        default: false
        }
    }

    /// The syscall's name as strace prints it.
    public var name: String {
        switch self {
        case .open: "open"
        case .close: "close"
        case .mmap: "mmap"
        case .munmap: "munmap"
        case .mprotect: "mprotect"
        case .madvise: "madvise"
        case .mremap: "mremap"
        case .brk: "brk"
        case .fork: "fork"
        case .exit: "exit_group"
        }
    }
}
