import Foundation
import MMCore
#if canImport(Glibc)
import Glibc
#endif

/// How hard a journal write is pushed to the disk before the answer (config
/// `durability`, like Redis' appendfsync): every write reaches the kernel
/// before the answer is sent, so a crash of the process loses nothing; the
/// policy says what a power loss may take.
public enum Durability: String, Sendable, CaseIterable {
    /// fdatasync(2) before every answer.
    case always
    /// fdatasync(2) of every written journal once a second (at most about a second at risk).
    case everysec
    /// Left to the kernel's writeback.
    case no
}

/// One session's operation log on disk: `<data_dir>/<session id>.journal`,
/// a header record (kernel, options, name, creation time, creator) and one
/// record per accepted operation, each `[length u32 LE][crc32 u32 LE][JSON]`
/// with the JSON the session's log answers (the op that replays it).
/// Records are appended with write(2) while the session lock is held, so
/// they are in the kernel before the answer is sent. Reading stops at the
/// first torn or corrupt record; ``SessionJournal/restore(from:)`` cuts the
/// file there.
final class SessionJournal: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let durability: Durability
    /// Written since the last fdatasync (everysec); guarded by `lock`.
    private var dirty = false
    /// A write failed: the journal stops (logged once); the session goes on in memory.
    private var failed = false
    private let lock = NSLock()
    private let report: @Sendable (String) -> Void

    private init(path: String, fd: Int32, durability: Durability, report: @escaping @Sendable (String) -> Void) {
        self.path = path
        self.fd = fd
        self.durability = durability
        self.report = report
    }

    deinit { close(fd) }

    /// Creates the journal of a new session with its header.
    static func create(path: String, header: JSONValue, durability: Durability,
                       report: @escaping @Sendable (String) -> Void) -> SessionJournal? {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            report("journal: cannot create \(path): \(String(cString: strerror(errno)))")
            return nil
        }
        let j = SessionJournal(path: path, fd: fd, durability: durability, report: report)
        j.append([header])
        return j
    }

    /// Reopens a restored journal for appending (after ``read(path:)`` cut it).
    static func reopen(path: String, durability: Durability, report: @escaping @Sendable (String) -> Void) -> SessionJournal? {
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        return SessionJournal(path: path, fd: fd, durability: durability, report: report)
    }

    /// Appends one record per value, in one write(2); with `always`, synced
    /// before returning. Called with the session lock held.
    func append(_ values: [JSONValue]) {
        var out: [UInt8] = []
        for v in values { Self.frame(JSONWriter.encode(v), into: &out) }
        writeRecords(out)
    }

    /// Appends one record whose payload is `payload` as it is (a batch record).
    func append(raw payload: [UInt8]) {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 8)
        Self.frame(payload, into: &out)
        writeRecords(out)
    }

    /// `{"failed": [indices], "batch": <the request body>}`: a batch as it
    /// was sent, and which of its ops failed (they changed nothing and are
    /// not replayed). Built without re-encoding the body.
    static func batchRecord(_ body: [UInt8], failed: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 32)
        out.append(contentsOf: #"{"failed":["#.utf8)
        for (k, n) in failed.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: String(n).utf8)
        }
        out.append(contentsOf: #"],"batch":"#.utf8)
        out.append(contentsOf: body)
        out.append(UInt8(ascii: "}"))
        return out
    }

    private func writeRecords(_ out: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        guard !failed else { return }
        let ok = out.withUnsafeBytes { raw -> Bool in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { return false }
            }
            return true
        }
        if !ok {
            failed = true
            report("journal: write to \(path) failed (\(String(cString: strerror(errno)))); the session is no longer persisted")
            return
        }
        if durability == .always { _ = fdatasync(fd) } else { dirty = true }
    }

    /// fdatasync(2) if written since the last one (the everysec timer).
    func syncIfDirty() {
        lock.lock()
        let needed = dirty
        dirty = false
        lock.unlock()
        if needed { _ = fdatasync(fd) }
    }

    /// Deletes the file (the session was deleted or expired).
    func remove() { unlink(path) }

    static func frame(_ payload: [UInt8], into out: inout [UInt8]) {
        let n = UInt32(payload.count), crc = Checksum.of(payload)
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: n >> (8 * k))) }
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: crc >> (8 * k))) }
        out.append(contentsOf: payload)
    }

    /// The records of a journal file up to the first torn or corrupt one,
    /// and the byte length of that good prefix.
    static func read(path: String) -> (records: [JSONValue], goodLength: Int, fileLength: Int)? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let bytes = [UInt8](data)
        var records: [JSONValue] = []
        var off = 0
        while off + 8 <= bytes.count {
            var n = 0, crc: UInt32 = 0
            for k in 0..<4 { n |= Int(bytes[off + k]) << (8 * k) }
            for k in 0..<4 { crc |= UInt32(bytes[off + 4 + k]) << (8 * k) }
            guard off + 8 + n <= bytes.count else { break }
            let payload = Array(bytes[(off + 8)..<(off + 8 + n)])
            guard Checksum.of(payload) == crc else { break }
            // A record that is whole but does not parse is skipped, not cut at.
            if let value = try? JSONParser.parse(payload) { records.append(value) } else { records.append(.null) }
            off += 8 + n
        }
        return (records, off, bytes.count)
    }
}

/// The records' checksum: a 64-bit multiply-xorshift hash over 8-byte
/// words (about ten times faster than a table CRC-32 on a batch body),
/// folded to 32 bits. It detects torn and corrupted records; it is not a
/// defence against deliberate tampering.
enum Checksum {
    static func of(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(bytes.count)
        bytes.withUnsafeBytes { raw in
            var i = 0
            while i + 8 <= raw.count {
                h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
                h ^= h >> 29
                i += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < raw.count {
                tail |= UInt64(raw[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ tail) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
        }
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }
}
