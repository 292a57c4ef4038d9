import MMCore
/// Byte-level scanning shared by the trace importers. Everything works on
/// the UTF-8 bytes of one line, without regular expressions or Foundation.
typealias Bytes = UnsafeBufferPointer<UInt8>

/// ASCII byte values used by the scanners.
enum Ch {
    @inline(__always) static var space: UInt8 { 0x20 }
    @inline(__always) static var tab: UInt8 { 0x09 }
    @inline(__always) static var cr: UInt8 { 0x0D }
    @inline(__always) static var nl: UInt8 { 0x0A }
    @inline(__always) static var quote: UInt8 { 0x22 }
    @inline(__always) static var backslash: UInt8 { 0x5C }
    @inline(__always) static var comma: UInt8 { 0x2C }
    @inline(__always) static var lparen: UInt8 { 0x28 }
    @inline(__always) static var rparen: UInt8 { 0x29 }
    @inline(__always) static var lbracket: UInt8 { 0x5B }
    @inline(__always) static var rbracket: UInt8 { 0x5D }
    @inline(__always) static var lbrace: UInt8 { 0x7B }
    @inline(__always) static var rbrace: UInt8 { 0x7D }
    @inline(__always) static var lt: UInt8 { 0x3C }
    @inline(__always) static var gt: UInt8 { 0x3E }
    @inline(__always) static var colon: UInt8 { 0x3A }
    @inline(__always) static var dot: UInt8 { 0x2E }
    @inline(__always) static var minus: UInt8 { 0x2D }
    @inline(__always) static var plus: UInt8 { 0x2B }
    @inline(__always) static var equal: UInt8 { 0x3D }
    @inline(__always) static var pipe: UInt8 { 0x7C }
    @inline(__always) static var slash: UInt8 { 0x2F }
    @inline(__always) static var star: UInt8 { 0x2A }
    @inline(__always) static var question: UInt8 { 0x3F }
    @inline(__always) static var zero: UInt8 { 0x30 }
    @inline(__always) static var x: UInt8 { 0x78 }
    @inline(__always) static var X: UInt8 { 0x58 }
    @inline(__always) static var underscore: UInt8 { 0x5F }
}

/// Stateless helpers over `Bytes`.
enum Scan {
    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- Ch.zero < 10 }
    @inline(__always) static func isSpace(_ c: UInt8) -> Bool { c == Ch.space || c == Ch.tab }
    @inline(__always) static func isUpper(_ c: UInt8) -> Bool { c &- 0x41 < 26 }
    @inline(__always) static func isIdent(_ c: UInt8) -> Bool {
        (c | 0x20) &- 0x61 < 26 || c &- Ch.zero < 10 || c == Ch.underscore
    }

    @inline(__always) static func hexDigit(_ c: UInt8) -> UInt64? {
        if c &- Ch.zero < 10 { return UInt64(c &- Ch.zero) }
        let l = c | 0x20
        if l &- 0x61 < 6 { return UInt64(l &- 0x61 &+ 10) }
        return nil
    }

    /// FNV-1a hash of `b[r]`, used to look names up without making Strings.
    @inline(__always) static func hash(_ b: Bytes, _ r: Range<Int>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in r { h = (h ^ UInt64(b[i])) &* 0x100_0000_01b3 }
        return h
    }

    /// FNV-1a hash of a String's UTF-8 bytes.
    static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in s.utf8 { h = (h ^ UInt64(c)) &* 0x100_0000_01b3 }
        return h
    }

    static func string(_ b: Bytes, _ r: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self)
    }

    @inline(__always) static func skipSpaces(_ b: Bytes, _ i: inout Int, _ end: Int) {
        while i < end, isSpace(b[i]) { i += 1 }
    }

    /// `r` without leading and trailing blanks.
    static func trim(_ b: Bytes, _ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi, isSpace(b[lo]) { lo += 1 }
        while hi > lo, isSpace(b[hi - 1]) || b[hi - 1] == Ch.cr || b[hi - 1] == Ch.nl { hi -= 1 }
        return lo..<hi
    }

    /// Whether `b` holds `lit` at `i`.
    static func has(_ b: Bytes, _ i: Int, _ end: Int, _ lit: StaticString) -> Bool {
        let n = lit.utf8CodeUnitCount
        guard i >= 0, i + n <= end else { return false }
        let p = lit.utf8Start
        for k in 0..<n where b[i + k] != p[k] { return false }
        return true
    }

    /// Index of the first `lit` in `b[from..<end]`.
    static func find(_ b: Bytes, _ from: Int, _ end: Int, _ lit: StaticString) -> Int? {
        let n = lit.utf8CodeUnitCount
        guard n > 0, end - from >= n else { return nil }
        let first = lit.utf8Start[0]
        var i = from
        while i + n <= end {
            if b[i] == first, has(b, i, end, lit) { return i }
            i += 1
        }
        return nil
    }

    /// Parses an unsigned number at `i` ("0x1f", "31", "017" octal) and
    /// advances past it.
    static func parseUInt(_ b: Bytes, _ i: inout Int, _ end: Int) -> UInt64? {
        guard i < end, isDigit(b[i]) else { return nil }
        var v: UInt64 = 0
        if b[i] == Ch.zero, i + 1 < end, b[i + 1] | 0x20 == Ch.x {
            var j = i + 2
            let start = j
            while j < end, let d = hexDigit(b[j]) { v = v &<< 4 | d; j += 1 }
            guard j > start, j - start <= 16 else { return nil }
            i = j
            return v
        }
        let octal = b[i] == Ch.zero
        var j = i
        var overflow = false
        while j < end, isDigit(b[j]) {
            let d = UInt64(b[j] &- Ch.zero)
            if octal {
                if d > 7 { return nil }
                v = v &<< 3 | d
            } else {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(d)
                overflow = overflow || o1 || o2
                v = s
            }
            j += 1
        }
        if overflow { return nil }
        i = j
        return v
    }

    /// Parses an optionally negative number; negative values come back as
    /// two's complement.
    static func parseInt(_ b: Bytes, _ i: inout Int, _ end: Int) -> Int64? {
        var j = i
        let negative = j < end && b[j] == Ch.minus
        if negative { j += 1 }
        guard let u = parseUInt(b, &j, end) else { return nil }
        i = j
        return negative ? 0 &- Int64(bitPattern: u) : Int64(bitPattern: u)
    }

    /// Parses "123.456" (digits, optional fraction) as a Double. Up to 15
    /// significant digits the result is the correctly rounded value, equal to
    /// the Swift literal with the same digits.
    static func parseDecimal(_ b: Bytes, _ i: inout Int, _ end: Int) -> Double? {
        var j = i
        var mantissa: UInt64 = 0, digits = 0, scale = 0
        var whole = true
        while j < end {
            let c = b[j]
            if isDigit(c) {
                if digits < 18 {
                    mantissa = mantissa &* 10 &+ UInt64(c &- Ch.zero)
                    digits += 1
                    if !whole { scale += 1 }
                } else if whole {
                    scale -= 1  // too many integer digits: scale up at the end
                }
            } else if c == Ch.dot, whole, j > i {
                whole = false
            } else {
                break
            }
            j += 1
        }
        guard j > i, isDigit(b[i]) else { return nil }
        i = j
        var p = 1.0  // 10^|scale|, exact up to 10^22
        for _ in 0..<min(abs(scale), 22) { p *= 10 }
        return scale >= 0 ? Double(mantissa) / p : Double(mantissa) * p
    }

    /// Decodes a C-style quoted string starting at the opening quote;
    /// advances past the closing quote. Handles \n \t \" \\ \NNN \xNN.
    static func parseQuoted(_ b: Bytes, _ i: inout Int, _ end: Int) -> String? {
        guard i < end, b[i] == Ch.quote else { return nil }
        var j = i + 1
        while j < end, b[j] != Ch.quote, b[j] != Ch.backslash { j += 1 }
        if j < end, b[j] == Ch.quote {  // no escapes
            let s = string(b, (i + 1)..<j)
            i = j + 1
            return s
        }
        j = i + 1
        var out: [UInt8] = []
        out.reserveCapacity(64)
        while j < end {
            let c = b[j]
            if c == Ch.quote { i = j + 1; return String(decoding: out, as: UTF8.self) }
            if c != Ch.backslash { out.append(c); j += 1; continue }
            j += 1
            guard j < end else { return nil }
            let e = b[j]
            switch e {
            case 0x6E: out.append(Ch.nl); j += 1
            case 0x74: out.append(Ch.tab); j += 1
            case 0x72: out.append(Ch.cr); j += 1
            case 0x76: out.append(0x0B); j += 1
            case 0x66: out.append(0x0C); j += 1
            case Ch.x:
                var v: UInt64 = 0, k = j + 1
                while k < end, k < j + 3, let d = hexDigit(b[k]) { v = v << 4 | d; k += 1 }
                out.append(UInt8(truncatingIfNeeded: v)); j = k
            case Ch.zero...0x37:
                var v: UInt64 = 0, k = j
                while k < end, k < j + 3, b[k] &- Ch.zero < 8 { v = v << 3 | UInt64(b[k] &- Ch.zero); k += 1 }
                out.append(UInt8(truncatingIfNeeded: v)); j = k
            default: out.append(e); j += 1
            }
        }
        return nil
    }

    /// Calls `body` with each line of `text` (without its `\n`) and its
    /// 1-based number.
    static func forEachLine(_ text: String, _ body: (Bytes, Int) -> Void) {
        var copy = text
        copy.withUTF8 { all in
            var start = 0, number = 1
            while start < all.count {
                var end = start
                while end < all.count, all[end] != Ch.nl { end += 1 }
                body(UnsafeBufferPointer(rebasing: all[start..<end]), number)
                start = end + 1
                number += 1
            }
        }
    }
}
