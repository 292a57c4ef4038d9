import MMHTTP
import MMCore

/// Writes a full fault response (docs/API.md "Faults") straight to bytes: the
/// same bytes as `JSONWriter.encode(DTO.fault(r, summary: false))`, without
/// building the JSONValue tree (POST …/faults is the hottest route).
enum FaultJSON {
    static func write(_ r: FaultResult, into o: inout JSONBuffer) {
        o.raw(r.fault ? #"{"fault":true,"address":"# : #"{"fault":false,"address":"#)
        o.address(r.address)
        o.raw(#","access":"#)
        o.string(r.access.rawValue)
        o.raw(#","mode":"#)
        o.string(r.mode.rawValue)
        o.raw(#","outcome":"#)
        o.string(r.outcome.rawValue)
        o.raw(#","si_code":"#)
        o.string(r.siCode?.rawValue)
        o.raw(#","lock":"#)
        lock(r.lock, &o)
        o.raw(#","handler":"#)
        o.string(r.handler)
        o.raw(#","anon_vma":"#)
        anonVMA(r.anonVMA, &o)
        o.raw(#","pte":{"before":"#)
        pte(r.pteBefore, &o)
        o.raw(#","after":"#)
        pte(r.pteAfter, &o)
        o.raw(#"},"folio":"#)
        folio(r.folio, &o)
        o.raw(#","vma":"#)
        if let v = r.vma { snapshot(v, &o) } else { o.raw("null") }
        o.raw(#","trace":["#)
        for (n, t) in r.trace.enumerated() {
            o.raw(n == 0 ? #"{"fn":"# : #",{"fn":"#)
            t.withFnUTF8 { o.string($0) }
            o.raw(#","note":"#)
            note(t.structuredNote, &o)
            o.append(UInt8(ascii: "}"))
        }
        o.append(UInt8(ascii: "]"))
        if !r.secondFault.isEmpty {
            o.raw(#","second_fault":["#)
            for (n, f) in r.secondFault.enumerated() {
                if n > 0 { o.append(UInt8(ascii: ",")) }
                write(f, into: &o)
            }
            o.append(UInt8(ascii: "]"))
        }
        o.append(UInt8(ascii: "}"))
    }

    /// A trace note as a JSON string: a template is rendered straight into
    /// the buffer (its text needs no escaping, see `TraceNote`).
    private static func note(_ n: TraceNote, _ o: inout JSONBuffer) {
        if let text = n.givenText { o.string(text); return }
        o.append(0x22)
        o.append(maxCount: n.maxUTF8Count) { n.render(into: $0) }
        o.append(0x22)
    }

    /// `"<prefix><id>"` (ids like "av3", "f12"), or null.
    private static func id(_ prefix: StaticString, _ id: Int?, _ o: inout JSONBuffer) {
        guard let id else { o.raw("null"); return }
        o.append(0x22)
        o.raw(prefix)
        o.int(Int64(id))
        o.append(0x22)
    }

    private static func lock(_ l: LockDecision?, _ o: inout JSONBuffer) {
        guard let l else { o.raw("null"); return }
        o.raw(#"{"path":"#)
        o.string(l.path.rawValue)
        o.raw(#","stat":"#)
        o.string(l.stat?.rawValue)
        o.raw(#","code":"#)
        o.string(l.code.rawValue)
        o.raw(#","reason":"#)
        o.string(l.code.reason)
        o.raw(#","steps":["#)
        for (n, s) in l.steps.enumerated() {
            o.raw(n == 0 ? #"{"fn":"# : #",{"fn":"#)
            o.string(s.fn)
            o.raw(#","result":"#)
            o.string(s.result)
            o.raw(#","reason":"#)
            o.string(s.reason)
            o.append(UInt8(ascii: "}"))
        }
        o.raw("]}")
    }

    private static func anonVMA(_ a: AnonVMAOutcome, _ o: inout JSONBuffer) {
        o.raw(#"{"action":"#)
        o.string(a.action.rawValue)
        o.raw(#","id":"#)
        id("av", a.id, &o)
        o.raw(#","from":"#)
        if let side = a.fromSide {
            o.raw(#"{"side":"#)
            o.string(side.rawValue)
            o.raw(#","vma":"#)
            o.string(a.fromVMA)
            o.append(UInt8(ascii: "}"))
        } else {
            o.raw("null")
        }
        o.raw(#","candidates":["#)
        for (n, c) in a.candidates.enumerated() {
            o.raw(n == 0 ? #"{"side":"# : #",{"side":"#)
            o.string(c.side.rawValue)
            o.raw(#","vma":"#)
            o.string(c.vma)
            o.raw(#","compatible":"#)
            o.bool(c.compatible)
            o.raw(#","anon_vma":"#)
            id("av", c.anonVMA, &o)
            o.raw(#","why":"#)
            o.string(c.why)
            o.append(UInt8(ascii: "}"))
        }
        o.raw("]}")
    }

    private static func pte(_ p: PTESnapshot, _ o: inout JSONBuffer) {
        o.raw(#"{"present":"#)
        o.bool(p.present)
        o.raw(#","writable":"#)
        o.bool(p.writable)
        o.raw(#","dirty":"#)
        o.bool(p.dirty)
        o.raw(#","guard":"#)
        o.bool(p.guardMarker)
        o.raw(#","folio":"#)
        id("f", p.folio, &o)
        o.append(UInt8(ascii: "}"))
    }

    private static func folio(_ f: FolioSnapshot?, _ o: inout JSONBuffer) {
        guard let f else { o.raw("null"); return }
        o.raw(#"{"id":"#)
        id("f", f.id, &o)
        o.raw(#","kind":"#)
        o.string(f.kind.rawValue)
        o.raw(#","anon":"#)
        o.bool(f.kind == .anon)
        o.raw(#","zero_page":"#)
        o.bool(f.kind == .zero)
        o.raw(#","mapcount":"#)
        o.int(Int64(f.mapcount))
        o.raw(#","anon_exclusive":"#)
        o.bool(f.anonExclusive)
        o.raw(#","anon_vma":"#)
        id("av", f.anonVMA, &o)
        o.raw(#","index":"#)
        o.int(Int64(bitPattern: f.index))
        o.raw(#","copied_from":"#)
        id("f", f.copiedFrom, &o)
        o.append(UInt8(ascii: "}"))
    }

    /// DTO.snapshot.
    private static func snapshot(_ s: VMASnapshot, _ o: inout JSONBuffer) {
        o.raw(#"{"start":"#)
        o.address(s.start)
        o.raw(#","end":"#)
        o.address(s.end)
        o.raw(#","perms":""#)
        o.append(s.flags.contains(.READ) ? UInt8(ascii: "r") : UInt8(ascii: "-"))
        o.append(s.flags.contains(.WRITE) ? UInt8(ascii: "w") : UInt8(ascii: "-"))
        o.append(s.flags.contains(.EXEC) ? UInt8(ascii: "x") : UInt8(ascii: "-"))
        o.append(s.flags.contains(.MAYSHARE) ? UInt8(ascii: "s") : UInt8(ascii: "p"))
        o.raw(#"","pgoff":"#)
        o.int(Int64(bitPattern: s.pgoff))
        o.raw(#","flags":["#)
        FlagNames.shared.write(s.flags, into: &o)
        o.raw(#"],"file_id":"#)
        if let f = s.fileID {
            o.raw(#""file"#)
            o.int(Int64(f))
            o.append(0x22)
        } else {
            o.raw("null")
        }
        o.raw(#","anon_vma":"#)
        id("av", s.anonVMA, &o)
        o.append(UInt8(ascii: "}"))
    }
}

/// `VMFlags.names` as JSON, precomputed: the quoted names side by side in
/// one byte array, and each flag's range in it.
final class FlagNames: Sendable {
    static let shared = FlagNames()
    private let bytes: [UInt8]
    private let entries: [(flag: UInt64, start: Int, end: Int)]

    private init() {
        var bytes: [UInt8] = []
        var entries: [(flag: UInt64, start: Int, end: Int)] = []
        for e in VMFlags.table {
            let start = bytes.count
            var one: [UInt8] = []
            JSONWriter.writeString(e.name, into: &one)
            bytes += one
            entries.append((e.flag.rawValue, start, bytes.count))
        }
        self.bytes = bytes
        self.entries = entries
    }

    /// Appends the names of the flags set in `flags`, comma-separated, in
    /// table order (the contents of DTO.flagNames' array).
    func write(_ flags: VMFlags, into o: inout JSONBuffer) {
        let raw = flags.rawValue
        var first = true
        bytes.withUnsafeBufferPointer { b in
            entries.withUnsafeBufferPointer { es in
                for e in es where raw & e.flag == e.flag {
                    if !first { o.append(UInt8(ascii: ",")) }
                    first = false
                    o.append(UnsafeBufferPointer(rebasing: b[e.start..<e.end]))
                }
            }
        }
    }
}
