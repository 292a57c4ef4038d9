/// An inode of the session's file system, or a shmem object.
///
/// Page-cache pages belong to the inode (its `address_space`), so two opens of
/// one path share them (docs/KERNEL-MODEL.md §1.3).
public final class Inode {
    /// What backs the inode.
    public enum Kind: Sendable, Equatable {
        /// A regular file of the session's file system.
        case regular
        /// The shmem object behind a MAP_SHARED|MAP_ANONYMOUS mapping (shmem_zero_setup()).
        case shmem(object: Int)
    }

    /// Inode number (deterministic, per session).
    public let ino: Int
    /// The path, or "/dev/zero" for shmem objects.
    public let path: String
    /// Size in bytes (i_size).
    public var size: UInt64
    /// Permission bits, e.g. 0o644.
    public var mode: UInt32
    public let kind: Kind
    /// Page cache: file page index → folio.
    public var pageCache: [UInt64: Folio] = [:]
    /// Regular files: page indices below EOF that are not in the page cache
    /// (a hole punched by MADV_REMOVE/fallocate); every other page is cached.
    public var uncachedPages: Set<UInt64> = []

    public init(ino: Int, path: String, size: UInt64, mode: UInt32, kind: Kind = .regular) {
        self.ino = ino
        self.path = path
        self.size = size
        self.mode = mode
        self.kind = kind
    }

    /// Whether this is a shmem object.
    public var isShmem: Bool { if case .shmem = kind { true } else { false } }
    /// Number of pages covering i_size.
    public var sizePages: UInt64 { (size + Linux.PAGE_SIZE - 1) / Linux.PAGE_SIZE }
}

/// An open file description (`struct file`): every open() creates one; dup()
/// and fork share it. Merge and anon_vma rules compare these by identity.
public final class OpenFile {
    /// "file1", "file2", … in creation order.
    public let id: Int
    public let inode: Inode
    /// open(2) flags (access mode in the low two bits).
    public let flags: UInt64

    public init(id: Int, inode: Inode, flags: UInt64) {
        self.id = id
        self.inode = inode
        self.flags = flags
    }

    /// FMODE_READ.
    public var readable: Bool { flags & Linux.O_ACCMODE != Linux.O_WRONLY }
    /// FMODE_WRITE.
    public var writable: Bool { let m = flags & Linux.O_ACCMODE; return m == Linux.O_WRONLY || m == Linux.O_RDWR }
}

/// A process's file descriptor table. fds 0-2 are reserved at creation.
public struct FDTable {
    public private(set) var entries: [Int: OpenFile] = [:]
    /// The lowest fd that open() may return.
    public static let firstFree = 3

    public init() {}

    /// Installs `file` at the lowest free descriptor (get_unused_fd_flags()).
    public mutating func install(_ file: OpenFile) -> Int {
        var fd = Self.firstFree
        while entries[fd] != nil { fd += 1 }
        entries[fd] = file
        return fd
    }

    public subscript(fd: Int) -> OpenFile? { fd >= 0 ? entries[fd] : nil }

    /// Removes a descriptor; false if it was not open.
    public mutating func close(_ fd: Int) -> Bool { entries.removeValue(forKey: fd) != nil }
}
