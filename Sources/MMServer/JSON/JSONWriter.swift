/// Serialises JSONValue to compact UTF-8.
public enum JSONWriter {
    /// The compact encoding of `value`.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out)
        return out
    }

    /// Appends the encoding of `value` to `out`.
    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: writeRaw("null", into: &out)
        case let .bool(b): writeRaw(b ? "true" : "false", into: &out)
        case let .int(v): writeInt(v, into: &out)
        case let .double(d):
            if d.isFinite { out.append(contentsOf: String(d).utf8) } else { writeRaw("null", into: &out) }
        case let .string(s): writeString(s, into: &out)
        case let .array(items):
            out.append(UInt8(ascii: "["))
            for (n, v) in items.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .object(members):
            out.append(UInt8(ascii: "{"))
            for (n, (k, v)) in members.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Appends literal bytes (JSON punctuation, keys, `null`).
    @inline(__always)
    public static func writeRaw(_ s: StaticString, into out: inout [UInt8]) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// Appends a decimal integer, without an intermediate String.
    public static func writeInt(_ v: Int64, into out: inout [UInt8]) {
        if v >= 0 && v < 10 { out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v)); return }
        if v < 0 { out.append(UInt8(ascii: "-")) }
        var m = v.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var i = 20
            repeat {
                i -= 1
                buf[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: m % 10)
                m /= 10
            } while m > 0
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i...]))
        }
    }

    /// Appends `u` as a quoted lower-case 0x hex string (`JSONValue.addr`).
    public static func writeAddress(_ u: UInt64, into out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var i = 20
            i -= 1
            buf[i] = 0x22
            var m = u
            repeat {
                i -= 1
                buf[i] = hexDigits[Int(truncatingIfNeeded: m & 0xf)]
                m >>= 4
            } while m > 0
            buf[i - 3] = 0x22
            buf[i - 2] = UInt8(ascii: "0")
            buf[i - 1] = UInt8(ascii: "x")
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[(i - 3)...]))
        }
    }

    /// Appends a quoted, escaped string, copying runs of plain bytes at once.
    public static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        var s = s
        s.withUTF8 { bytes in
            var runStart = 0
            for i in 0..<bytes.count {
                let c = bytes[i]
                guard c < 0x20 || c == 0x22 || c == 0x5c else { continue }
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                runStart = i + 1
                switch c {
                case 0x22: out.append(0x5c); out.append(0x22)
                case 0x5c: out.append(0x5c); out.append(0x5c)
                case 0x0a: out.append(0x5c); out.append(UInt8(ascii: "n"))
                case 0x0d: out.append(0x5c); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(0x5c); out.append(UInt8(ascii: "t"))
                default:
                    out.append(contentsOf: [0x5c, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                    out.append(hexDigits[Int(c >> 4)])
                    out.append(hexDigits[Int(c & 0xf)])
                }
            }
            if runStart < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...])) }
        }
        out.append(0x22)
    }
}
