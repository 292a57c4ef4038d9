/// The errno values a simulated syscall can return (include/uapi/asm-generic/errno-base.h).
public enum Errno: Int, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case EPERM = 1, ENOENT = 2, EINTR = 4, EBADF = 9, EAGAIN = 11, ENOMEM = 12, EACCES = 13
    case EFAULT = 14, EEXIST = 17, ENODEV = 19, EINVAL = 22, EMFILE = 24, ETXTBSY = 26
    case ENOSYS = 38, EOVERFLOW = 75, EOPNOTSUPP = 95

    /// The symbolic name, as strace prints it. (Not `String(describing:)`:
    /// that calls `description`, which is this — infinite recursion.)
    public var name: String {
        switch self {
        case .EPERM: "EPERM"
        case .ENOENT: "ENOENT"
        case .EINTR: "EINTR"
        case .EBADF: "EBADF"
        case .EAGAIN: "EAGAIN"
        case .ENOMEM: "ENOMEM"
        case .EACCES: "EACCES"
        case .EFAULT: "EFAULT"
        case .EEXIST: "EEXIST"
        case .ENODEV: "ENODEV"
        case .EINVAL: "EINVAL"
        case .EMFILE: "EMFILE"
        case .ETXTBSY: "ETXTBSY"
        case .ENOSYS: "ENOSYS"
        case .EOVERFLOW: "EOVERFLOW"
        case .EOPNOTSUPP: "EOPNOTSUPP"
        }
    }
    public var description: String { name }

    /// strerror(3) text, as strace prints it after the name.
    public var message: String {
        switch self {
        case .EPERM: "Operation not permitted"
        case .ENOENT: "No such file or directory"
        case .EINTR: "Interrupted system call"
        case .EBADF: "Bad file descriptor"
        case .EAGAIN: "Resource temporarily unavailable"
        case .ENOMEM: "Cannot allocate memory"
        case .EACCES: "Permission denied"
        case .EFAULT: "Bad address"
        case .EEXIST: "File exists"
        case .ENODEV: "No such device"
        case .EINVAL: "Invalid argument"
        case .EMFILE: "Too many open files"
        case .ETXTBSY: "Text file busy"
        case .ENOSYS: "Function not implemented"
        case .EOVERFLOW: "Value too large for defined data type"
        case .EOPNOTSUPP: "Operation not supported"
        }
    }

    /// Looks an errno up by its name ("ENOMEM").
    public init?(name: String) {
        guard let e = Errno.allCases.first(where: { $0.name == name }) else { return nil }
        self = e
    }
}
