import MMHTTP
import MMCore

/// Read-only views of a session for the API: pages, the anon_vma forest,
/// files.
enum Inspection {
    /// GET …/pages: every page of [start, end) with a page-table entry (Simulation.pages).
    static func pages(_ sim: Simulation, pid: Int, start: UInt64, end: UInt64) -> JSONValue {
        let pages = (try? sim.pages(pid: pid, start: start, end: end)) ?? []
        return .object([("pages", .array(pages.map { pg in
            let folio: JSONValue = pg.folio.map { f in
                .object([
                    ("id", .string("f\(f.id)")), ("kind", .string(f.kind.rawValue)), ("anon", .bool(f.anon)),
                    ("zero_page", .bool(f.zeroPage)), ("file", .str(f.file)), ("object", .num(f.object)),
                    ("index", f.index.map { .num($0) } ?? .null), ("mapcount", .num(f.mapcount)),
                    ("anon_exclusive", .bool(f.anonExclusive)), ("anon_vma", DTO.av(f.anonVMA)),
                ])
            } ?? .null
            return .object([
                ("address", .addr(pg.address)),
                ("guard", .bool(pg.guardMarker)), ("mapcount", .num(pg.mapcount)),
                ("pte", .object([("present", .bool(pg.present)), ("writable", .bool(pg.writable)),
                                 ("dirty", .bool(pg.dirty)), ("guard", .bool(pg.guardMarker))])),
                ("folio", folio),
            ])
        }))])
    }

    /// GET …/anon_vmas: the anon_vma forest, by id (Simulation.anonVMAForest).
    static func forest(_ sim: Simulation) -> JSONValue {
        .object([("anon_vmas", .array(sim.anonVMAForest().map { av in
            .object([
                ("id", .string("av\(av.id)")), ("root", .string("av\(av.root)")), ("parent", .string("av\(av.parent)")),
                ("refcount", .num(av.refcount)), ("num_children", .num(av.numChildren)),
                ("num_active_vmas", .num(av.numActiveVMAs)),
                ("chains", .array(av.chains.map { .object([("pid", .num($0.pid)), ("vma", .string($0.vma))]) })),
                ("folios", .num(av.folios)),
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
