/// The note of a trace step, kept as a template and its numbers until it is
/// written. Most notes of a fault are a fixed text with a few ids and
/// addresses in it: formatting them only when a response is written (once,
/// straight into its bytes) saves building and later freeing a String per
/// step, and keeps the session's result history free of them.
///
/// In a template, `%x` prints the next argument as `hex()` does (`0x…`),
/// `%d` in decimal; every other byte is copied. Templates are plain text:
/// no `"`, `\` or control characters, so their JSON needs no escaping.
public struct TraceNote: Sendable {
    enum Storage: Sendable {
        case text(String)
        case template(StaticString, UInt64, UInt64, UInt64)
    }
    let storage: Storage

    /// A note given as text.
    public init(_ text: String) { storage = .text(text) }

    /// A note from `template` with up to three arguments (see the type's doc).
    public init(_ template: StaticString, _ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0) {
        assert(template.withUTF8Buffer { !$0.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c } },
               "trace note templates are plain text")
        storage = .template(template, a, b, c)
    }

    /// The note as text.
    public var text: String {
        switch storage {
        case let .text(s):
            return s
        case .template:
            return String(unsafeUninitializedCapacity: maxUTF8Count) { render(into: $0.baseAddress!) }
        }
    }

    /// The note's text when it was given as text; nil for a template
    /// (write it with `maxUTF8Count` and `render(into:)`).
    public var givenText: String? {
        if case let .text(s) = storage { return s }
        return nil
    }

    /// An upper bound of the rendered template's length in bytes (each
    /// argument takes at most 20).
    public var maxUTF8Count: Int {
        switch storage {
        case let .text(s): s.utf8.count
        case let .template(t, _, _, _): t.utf8CodeUnitCount + 3 * 20
        }
    }

    /// Writes the rendered template (UTF-8, no quotes) at `out`, which has
    /// room for `maxUTF8Count` bytes; returns the bytes written. Text notes
    /// are copied as they are.
    public func render(into out: UnsafeMutablePointer<UInt8>) -> Int {
        switch storage {
        case var .text(s):
            return s.withUTF8 { u in
                out.update(from: u.baseAddress!, count: u.count)
                return u.count
            }
        case let .template(t, a, b, c):
            return t.withUTF8Buffer { bytes in
                var n = 0, arg = 0, i = 0
                while i < bytes.count {
                    let ch = bytes[i]
                    if ch == UInt8(ascii: "%"), i + 1 < bytes.count,
                       bytes[i + 1] == UInt8(ascii: "x") || bytes[i + 1] == UInt8(ascii: "d") {
                        let v = arg == 0 ? a : arg == 1 ? b : c
                        arg += 1
                        n += bytes[i + 1] == UInt8(ascii: "x") ? writeHex(v, out + n) : writeDecimal(v, out + n)
                        i += 2
                    } else {
                        out[n] = ch
                        n += 1
                        i += 1
                    }
                }
                return n
            }
        }
    }
}

/// Writes `0x` and the lower-case hex digits of `v` at `out` (as `hex()`); returns the count.
@inline(__always)
func writeHex(_ v: UInt64, _ out: UnsafeMutablePointer<UInt8>) -> Int {
    let digits = v == 0 ? 1 : (67 - v.leadingZeroBitCount) / 4
    out[0] = UInt8(ascii: "0")
    out[1] = UInt8(ascii: "x")
    var x = v
    var i = 1 + digits
    while i > 1 {
        let d = UInt8(truncatingIfNeeded: x & 0xF)
        out[i] = d < 10 ? 48 + d : 87 + d
        x >>= 4
        i -= 1
    }
    return digits + 2
}

/// Writes the decimal digits of `v` at `out` (as `"\(v)"`); returns the count.
@inline(__always)
func writeDecimal(_ v: UInt64, _ out: UnsafeMutablePointer<UInt8>) -> Int {
    var digits = 1
    var t = v
    while t >= 10 { digits += 1; t /= 10 }
    var m = v
    var k = digits
    repeat {
        k -= 1
        out[k] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: m % 10)
        m /= 10
    } while m > 0
    return digits
}
