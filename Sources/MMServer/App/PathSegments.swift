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
        var path = path
        let bounds: [(Int, Int)]? = path.withUTF8 { u in
            var bounds: [(Int, Int)] = []
            bounds.reserveCapacity(8)
            var i = 0
            while i < u.count {
                let c = u[i]
                if c >= 0x80 { return nil }
                if c == UInt8(ascii: "/") { i += 1; continue }
                var j = i + 1
                while j < u.count && u[j] != UInt8(ascii: "/") {
                    if u[j] >= 0x80 { return nil }
                    j += 1
                }
                bounds.append((i, j))
                i = j
            }
            return bounds
        }
        guard let bounds else {
            self.init(path.split(separator: "/", omittingEmptySubsequences: true), 0)
            return
        }
        let u = path.utf8
        self.init(bounds.map { (a, b) in Substring(u[u.index(u.startIndex, offsetBy: a)..<u.index(u.startIndex, offsetBy: b)]) }, 0)
    }

    private init(_ parts: [Substring], _ start: Int) {
        self.parts = parts
        self.start = start
    }

    /// How many segments are left.
    var count: Int { parts.count - start }

    /// The first segment left, if any.
    var first: Substring? { start < parts.count ? parts[start] : nil }

    /// The first segment left as a String (route names are short: small
    /// strings, which compare with literals by their bits).
    var firstName: String? { start < parts.count ? String(parts[start]) : nil }

    /// The `k`-th segment left.
    subscript(k: Int) -> Substring { parts[start + k] }

    /// The segments after the first `k`.
    func dropFirst(_ k: Int = 1) -> PathSegments { PathSegments(parts, min(parts.count, start + k)) }

    /// The segments left, joined by `separator`.
    func joined(separator: String) -> String { parts[start...].joined(separator: separator) }
}
