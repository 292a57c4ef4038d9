/// One step of an operation's explanation: the kernel function modelled and
/// what it decided.
public struct TraceStep: Sendable, Equatable, Codable {
    public var fn: String
    public var note: String
    public init(fn: String, note: String) {
        self.fn = fn
        self.note = note
    }
}

/// Collects trace steps for the operation in progress. Disabled in summary
/// mode so that notes are never built.
public struct Tracer {
    public var enabled: Bool
    public private(set) var steps: [TraceStep] = []

    public init(enabled: Bool = true) { self.enabled = enabled }

    /// Appends a step; `note` is only evaluated when tracing is on.
    @inline(__always)
    public mutating func step(_ fn: StaticString, _ note: @autoclosure () -> String) {
        if enabled { steps.append(TraceStep(fn: "\(fn)", note: note())) }
    }

    /// Returns and clears the collected steps.
    public mutating func take() -> [TraceStep] {
        defer { steps = [] }
        return steps
    }
}

/// Hex with 0x, as the API and the trace notes print addresses
/// (lower case, no leading zeros: the same text as `"0x" + String(v, radix: 16)`).
public func hex(_ v: UInt64) -> String {
    String(unsafeUninitializedCapacity: 18) { hexDigits(v, into: $0, at: 0) }
}

/// `0x` and the hex digits of `v` for `low-high`, as trace notes print address ranges.
public func hexRange(_ low: UInt64, _ high: UInt64) -> String {
    String(unsafeUninitializedCapacity: 37) { buffer in
        let n = hexDigits(low, into: buffer, at: 0)
        buffer[n] = UInt8(ascii: "-")
        return hexDigits(high, into: buffer, at: n + 1) + n + 1
    }
}

/// Writes `0x` and the digits of `v` at `offset`; returns the bytes written (at most 18).
@inline(__always)
private func hexDigits(_ v: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) -> Int {
    let digits = v == 0 ? 1 : (67 - v.leadingZeroBitCount) / 4
    buffer[offset] = UInt8(ascii: "0")
    buffer[offset + 1] = UInt8(ascii: "x")
    var x = v
    var i = offset + 1 + digits
    while i > offset + 1 {
        let d = UInt8(truncatingIfNeeded: x & 0xF)
        buffer[i] = d < 10 ? 48 + d : 87 + d
        x >>= 4
        i -= 1
    }
    return digits + 2
}
