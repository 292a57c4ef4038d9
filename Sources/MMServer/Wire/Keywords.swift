import MMHTTP
import MMCore

/// What the `op` member of an `ops` entry names (docs/API.md "Batches"). The
/// strace spellings a syscall also accepts share its case: `openat` is
/// `.open`, `clone` and `vfork` are `.fork`, `exit_group` is `.exit`. The
/// raw value is the name as the API writes it (``canonical``).
enum OpName: String, Equatable {
    case file, process, thread, fault, replay, touch
    case open, close, mmap, munmap, mprotect, madvise, mremap, brk, fork, exit

    /// Matches the UTF-8 bytes of a name exactly (case-sensitive); nil for
    /// anything else. The same answer as `init?(_: String)` on the decoded text.
    init?(_ b: UnsafeBufferPointer<UInt8>) {
        // By length, then the few names of that length, most frequent first.
        let name: OpName?
        switch b.count {
        case 3: name = Keywords.equal(b, "brk") ? .brk : nil
        case 4:
            name = Keywords.equal(b, "mmap") ? .mmap : Keywords.equal(b, "file") ? .file
                : Keywords.equal(b, "open") ? .open : Keywords.equal(b, "fork") ? .fork
                : Keywords.equal(b, "exit") ? .exit : nil
        case 5:
            name = Keywords.equal(b, "fault") ? .fault : Keywords.equal(b, "touch") ? .touch
                : Keywords.equal(b, "close") ? .close : Keywords.equal(b, "clone") ? .fork
                : Keywords.equal(b, "vfork") ? .fork : nil
        case 6:
            name = Keywords.equal(b, "munmap") ? .munmap : Keywords.equal(b, "mremap") ? .mremap
                : Keywords.equal(b, "replay") ? .replay : Keywords.equal(b, "openat") ? .open
                : Keywords.equal(b, "thread") ? .thread : nil
        case 7:
            name = Keywords.equal(b, "process") ? .process : Keywords.equal(b, "madvise") ? .madvise : nil
        case 8: name = Keywords.equal(b, "mprotect") ? .mprotect : nil
        case 10: name = Keywords.equal(b, "exit_group") ? .exit : nil
        default: name = nil
        }
        guard let name else { return nil }
        self = name
    }

    /// The name `s` spells, if any.
    init?(_ s: String) {
        var s = s
        guard let name = s.withUTF8({ OpName($0) }) else { return nil }
        self = name
    }

    /// Whether this is a syscall (the `syscall(_:_:)` names).
    var isSyscall: Bool {
        switch self {
        case .file, .process, .thread, .fault, .replay, .touch: false
        default: true
        }
    }

    /// Whether an `ops` entry of this op names its process (`pid`).
    var takesPid: Bool { self != .file && self != .process && self != .replay }

    /// The name as the API writes it (the endpoint's name for a syscall).
    /// Not MMCore's `Syscall.name`: that is strace's spelling (`exit_group`
    /// for `.exit`) and needs a call's arguments to be had.
    var canonical: String { rawValue }

    /// The strace spellings an `ops` entry may use instead.
    var aliases: [String] {
        switch self {
        case .open: ["openat"]
        case .fork: ["clone", "vfork"]
        case .exit: ["exit_group"]
        default: []
        }
    }

    /// The syscalls of POST …/syscalls/{name}, in man-page order of the API.
    static let syscalls: [OpName] = [.open, .close, .mmap, .munmap, .mprotect, .madvise, .mremap, .brk, .fork, .exit]
}

/// Byte matchers for the enumerated string values of requests, so the fast
/// path does not build a String to switch on.
enum Keywords {
    /// Whether the bytes of `b` are exactly those of `s`.
    @inline(__always)
    static func equal(_ b: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        s.withUTF8Buffer { k in
            guard k.count == b.count else { return false }
            for j in 0..<k.count where k[j] != b[j] { return false }
            return true
        }
    }

    /// `Access(rawValue:)` over UTF-8 bytes.
    static func access(_ b: UnsafeBufferPointer<UInt8>) -> Access? {
        equal(b, "write") ? .write : equal(b, "read") ? .read : equal(b, "exec") ? .exec : nil
    }

    /// `FaultMode(rawValue:)` over UTF-8 bytes.
    static func faultMode(_ b: UnsafeBufferPointer<UInt8>) -> FaultMode? {
        equal(b, "user") ? .user : equal(b, "kernel") ? .kernel : nil
    }
}
