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
/// record per accepted operation, each `[length u32 LE][checksum u32 LE][JSON]`
/// with the JSON the session's log answers (the op that replays it).
///
/// Locking: a record is *queued* (``enqueue(_:)``, O(1): the op value or a
/// reference to the batch body, nothing encoded or copied) while the session
/// lock is held, so the queue is in log order; ``flush()`` runs after the
/// session lock is released and before the answer is sent (Session.locked):
/// it encodes, frames and write(2)s everything queued, in order, under the
/// journal's own `writing` lock. So a record is in the kernel before its
/// answer leaves (a crash of the process loses nothing), and the next
/// operation of the session runs while this one's record is written.
/// Reading stops at the first torn or corrupt record;
/// ``SessionJournal/read(path:)`` gives the good prefix the restore cuts to.
final class SessionJournal: @unchecked Sendable {
    /// A queued record, not yet encoded.
    enum Record {
        /// One record per operation (its JSON).
        case ops([Op])
        /// A header or other JSON record.
        case value(JSONValue)
        /// `{"failed": [indices], "batch": <the request body as sent>}`: a
        /// batch and which of its ops failed (they changed nothing and are
        /// not replayed). The body is not copied or re-encoded.
        case batch(body: [UInt8], failed: [Int])
    }

    let path: String
    private let fd: Int32
    private let durability: Durability
    /// Records queued and not yet written; guarded by `queue` (held for O(1) only).
    private var pending: [Record] = []
    private let queue = SpinningLock()
    /// Serialises writes, so records reach the file in queue order (and two
    /// threads never wait on each other inside write(2), on the file's lock).
    private let writing = SpinningLock()
    /// Written since the last fdatasync (everysec); guarded by `writing`.
    private var dirty = false
    /// A write failed: the journal stops (logged once); the session goes on in memory. Guarded by `writing`.
    private var failed = false
    private let report: @Sendable (String) -> Void
    /// Where it registers when it has records queued, to be written once per
    /// event-loop round (nil: ``Session/locked(_:)`` writes them).
    let round: JournalRound?

    private init(path: String, fd: Int32, durability: Durability, round: JournalRound?,
                 report: @escaping @Sendable (String) -> Void) {
        self.path = path
        self.fd = fd
        self.durability = durability
        self.round = round
        self.report = report
    }

    deinit { close(fd) }

    /// Creates the journal of a new session with its header (written before this returns).
    static func create(path: String, header: JSONValue, durability: Durability, round: JournalRound? = nil,
                       report: @escaping @Sendable (String) -> Void) -> SessionJournal? {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            report("journal: cannot create \(path): \(String(cString: strerror(errno)))")
            return nil
        }
        let j = SessionJournal(path: path, fd: fd, durability: durability, round: round, report: report)
        j.enqueue(.value(header))
        j.flush()
        return j
    }

    /// Reopens a restored journal for appending (after ``read(path:)`` cut it).
    static func reopen(path: String, durability: Durability, round: JournalRound? = nil,
                       report: @escaping @Sendable (String) -> Void) -> SessionJournal? {
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        return SessionJournal(path: path, fd: fd, durability: durability, round: round, report: report)
    }

    /// Queues a record. Called with the session lock held (the queue is in
    /// log order); the records are written by the next ``JournalRound/flush()``
    /// or, without a round, by ``flush()`` once the caller released the lock.
    func enqueue(_ record: Record) {
        queue.lock()
        let first = pending.isEmpty
        pending.append(record)
        queue.unlock()
        if first, let round { round.add(self) }
    }

    /// The record of a batch request: its body as sent and the indices of
    /// its ops that failed.
    static func batchRecord(_ body: [UInt8], failed: [Int]) -> Record { .batch(body: body, failed: failed) }

    /// Whether records are queued (a cheap check before ``flush()``).
    var hasPending: Bool {
        queue.lock()
        defer { queue.unlock() }
        return !pending.isEmpty
    }

    /// Writes every queued record, in order (with `always`, then
    /// fdatasync(2)): what was queued while it wrote too, so the records of
    /// operations that finished meanwhile go in the same write(2) (group
    /// commit). When it returns, every record queued before the call is in
    /// the kernel: written by this call or by the one that held `writing`
    /// before it. Called without the session lock.
    func flush() {
        writing.lock()
        defer { writing.unlock() }
        var wrote = false
        while true {
            queue.lock()
            let records = pending
            pending.removeAll(keepingCapacity: true)
            queue.unlock()
            guard !records.isEmpty, !failed else { break }
            guard writeRecords(records) else {
                failed = true
                report("journal: write to \(path) failed (\(String(cString: strerror(errno)))); the session is no longer persisted")
                return
            }
            wrote = true
        }
        guard wrote else { return }
        if durability == .always { _ = fdatasync(fd) } else { dirty = true }
    }

    /// Frames `records` and writes them: small records gathered into one
    /// buffer, a batch body written from the request's own bytes (not
    /// copied). Called holding `writing`.
    private func writeRecords(_ records: [Record]) -> Bool {
        var out: [UInt8] = []
        for r in records {
            if case let .batch(body, failed) = r {
                Self.batchHead(body, failed, into: &out)
                guard writeAll(out), writeAll(body) else { return false }
                out = [UInt8(ascii: "}")]
            } else {
                Self.frame(r, into: &out)
            }
        }
        return writeAll(out)
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw -> Bool in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { return false }
            }
            return true
        }
    }

    /// Appends the framed record(s) of `record` to `out`.
    static func frame(_ record: Record, into out: inout [UInt8]) {
        switch record {
        case let .ops(ops):
            for op in ops { frame(payload(op), into: &out) }
        case let .value(v):
            frame(JSONWriter.encode(v), into: &out)
        case let .batch(body, failed):
            batchHead(body, failed, into: &out)
            out.append(contentsOf: body)
            out.append(UInt8(ascii: "}"))
        }
    }

    /// An op's record: a fault (the hot single-op record) written straight
    /// to bytes, the same bytes as `JSONWriter.encode(op.json)` without the
    /// JSON tree; any other op through its JSON value.
    static func payload(_ op: Op) -> [UInt8] {
        guard case let .fault(pid, tid, address, access, mode, inject) = op, inject == FaultInjection() else {
            return JSONWriter.encode(op.json)
        }
        var out = JSONBuffer(capacity: 128)
        out.raw(#"{"op":"fault","pid":"#)
        out.int(Int64(pid))
        if let tid {
            out.raw(#","tid":"#)
            out.int(Int64(tid))
        }
        out.raw(#","address":"#)
        out.address(address)
        out.raw(#","access":"#)
        out.string(access.rawValue)
        out.raw(#","mode":"#)
        out.string(mode.rawValue)
        out.append(UInt8(ascii: "}"))
        return out.bytes()
    }

    /// The framing header and the payload's start of a batch record, whose
    /// payload is that start, `body`, then `}`.
    static func batchHead(_ body: [UInt8], _ failed: [Int], into out: inout [UInt8]) {
        var prefix: [UInt8] = Array(#"{"failed":["#.utf8)
        for (k, n) in failed.enumerated() {
            if k > 0 { prefix.append(UInt8(ascii: ",")) }
            prefix.append(contentsOf: String(n).utf8)
        }
        prefix.append(contentsOf: #"],"batch":"#.utf8)
        let suffix: [UInt8] = [UInt8(ascii: "}")]
        var sum = Checksum(length: prefix.count + body.count + suffix.count)
        sum.add(prefix)
        sum.add(body)
        sum.add(suffix)
        header(count: prefix.count + body.count + suffix.count, checksum: sum.value, into: &out)
        out.append(contentsOf: prefix)
    }

    /// fdatasync(2) if written since the last one (the everysec timer);
    /// first writes anything still queued. The sync runs without `writing`
    /// held: writers go on meanwhile.
    func syncIfDirty() {
        if hasPending { flush() }
        writing.lock()
        let needed = dirty
        dirty = false
        writing.unlock()
        if needed { _ = fdatasync(fd) }
    }

    /// Deletes the file (the session was deleted or expired).
    func remove() { unlink(path) }

    static func frame(_ payload: [UInt8], into out: inout [UInt8]) {
        header(count: payload.count, checksum: Checksum.of(payload), into: &out)
        out.append(contentsOf: payload)
    }

    private static func header(count: Int, checksum crc: UInt32, into out: inout [UInt8]) {
        let n = UInt32(count)
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: n >> (8 * k))) }
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: crc >> (8 * k))) }
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

/// Group commit across requests: the journals with records queued, written
/// once per event-loop round, before that round's answers are sent
/// (MMSimApp.willSendAnswers). So a record is in the kernel before its
/// answer leaves, and the requests of one round share a write(2) per
/// session. A round that finds another writing waits for it (its records
/// may be among those), then writes what is left.
final class JournalRound: @unchecked Sendable {
    private var dirty: [SessionJournal] = []
    private let list = SpinningLock()
    private let writing = SpinningLock()

    init() {}

    /// `journal` has records queued (its first since it was last written).
    func add(_ journal: SessionJournal) {
        list.lock()
        dirty.append(journal)
        list.unlock()
    }

    /// Writes every journal's queued records. Called on an event loop before
    /// it sends a round's answers.
    func flush() {
        writing.lock()
        defer { writing.unlock() }
        list.lock()
        let journals = dirty
        dirty.removeAll(keepingCapacity: true)
        list.unlock()
        for j in journals { j.flush() }
    }
}

/// The records' checksum: a 64-bit multiply-xorshift hash over 8-byte
/// words (about ten times faster than a table CRC-32 on a batch body),
/// folded to 32 bits. It detects torn and corrupted records; it is not a
/// defence against deliberate tampering. Fed in pieces (``add(_:)``) it
/// gives the value of the pieces' concatenation (a batch record is hashed
/// without being copied into one buffer).
struct Checksum {
    private var h: UInt64
    /// Bytes of the current 8-byte word not yet folded in.
    private var tail: UInt64 = 0
    private var tailBytes = 0

    /// Starts the checksum of `length` bytes (the length is part of it).
    init(length: Int) { h = 0x243F_6A88_85A3_08D3 ^ UInt64(length) }

    static func of(_ bytes: [UInt8]) -> UInt32 {
        var c = Checksum(length: bytes.count)
        c.add(bytes)
        return c.value
    }

    private mutating func fold(_ word: UInt64) {
        h = (h ^ word) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
    }

    mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var i = 0
            while tailBytes > 0 && tailBytes < 8 && i < raw.count {
                tail |= UInt64(raw[i]) << (8 * UInt64(tailBytes))
                tailBytes += 1
                i += 1
            }
            if tailBytes == 8 { fold(tail); tail = 0; tailBytes = 0 }
            while i + 8 <= raw.count {
                fold(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                i += 8
            }
            while i < raw.count {
                tail |= UInt64(raw[i]) << (8 * UInt64(tailBytes))
                tailBytes += 1
                i += 1
            }
        }
    }

    /// The checksum of the bytes added (as many as `length` said).
    var value: UInt32 {
        var f = (h ^ tail) &* 0xBF58_476D_1CE4_E5B9
        f ^= f >> 31
        return UInt32(truncatingIfNeeded: f ^ (f >> 32))
    }
}
