import MMCore
/// A line-oriented trace importer (strace, perf script): one or more events
/// per input line, plus whatever is still pending at the end.
public protocol TraceLineParser {
    /// Parses one line given as UTF-8 bytes (without the newline), appending
    /// its events. `number` is the 1-based line number reported in events.
    mutating func parse(line: UnsafeBufferPointer<UInt8>, number: Int, into events: inout [TraceEvent])
    /// Emits the events still pending when the input ends.
    mutating func finish(into events: inout [TraceEvent])
}

extension TraceLineParser {
    /// Parses one line (without its newline) given as a String.
    public mutating func parse(line: String, number: Int, into events: inout [TraceEvent]) {
        var copy = line
        copy.withUTF8 { parse(line: $0, number: number, into: &events) }
    }

    /// Parses a whole text (lines separated by `\n`), including `finish`.
    /// `bytesPerEvent` sizes the result array up front.
    public mutating func parseAll(_ text: String, bytesPerEvent: Int) -> [TraceEvent] {
        var events: [TraceEvent] = []
        events.reserveCapacity(text.utf8.count / bytesPerEvent)
        Scan.forEachLine(text) { line, number in parse(line: line, number: number, into: &events) }
        finish(into: &events)
        return events
    }
}
