import MMCore
/// Field scanning for `PerfScriptParser`: the line header and the
/// `key=value` / `name: value` fields of tracepoints.
enum PerfFields {
    /// Fast path for perf's default layout: the first ": " ends the time
    /// stamp and the event name follows. (-1, -1) if the line differs.
    static func eventAfterTime(_ b: Bytes, _ from: Int, _ end: Int) -> (Int, Int) {
        var c = from
        while c + 1 < end, !(b[c] == Ch.colon && b[c + 1] == Ch.space) { c += 1 }
        guard c + 1 < end, c > from, Scan.isDigit(b[c - 1]) else { return (-1, -1) }
        var s = c - 1
        while s > from, Scan.isDigit(b[s - 1]) || b[s - 1] == Ch.dot { s -= 1 }
        guard s == from || Scan.isSpace(b[s - 1]) else { return (-1, -1) }
        var e = c + 1
        Scan.skipSpaces(b, &e, end)
        let start = e
        var colons = 0
        while e < end, !Scan.isSpace(b[e]) { if b[e] == Ch.colon { colons += 1 }; e += 1 }
        guard colons >= 2, b[e - 1] == Ch.colon, b[start] != Ch.colon else { return (-1, -1) }
        return (start, e - 1)
    }

    /// The next `key=value` field at `k`, advancing past it.
    @inline(__always)
    static func nextField(_ b: Bytes, _ k: inout Int, _ end: Int) -> (Range<Int>, Range<Int>)? {
        while k < end {
            Scan.skipSpaces(b, &k, end)
            let ks = k
            while k < end, b[k] != Ch.equal, !Scan.isSpace(b[k]) { k += 1 }
            guard k < end, b[k] == Ch.equal else { continue }
            let key = ks..<k
            k += 1
            let vs = k
            while k < end, !Scan.isSpace(b[k]) { k += 1 }
            return (key, vs..<k)
        }
        return nil
    }

    /// pid, tgid and time from the header before the event name, read from
    /// the right: `comm pid[/tid] [cpu] secs.usecs:`.
    static func header(_ b: Bytes, _ evStart: Int) -> (Int?, Int?, Double?) {
        var h = evStart
        func back() { while h > 0, Scan.isSpace(b[h - 1]) { h -= 1 } }
        func tokenStart() -> Int { var s = h; while s > 0, !Scan.isSpace(b[s - 1]) { s -= 1 }; return s }
        back()
        var time: Double?
        if h > 0, b[h - 1] == Ch.colon {
            let s = tokenStart()
            var k = s
            time = Scan.parseDecimal(b, &k, h - 1)
            if time != nil { h = s; back() }
        }
        if h > 0, b[h - 1] == Ch.rbracket {
            let s = tokenStart()
            if b[s] == Ch.lbracket { h = s; back() }
        }
        var s = tokenStart()
        guard s < h, let first = Scan.parseUInt(b, &s, h) else { return (nil, nil, time) }
        if s < h, b[s] == Ch.slash {
            s += 1
            if let tid = Scan.parseUInt(b, &s, h) { return (Int(tid), Int(first), time) }
        }
        return (Int(first), nil, time)
    }

    /// The value after `key` (e.g. "write=") up to the next blank.
    static func value(_ b: Bytes, _ f: Int, _ end: Int, _ key: StaticString) -> Range<Int>? {
        var at = f
        while let k = Scan.find(b, at, end, key) {
            if k == f || Scan.isSpace(b[k - 1]) {
                let s = k + key.utf8CodeUnitCount
                var e = s
                while e < end, !Scan.isSpace(b[e]) { e += 1 }
                return s..<e
            }
            at = k + 1
        }
        return nil
    }

    static func number(_ b: Bytes, _ r: Range<Int>?, hex: Bool = false) -> UInt64? {
        guard let r, !r.isEmpty else { return nil }
        if hex {
            var v: UInt64 = 0
            for i in r { guard let d = Scan.hexDigit(b[i]) else { return nil }; v = v << 4 | d }
            return r.count <= 16 ? v : nil
        }
        var i = r.lowerBound
        guard let v = Scan.parseInt(b, &i, r.upperBound), i == r.upperBound else { return nil }
        return UInt64(bitPattern: v)
    }

    static func flag(_ b: Bytes, _ r: Range<Int>?) -> Bool? {
        guard let r else { return nil }
        if Scan.has(b, r.lowerBound, r.upperBound, "true") { return true }
        if Scan.has(b, r.lowerBound, r.upperBound, "false") { return false }
        return nil
    }
}
