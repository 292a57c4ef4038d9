import CLinuxShims
#if canImport(Glibc)
import Glibc
#endif

/// Where session ids come from. A session id is a capability: whoever holds
/// it can read, change and delete the session, so ids must be unguessable
/// and never repeat (docs/API.md "Sessions").
public protocol RandomSource: Sendable {
    /// Fills `buffer` with random bytes, or throws; never fills it with
    /// anything predictable.
    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(RandomSourceError)
}

/// The random source failed: the caller answers 503 and creates nothing.
public struct RandomSourceError: Error, Equatable, Sendable {
    /// The errno of the failing call.
    public let errno: Int32
    public init(errno: Int32) { self.errno = errno }
}

/// The kernel's random source, getrandom(2) on the urandom pool (no file
/// descriptor, so a process out of descriptors still gets random bytes).
/// Short reads are continued; `EINTR` is retried; any other failure throws.
public struct KernelRandom: RandomSource {
    public init() {}

    public func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(RandomSourceError) {
        var done = 0
        while done < buffer.count {
            let n = getrandom(buffer.baseAddress! + done, buffer.count - done, 0)
            if n > 0 {
                done += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                throw RandomSourceError(errno: n < 0 ? errno : EIO)
            }
        }
    }
}

/// Session ids: an optional node prefix (`node_id`, so a load balancer can
/// route a session to the instance that owns it, docs/DEPLOY.md) and a
/// version-4 UUID of 122 bits from a ``RandomSource``.
struct SessionIDs: Sendable {
    let random: any RandomSource
    /// `""` or `"<node_id>-"`.
    let prefix: String

    init(random: any RandomSource, nodeID: String) {
        self.random = random
        self.prefix = nodeID.isEmpty ? "" : nodeID + "-"
    }

    /// A new id, or 503 `unavailable` when the random source fails (never a
    /// fixed or reused id).
    func next() throws(APIError) -> String {
        var bytes: (UInt64, UInt64) = (0, 0)
        do {
            try withUnsafeMutableBytes(of: &bytes) { (raw) throws(RandomSourceError) in try random.fill(raw) }
        } catch {
            throw APIError(.unavailable, "no random bytes for a session id (getrandom: errno \(error.errno)); try again")
        }
        return prefix + Self.uuid(bytes)
    }

    /// RFC 9562 version 4 text form of 16 random bytes.
    static func uuid(_ bytes: (UInt64, UInt64)) -> String {
        var b = bytes
        return withUnsafeMutableBytes(of: &b) { raw -> String in
            raw[6] = raw[6] & 0x0F | 0x40   // version 4
            raw[8] = raw[8] & 0x3F | 0x80   // variant 10
            let hex = Array("0123456789abcdef".utf8)
            var out: [UInt8] = []
            out.reserveCapacity(36)
            for i in 0..<16 {
                if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
                out.append(hex[Int(raw[i] >> 4)])
                out.append(hex[Int(raw[i] & 0x0F)])
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
