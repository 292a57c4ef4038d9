/// Value views of the engine's state for results, and the state digest.
extension Machine {
    func vmaViews() -> [EngineVMAView] {
        w.vmas.indices.compactMap { i in
            let v = w.vmas[i]
            if v.freed && v.readers.isEmpty { return nil }
            return EngineVMAView(id: v.id, mm: v.mm, start: v.start, end: v.end, pgoff: v.pgoff, flags: v.flags,
                                 anonVMA: v.anonVMA.map { w.avs[$0].id }, chain: v.chain.map { w.avs[$0].id },
                                 detached: v.detached, freed: v.freed,
                                 writeLocked: v.mm == 0 && model.perVMALock && w.isWriteLocked(i),
                                 readers: v.readers.map { cfg.names[$0] })
        }.sorted { ($0.mm, $0.start, $0.id) < ($1.mm, $1.start, $1.id) }
    }

    func anonVMAViews() -> [EngineAnonVMAView] {
        w.avs.indices.compactMap { i in
            let a = w.avs[i]
            if a.freed && a.lockHolder == nil && !w.vmas.contains(where: { $0.anonVMA == i && !$0.freed }) { return nil }
            return EngineAnonVMAView(id: a.id, root: w.avs[a.root].id, refcount: a.links + a.children, freed: a.freed,
                                     lockedBy: a.lockHolder.map { cfg.names[$0] })
        }
    }

    /// One line per live VMA: "mm0 0x…-0x… rw-p av3 [av3]".
    func summaryLines() -> [String] {
        var out: [String] = []
        for v in w.vmas where !v.freed && !v.detached && !v.pendingFree {
            let f = v.flags
            let perms = (f.contains(.READ) ? "r" : "-") + (f.contains(.WRITE) ? "w" : "-") + (f.contains(.EXEC) ? "x" : "-")
                + (f.contains(.SHARED) ? "s" : "p")
            let av = v.anonVMA.map { "av\(w.avs[$0].id)" } ?? "no-anon_vma"
            let chain = v.chain.map { "av\(w.avs[$0].id)" }.joined(separator: ",")
            let pages = w.ptes.filter { $0.mm == v.mm && $0.vpn >= v.start >> 12 && $0.vpn < v.end >> 12 }
                .sorted { $0.vpn < $1.vpn }
                .map { p -> String in
                    let fo = w.folios[p.folio]
                    let what = p.folio == 0 ? "zero" : fo.anon ? "anon(av\(fo.anonVMA.map { w.avs[$0].id } ?? 0))" : "file"
                    return "\(hex(p.vpn << 12))=\(what)\(p.writable ? "w" : "")"
                }
            out.append("mm\(v.mm) \(hexRange(v.start, v.end)) \(perms) \(av) [\(chain)]" + (pages.isEmpty ? "" : " " + pages.joined(separator: " ")))
        }
        return out.sorted()
    }

    /// A stable digest of the end state (FNV-1a over the summary).
    func digest() -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for line in summaryLines() {
            for b in line.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            h = (h ^ 10) &* 0x100_0000_01b3
        }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Per thread, the lock codes of its finished faults.
    func faultCodes() -> [String: [LockCode]] {
        var out: [String: [LockCode]] = [:]
        for (i, s) in th.enumerated() where !s.faultCodes.isEmpty { out[cfg.names[i]] = s.faultCodes }
        return out
    }

    func hazard(_ f: Firing, schedule: [String], step: Int, thread: String, locks: [String]) -> Hazard {
        let explanation = "\(f.detector.meaning); \(f.race.story)."
        return Hazard(detector: f.detector, name: f.detector.name, firstSchedule: schedule, step: step, thread: thread,
                      locations: f.locations.map { $0.describe(w) }, locksHeld: locks, explanation: explanation,
                      fixedBy: f.race.fixedBy)
    }

    /// The name of schedule entry `i`.
    func name(_ i: Int) -> String { i == Self.rcuThread ? "rcu" : cfg.names[i] }
}
