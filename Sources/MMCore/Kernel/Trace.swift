/// One step of an operation's explanation: the kernel function modelled and
/// what it decided. The simulator's steps keep the function name as a
/// literal and the note as a template (`TraceNote`): neither becomes a
/// String unless asked for (`fn`, `note`).
public struct TraceStep: Sendable, Equatable, Codable {
    /// The function name: a literal, or text given at run time.
    enum Name: Sendable {
        case literal(StaticString)
        case text(String)
    }
    private let name: Name
    /// The note, as the simulator recorded it.
    public let structuredNote: TraceNote

    /// A step given as text (decoded from JSON, or built by callers outside the simulator).
    public init(fn: String, note: String) {
        name = .text(fn)
        structuredNote = TraceNote(note)
    }

    /// A step with a literal function name.
    public init(_ fn: StaticString, _ note: TraceNote) {
        name = .literal(fn)
        structuredNote = note
    }

    /// The kernel function.
    public var fn: String {
        switch name {
        case let .literal(s): "\(s)"
        case let .text(s): s
        }
    }

    /// What it decided.
    public var note: String { structuredNote.text }

    /// Calls `body` with the UTF-8 of `fn` (without building a String for a literal).
    public func withFnUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        switch name {
        case let .literal(s): return s.withUTF8Buffer(body)
        case var .text(s): return s.withUTF8(body)
        }
    }

    public static func == (a: TraceStep, b: TraceStep) -> Bool { a.fn == b.fn && a.note == b.note }

    private enum CodingKeys: String, CodingKey { case fn, note }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(fn: try c.decode(String.self, forKey: .fn), note: try c.decode(String.self, forKey: .note))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(fn, forKey: .fn)
        try c.encode(note, forKey: .note)
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
        if enabled { steps.append(TraceStep(fn, TraceNote(note()))) }
    }

    /// Appends a step with a templated note, only evaluated when tracing is on.
    @inline(__always)
    public mutating func step(_ fn: StaticString, _ note: @autoclosure () -> TraceNote) {
        if enabled { steps.append(TraceStep(fn, note())) }
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
    String(unsafeUninitializedCapacity: 18) { writeHex(v, $0.baseAddress!) }
}

/// `0x` and the hex digits of `v` for `low-high`, as trace notes print address ranges.
public func hexRange(_ low: UInt64, _ high: UInt64) -> String {
    String(unsafeUninitializedCapacity: 37) { buffer in
        let p = buffer.baseAddress!
        let n = writeHex(low, p)
        p[n] = UInt8(ascii: "-")
        return writeHex(high, p + n + 1) + n + 1
    }
}
