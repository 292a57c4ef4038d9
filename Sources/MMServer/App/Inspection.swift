import MMCore

/// Read-only views of a session for the API: pages, the anon_vma forest,
/// files.
enum Inspection {
    /// GET …/pages: every page of [start, end) with a page-table entry.
    static func pages(_ sim: Simulation, pid: Int, start: UInt64, end: UInt64) -> JSONValue {
        guard let p = sim.processes[pid] else { return .object([("pages", .array([]))]) }
        let pt = p.mm.pageTable
        var out: [JSONValue] = []
        for vpn in pt.vpns(in: start & ~(Linux.PAGE_SIZE - 1), end) {
            guard let pte = pt[vpn] else { continue }
            let folio: JSONValue
            if let f = pte.folio {
                var object: JSONValue = .null
                if case let .shmem(obj)? = f.inode?.kind { object = .num(obj) }
                folio = .object([
                    ("id", .string("f\(f.id)")), ("kind", .string(f.kind.rawValue)), ("anon", .bool(f.kind == .anon)),
                    ("zero_page", .bool(f.kind == .zero)),
                    ("file", f.kind == .file ? .str(f.inode?.path) : .null), ("object", object),
                    ("index", f.kind == .file || f.kind == .shmem ? .num(f.index) : .null),
                    ("mapcount", .num(f.mapcount)), ("anon_exclusive", .bool(f.anonExclusive)),
                    ("anon_vma", DTO.av(f.anonVMA?.id)),
                ])
            } else {
                folio = .null
            }
            out.append(.object([
                ("address", .addr(vpn << Linux.PAGE_SHIFT)),
                ("pte", .object([("present", .bool(pte.present)), ("writable", .bool(pte.writable)),
                                 ("dirty", .bool(pte.dirty)), ("guard", .bool(pte.guardMarker))])),
                ("folio", folio),
            ]))
        }
        return .object([("pages", .array(out))])
    }

    /// GET …/anon_vmas: the anon_vma forest, by id.
    static func forest(_ sim: Simulation) -> JSONValue {
        var folioCount: [Int: Int] = [:]
        for p in sim.processes.values where p.state == .running {
            for vpn in p.mm.pageTable.entries.keys {
                if let f = p.mm.pageTable[vpn]?.folio, f.kind == .anon, let av = f.anonVMA {
                    folioCount[av.id, default: 0] += 1
                }
            }
        }
        let list = sim.anonVMAs.keys.sorted().compactMap { sim.anonVMAs[$0] }
        return .object([("anon_vmas", .array(list.map { av in
            let chains = av.avcs.values.sorted { $0.id < $1.id }.map { avc in
                JSONValue.object([("pid", .num(avc.pid)), ("vma", .string(avc.vma.rangeDescription))])
            }
            return .object([
                ("id", .string("av\(av.id)")), ("root", .string("av\(av.root.id)")), ("parent", .string("av\(av.parent.id)")),
                ("refcount", .num(av.refcount)), ("num_children", .num(av.numChildren)),
                ("num_active_vmas", .num(av.numActiveVMAs)), ("chains", .array(chains)),
                ("folios", .num(folioCount[av.id] ?? 0)),
            ])
        }))])
    }

    /// GET …/files: the session's inodes.
    static func files(_ sim: Simulation) -> JSONValue {
        let list = sim.inodes.values.sorted { $0.ino < $1.ino }
        return .object([("files", .array(list.map {
            .object([("path", .string($0.path)), ("size", .num($0.size)), ("mode", .string("0" + String($0.mode, radix: 8))),
                     ("ino", .num($0.ino)), ("cached_pages", .num($0.pageCache.count))])
        }))])
    }
}
