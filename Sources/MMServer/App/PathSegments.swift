/// The non-empty `/`-separated segments of a request path, as substrings of
/// it (no String per segment), viewed from `start` on: routes peel off
/// their prefix with `dropFirst` and compare the rest in place.
struct PathSegments {
    private let parts: [Substring]
    private let start: Int

    /// Splits `path` at `/` (the Character), omitting empty segments.
    init(_ path: String) {
        // An ASCII path is split by its bytes; a non-ASCII one by Characters
        // ("/" followed by a combining mark is not a separator).
        guard path.utf8.allSatisfy({ $0 < 0x80 }) else {
            self.init(path.split(separator: "/", omittingEmptySubsequences: true), 0)
            return
        }
        var parts: [Substring] = []
        parts.reserveCapacity(8)
        let u = path.utf8
        var i = u.startIndex
        while i != u.endIndex {
            guard u[i] != UInt8(ascii: "/") else { i = u.index(after: i); continue }
            var j = u.index(after: i)
            while j != u.endIndex && u[j] != UInt8(ascii: "/") { j = u.index(after: j) }
            parts.append(path[i..<j])
            i = j
        }
        self.init(parts, 0)
    }

    private init(_ parts: [Substring], _ start: Int) {
        self.parts = parts
        self.start = start
    }

    /// How many segments are left.
    var count: Int { parts.count - start }

    /// The first segment left, if any.
    var first: Substring? { start < parts.count ? parts[start] : nil }

    /// The `k`-th segment left.
    subscript(k: Int) -> Substring { parts[start + k] }

    /// The segments after the first `k`.
    func dropFirst(_ k: Int = 1) -> PathSegments { PathSegments(parts, min(parts.count, start + k)) }

    /// The segments left, joined by `separator`.
    func joined(separator: String) -> String { parts[start...].joined(separator: separator) }
}
