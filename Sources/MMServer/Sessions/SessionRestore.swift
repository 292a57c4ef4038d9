import Foundation
import MMCore

/// Durable sessions (docs/API.md "Sessions"): each session's accepted
/// operations are journaled under `data_dir` (SessionJournal); on start every
/// journal is replayed into its session, a torn or corrupt tail is cut at
/// the last good record and reported, and deleting or expiring a session
/// deletes its journal.
extension SessionStore {
    /// The journal path of session `id`, or nil when sessions are not persisted.
    func journalPath(_ id: String) -> String? {
        limits.dataDir.isEmpty ? nil : (limits.dataDir as NSString).appendingPathComponent(id + ".journal")
    }

    /// The header record of a new session's journal.
    static func header(_ s: Session) -> JSONValue {
        .object([("v", .num(1)), ("id", .string(s.id)), ("kernel", .string(s.sim.model.id)),
                 ("options", Session.options(s.sim.options)), ("name", .str(s.name)),
                 ("created_at", .string(s.createdAt)), ("owner", .string(s.owner))])
    }

    /// Starts persisting a new session (creates the data directory if needed).
    func persist(_ s: Session) {
        guard let path = journalPath(s.id) else { return }
        try? FileManager.default.createDirectory(atPath: limits.dataDir, withIntermediateDirectories: true)
        let journal = SessionJournal.create(path: path, header: Self.header(s), durability: limits.durability,
                                            round: journalRound, report: report)
        s.lock.withLock { s.journal = journal }
    }

    /// Restores every journaled session; returns how many. Never throws: a
    /// journal that cannot be read is reported and left alone.
    @discardableResult
    public func restore() -> Int {
        guard !limits.dataDir.isEmpty,
              let names = try? FileManager.default.contentsOfDirectory(atPath: limits.dataDir) else { return 0 }
        var restored = 0
        for name in names.sorted() where name.hasSuffix(".journal") {
            let path = (limits.dataDir as NSString).appendingPathComponent(name)
            if restoreOne(path) { restored += 1 }
        }
        return restored
    }

    /// The operations of one journal record: a single op, or a batch record
    /// without its failed ops (nil: an op that does not decode).
    static func ops(of record: JSONValue) -> [Op?] {
        guard let batch = record["batch"] else { return [try? Op.decode(record, opIndex: 0)] }
        var failed = Set<Int>()
        if case let .array(items)? = record["failed"] {
            for case let .int(n) in items { failed.insert(Int(n)) }
        }
        guard case let .array(items)? = batch["ops"] else { return [nil] }
        return items.enumerated().compactMap { n, item in
            failed.contains(n) ? nil : .some(try? Op.decode(item, opIndex: n))
        }
    }

    private func restoreOne(_ path: String) -> Bool {
        guard let (records, good, length) = SessionJournal.read(path: path), let header = records.first,
              case let .string(id)? = header["id"], case let .string(kernelID)? = header["kernel"],
              let kernel = KernelModel.named(kernelID), path.hasSuffix("/" + id + ".journal") || path == id + ".journal" else {
            report("journal \(path): no valid header; left alone")
            return false
        }
        var options = ModelOptions()
        if case let .object(o)? = header["options"] {
            for sw in ModelOptions.switches { if case .bool(true)? = o.first(where: { $0.0 == sw.name })?.1 { options[keyPath: sw.keyPath] = true } }
        }
        var name: String?, created: String?, owner = "-"
        if case let .string(v)? = header["name"] { name = v }
        if case let .string(v)? = header["created_at"] { created = v }
        if case let .string(v)? = header["owner"] { owner = v }
        let s = Session(id: id, name: name, model: kernel, options: options, limits: limits, now: Self.now(),
                        owner: owner, global: global, createdAt: created)
        var ops: [Op] = [], results: [OpResult] = []
        var skipped = 0
        s.lock.withLock {
            for value in records.dropFirst() {
                for op in value["spool"] != nil ? [ReplayRequest.spooled(value, directory: spoolDirectory)] : Self.ops(of: value) {
                    guard let op else { skipped += 1; continue }
                    do throws(APIError) {
                        results.append(try s.perform(op, summary: true))
                        ops.append(op)
                    } catch {
                        skipped += 1
                    }
                }
            }
            s.record(ops: ops, results: results)
            s.sim.tracer.enabled = true
        }
        if good < length {
            _ = truncate(path, off_t(good))
            report("journal \(path): cut a torn or corrupt tail at byte \(good) (\(length - good) bytes dropped)")
        }
        if skipped > 0 { report("journal \(path): \(skipped) operation(s) could not be replayed and were skipped") }
        let journal = SessionJournal.reopen(path: path, durability: limits.durability, round: journalRound, report: report)
        s.lock.withLock { s.journal = journal }
        adopt(s)
        return true
    }
}
