import MMHTTP
/// A growable byte buffer that JSON is written into: appends are a capacity
/// check and a copy (no uniqueness check or call per append as with
/// `[UInt8]`), which matters for responses written piece by piece.
public struct JSONBuffer: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    /// Bytes written.
    public private(set) var count = 0
    private var capacity: Int

    /// An empty buffer with room for `capacity` bytes before it grows.
    public init(capacity: Int = 256) {
        self.capacity = max(16, capacity)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The bytes written, as an array.
    public consuming func bytes() -> [UInt8] {
        [UInt8](UnsafeBufferPointer(start: base, count: count))
    }

    /// Makes room for `n` more bytes.
    @inline(__always)
    mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private mutating func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let new = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        new.update(from: base, count: count)
        base.deallocate()
        base = new
        capacity = c
    }

    /// Appends one byte.
    @inline(__always)
    public mutating func append(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    /// Appends bytes.
    @inline(__always)
    public mutating func append(_ p: UnsafeBufferPointer<UInt8>) {
        guard let src = p.baseAddress, p.count > 0 else { return }
        reserve(p.count)
        (base + count).update(from: src, count: p.count)
        count += p.count
    }

    /// Appends the bytes of an array.
    public mutating func append(_ a: [UInt8]) {
        a.withUnsafeBufferPointer { append($0) }
    }

    /// Appends what `body` writes at the end of the buffer: at most
    /// `maxCount` bytes, and it returns how many it wrote.
    @inline(__always)
    public mutating func append(maxCount: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        reserve(maxCount)
        count += body(base + count)
    }

    /// Appends literal bytes (JSON punctuation, keys, `null`).
    @inline(__always)
    public mutating func raw(_ s: StaticString) {
        append(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends `true` or `false`.
    @inline(__always)
    public mutating func bool(_ b: Bool) { raw(b ? "true" : "false") }

    /// Appends a decimal integer.
    public mutating func int(_ v: Int64) {
        if v >= 0 && v < 10 { append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v)); return }
        reserve(20)
        if v < 0 { base[count] = UInt8(ascii: "-"); count += 1 }
        var m = v.magnitude
        var digits = 0
        var t = m
        repeat { digits += 1; t /= 10 } while t > 0
        var k = count + digits
        repeat {
            k -= 1
            base[k] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: m % 10)
            m /= 10
        } while m > 0
        count += digits
    }

    private static let hexDigits: StaticString = "0123456789abcdef"

    /// Appends `u` as a quoted lower-case 0x hex string (`JSONValue.addr`).
    public mutating func address(_ u: UInt64) {
        reserve(20)
        let digits = u == 0 ? 1 : (67 - u.leadingZeroBitCount) / 4
        base[count] = 0x22
        base[count + 1] = UInt8(ascii: "0")
        base[count + 2] = UInt8(ascii: "x")
        var k = count + 3 + digits
        base[k] = 0x22
        var m = u
        let hex = Self.hexDigits.utf8Start
        repeat {
            k -= 1
            base[k] = hex[Int(truncatingIfNeeded: m & 0xf)]
            m >>= 4
        } while m > 0
        count += digits + 4
    }

    /// Appends a quoted, escaped string.
    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { string($0) }
    }

    /// Appends a quoted, escaped string given as UTF-8.
    public mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) {
        append(0x22)
        var runStart = 0
        for i in 0..<bytes.count {
            let c = bytes[i]
            guard c < 0x20 || c == 0x22 || c == 0x5c else { continue }
            if runStart < i { append(UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
            runStart = i + 1
            switch c {
            case 0x22: raw("\\\"")
            case 0x5c: raw("\\\\")
            case 0x0a: raw("\\n")
            case 0x0d: raw("\\r")
            case 0x09: raw("\\t")
            default:
                raw("\\u00")
                let hex = Self.hexDigits.utf8Start
                append(hex[Int(c >> 4)])
                append(hex[Int(c & 0xf)])
            }
        }
        if runStart < bytes.count { append(UnsafeBufferPointer(rebasing: bytes[runStart...])) }
        append(0x22)
    }

    /// Appends a string, or `null`.
    public mutating func string(_ s: String?) {
        if let s { string(s) } else { raw("null") }
    }
}
