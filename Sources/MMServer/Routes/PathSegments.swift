import MMHTTP
/// The non-empty `/`-separated segments of a request path, kept as UTF-8
/// offset ranges into it (no String or Substring per segment until one is
/// asked for), viewed from `start` on: routes peel off their prefix with
/// `dropFirst` and look at the rest.
struct PathSegments {
    private let path: String
    private let ranges: [Range<Int>]
    private let start: Int

    /// Splits `path` at `/` (the Character), omitting empty segments.
    init(_ path: String) {
        var path = path
        // An ASCII path is split by its bytes; a non-ASCII one by Characters
        // ("/" followed by a combining mark is not a separator).
        let ascii: [Range<Int>]? = path.withUTF8 { u in
            var ranges: [Range<Int>] = []
            ranges.reserveCapacity(8)
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
                ranges.append(i..<j)
                i = j
            }
            return ranges
        }
        let u = path.utf8
        let ranges = ascii ?? path.split(separator: "/", omittingEmptySubsequences: true).map {
            u.distance(from: u.startIndex, to: $0.startIndex)..<u.distance(from: u.startIndex, to: $0.endIndex)
        }
        self.init(path, ranges, 0)
    }

    private init(_ path: String, _ ranges: [Range<Int>], _ start: Int) {
        self.path = path
        self.ranges = ranges
        self.start = start
    }

    /// How many segments are left.
    var count: Int { ranges.count - start }

    /// The first segment left as a String, if any (route names are short:
    /// small strings, which compare with literals by their bits).
    var firstName: String? { start < ranges.count ? string(0) : nil }

    /// The `k`-th segment left.
    subscript(k: Int) -> Substring {
        let r = ranges[start + k], u = path.utf8
        return Substring(u[u.index(u.startIndex, offsetBy: r.lowerBound)..<u.index(u.startIndex, offsetBy: r.upperBound)])
    }

    /// The `k`-th segment left, as a String.
    func string(_ k: Int) -> String {
        let r = ranges[start + k]
        var path = path
        return path.withUTF8 { String(decoding: UnsafeBufferPointer(rebasing: $0[r]), as: UTF8.self) }
    }

    /// Calls `body` with the UTF-8 bytes of the `k`-th segment left.
    @inline(__always)
    func withBytes<T>(_ k: Int, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        let r = ranges[start + k]
        var path = path
        return path.withUTF8 { body(UnsafeBufferPointer(rebasing: $0[r])) }
    }

    /// The segments after the first `k`.
    func dropFirst(_ k: Int = 1) -> PathSegments { PathSegments(path, ranges, min(ranges.count, start + k)) }

    /// The segments left, joined by `separator`.
    func joined(separator: String) -> String { (0..<count).map { string($0) }.joined(separator: separator) }
}
