import MMCore

/// Writes a full fault response (api.md "Faults") straight to bytes: the
/// same bytes as `JSONWriter.encode(DTO.fault(r, summary: false))`, without
/// building the JSONValue tree (POST …/faults is the hottest route).
enum FaultJSON {
    static func write(_ r: FaultResult, into o: inout [UInt8]) {
        raw(r.fault ? #"{"fault":true,"address":"# : #"{"fault":false,"address":"#, &o)
        JSONWriter.writeAddress(r.address, into: &o)
        raw(#","access":"#, &o)
        JSONWriter.writeString(r.access.rawValue, into: &o)
        raw(#","mode":"#, &o)
        JSONWriter.writeString(r.mode.rawValue, into: &o)
        raw(#","outcome":"#, &o)
        JSONWriter.writeString(r.outcome.rawValue, into: &o)
        raw(#","si_code":"#, &o)
        string(r.siCode?.rawValue, &o)
        raw(#","lock":"#, &o)
        lock(r.lock, &o)
        raw(#","handler":"#, &o)
        string(r.handler, &o)
        raw(#","anon_vma":"#, &o)
        anonVMA(r.anonVMA, &o)
        raw(#","pte":{"before":"#, &o)
        pte(r.pteBefore, &o)
        raw(#","after":"#, &o)
        pte(r.pteAfter, &o)
        raw(#"},"folio":"#, &o)
        folio(r.folio, &o)
        raw(#","vma":"#, &o)
        if let v = r.vma { snapshot(v, &o) } else { raw("null", &o) }
        raw(#","trace":["#, &o)
        for (n, t) in r.trace.enumerated() {
            raw(n == 0 ? #"{"fn":"# : #",{"fn":"#, &o)
            JSONWriter.writeString(t.fn, into: &o)
            raw(#","note":"#, &o)
            JSONWriter.writeString(t.note, into: &o)
            o.append(UInt8(ascii: "}"))
        }
        o.append(UInt8(ascii: "]"))
        if !r.secondFault.isEmpty {
            raw(#","second_fault":["#, &o)
            for (n, f) in r.secondFault.enumerated() {
                if n > 0 { o.append(UInt8(ascii: ",")) }
                write(f, into: &o)
            }
            o.append(UInt8(ascii: "]"))
        }
        o.append(UInt8(ascii: "}"))
    }

    @inline(__always)
    private static func raw(_ s: StaticString, _ o: inout [UInt8]) { JSONWriter.writeRaw(s, into: &o) }

    private static func bool(_ b: Bool, _ o: inout [UInt8]) { raw(b ? "true" : "false", &o) }

    /// A string, or null.
    private static func string(_ s: String?, _ o: inout [UInt8]) {
        if let s { JSONWriter.writeString(s, into: &o) } else { raw("null", &o) }
    }

    /// `"<prefix><id>"` (ids like "av3", "f12"), or null.
    private static func id(_ prefix: StaticString, _ id: Int?, _ o: inout [UInt8]) {
        guard let id else { raw("null", &o); return }
        o.append(0x22)
        raw(prefix, &o)
        JSONWriter.writeInt(Int64(id), into: &o)
        o.append(0x22)
    }

    private static func lock(_ l: LockDecision?, _ o: inout [UInt8]) {
        guard let l else { raw("null", &o); return }
        raw(#"{"path":"#, &o)
        JSONWriter.writeString(l.path.rawValue, into: &o)
        raw(#","stat":"#, &o)
        string(l.stat?.rawValue, &o)
        raw(#","code":"#, &o)
        JSONWriter.writeString(l.code.rawValue, into: &o)
        raw(#","reason":"#, &o)
        string(l.code.reason, &o)
        raw(#","steps":["#, &o)
        for (n, s) in l.steps.enumerated() {
            raw(n == 0 ? #"{"fn":"# : #",{"fn":"#, &o)
            JSONWriter.writeString(s.fn, into: &o)
            raw(#","result":"#, &o)
            JSONWriter.writeString(s.result, into: &o)
            raw(#","reason":"#, &o)
            string(s.reason, &o)
            o.append(UInt8(ascii: "}"))
        }
        raw("]}", &o)
    }

    private static func anonVMA(_ a: AnonVMAOutcome, _ o: inout [UInt8]) {
        raw(#"{"action":"#, &o)
        JSONWriter.writeString(a.action.rawValue, into: &o)
        raw(#","id":"#, &o)
        id("av", a.id, &o)
        raw(#","from":"#, &o)
        if let side = a.fromSide {
            raw(#"{"side":"#, &o)
            JSONWriter.writeString(side.rawValue, into: &o)
            raw(#","vma":"#, &o)
            string(a.fromVMA, &o)
            o.append(UInt8(ascii: "}"))
        } else {
            raw("null", &o)
        }
        raw(#","candidates":["#, &o)
        for (n, c) in a.candidates.enumerated() {
            raw(n == 0 ? #"{"side":"# : #",{"side":"#, &o)
            JSONWriter.writeString(c.side.rawValue, into: &o)
            raw(#","vma":"#, &o)
            JSONWriter.writeString(c.vma, into: &o)
            raw(#","compatible":"#, &o)
            bool(c.compatible, &o)
            raw(#","anon_vma":"#, &o)
            id("av", c.anonVMA, &o)
            raw(#","why":"#, &o)
            JSONWriter.writeString(c.why, into: &o)
            o.append(UInt8(ascii: "}"))
        }
        raw("]}", &o)
    }

    private static func pte(_ p: PTESnapshot, _ o: inout [UInt8]) {
        raw(#"{"present":"#, &o)
        bool(p.present, &o)
        raw(#","writable":"#, &o)
        bool(p.writable, &o)
        raw(#","dirty":"#, &o)
        bool(p.dirty, &o)
        raw(#","guard":"#, &o)
        bool(p.guardMarker, &o)
        raw(#","folio":"#, &o)
        id("f", p.folio, &o)
        o.append(UInt8(ascii: "}"))
    }

    private static func folio(_ f: FolioSnapshot?, _ o: inout [UInt8]) {
        guard let f else { raw("null", &o); return }
        raw(#"{"id":"#, &o)
        id("f", f.id, &o)
        raw(#","kind":"#, &o)
        JSONWriter.writeString(f.kind.rawValue, into: &o)
        raw(#","anon":"#, &o)
        bool(f.kind == .anon, &o)
        raw(#","zero_page":"#, &o)
        bool(f.kind == .zero, &o)
        raw(#","mapcount":"#, &o)
        JSONWriter.writeInt(Int64(f.mapcount), into: &o)
        raw(#","anon_exclusive":"#, &o)
        bool(f.anonExclusive, &o)
        raw(#","anon_vma":"#, &o)
        id("av", f.anonVMA, &o)
        raw(#","index":"#, &o)
        JSONWriter.writeInt(Int64(bitPattern: f.index), into: &o)
        raw(#","copied_from":"#, &o)
        id("f", f.copiedFrom, &o)
        o.append(UInt8(ascii: "}"))
    }

    /// DTO.snapshot.
    private static func snapshot(_ s: VMASnapshot, _ o: inout [UInt8]) {
        raw(#"{"start":"#, &o)
        JSONWriter.writeAddress(s.start, into: &o)
        raw(#","end":"#, &o)
        JSONWriter.writeAddress(s.end, into: &o)
        raw(#","perms":""#, &o)
        o.append(s.flags.contains(.READ) ? UInt8(ascii: "r") : UInt8(ascii: "-"))
        o.append(s.flags.contains(.WRITE) ? UInt8(ascii: "w") : UInt8(ascii: "-"))
        o.append(s.flags.contains(.EXEC) ? UInt8(ascii: "x") : UInt8(ascii: "-"))
        o.append(s.flags.contains(.MAYSHARE) ? UInt8(ascii: "s") : UInt8(ascii: "p"))
        raw(#"","pgoff":"#, &o)
        JSONWriter.writeInt(Int64(bitPattern: s.pgoff), into: &o)
        raw(#","flags":["#, &o)
        var first = true
        for entry in VMFlags.table where s.flags.contains(entry.flag) {
            if !first { o.append(UInt8(ascii: ",")) }
            first = false
            JSONWriter.writeString(entry.name, into: &o)
        }
        raw(#"],"file_id":"#, &o)
        if let f = s.fileID {
            raw(#""file"#, &o)
            JSONWriter.writeInt(Int64(f), into: &o)
            o.append(0x22)
        } else {
            raw("null", &o)
        }
        raw(#","anon_vma":"#, &o)
        id("av", s.anonVMA, &o)
        o.append(UInt8(ascii: "}"))
    }
}
