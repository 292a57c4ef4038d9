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

/// Hex with 0x, as the API and the trace notes print addresses.
@inline(__always)
public func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
