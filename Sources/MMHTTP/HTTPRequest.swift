/// An HTTP request method (RFC 9110 §9), kept as its exact token.
///
/// Methods are case-sensitive: `get` is not `GET`. Unknown but well-formed
/// tokens are allowed so handlers can answer 405/501 themselves.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The method token as sent on the request line, e.g. `"GET"`.
    public var rawValue: String

    /// Wraps a method token.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Wraps a method token given as a literal.
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The method token.
    public var description: String { rawValue }

    /// `GET`
    public static let get: HTTPMethod = "GET"
    /// `HEAD`
    public static let head: HTTPMethod = "HEAD"
    /// `POST`
    public static let post: HTTPMethod = "POST"
    /// `PUT`
    public static let put: HTTPMethod = "PUT"
    /// `PATCH`
    public static let patch: HTTPMethod = "PATCH"
    /// `DELETE`
    public static let delete: HTTPMethod = "DELETE"
    /// `OPTIONS`
    public static let options: HTTPMethod = "OPTIONS"
}

/// The HTTP protocol version of a request; only 1.0 and 1.1 are accepted by the parser.
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    /// Major version digit.
    public var major: Int
    /// Minor version digit.
    public var minor: Int

    /// Creates a version from its two digits.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// `HTTP/1.0`
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// `HTTP/1.1`
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// The wire form, e.g. `HTTP/1.1`.
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// An ordered list of header fields with case-insensitive name lookup.
///
/// Field order and the original spelling of names are preserved; repeated
/// fields are kept as separate entries.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The fields in the order they were received or added.
    public private(set) var fields: [(name: String, value: String)]

    /// Creates an empty header list.
    public init() { fields = [] }

    /// Creates a header list from `(name, value)` pairs, keeping their order.
    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    /// Creates a header list from a literal such as `["Content-Type": "text/plain"]`.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// Number of fields (repeated names count once each).
    public var count: Int { fields.count }

    /// Whether there are no fields.
    public var isEmpty: Bool { fields.isEmpty }

    /// The value of the first field named `name` (case-insensitive), or `nil`.
    public subscript(name: String) -> String? {
        for field in fields where asciiCaseInsensitiveEquals(field.name, name) { return field.value }
        return nil
    }

    /// All values of fields named `name` (case-insensitive), in order.
    public func values(for name: String) -> [String] {
        fields.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }

    /// Whether at least one field is named `name` (case-insensitive).
    public func contains(_ name: String) -> Bool {
        fields.contains { asciiCaseInsensitiveEquals($0.name, name) }
    }

    /// Whether any field named `name` contains `token` in its comma-separated
    /// list (both compared case-insensitively), e.g. `Connection: keep-alive, Upgrade`.
    public func containsToken(_ token: String, in name: String) -> Bool {
        for field in fields where asciiCaseInsensitiveEquals(field.name, name) {
            for part in field.value.split(separator: ",") where asciiCaseInsensitiveEquals(trimOWS(part), token) {
                return true
            }
        }
        return false
    }

    /// Appends a field, keeping any existing fields with the same name.
    public mutating func add(name: String, value: String) {
        fields.append((name: name, value: value))
    }

    /// Removes every field named `name`, then appends `name: value`.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    /// Reserves storage for `n` fields.
    mutating func reserveCapacity(_ n: Int) { fields.reserveCapacity(n) }

    /// Removes every field named `name` (case-insensitive).
    public mutating func remove(name: String) {
        fields.removeAll { asciiCaseInsensitiveEquals($0.name, name) }
    }

    /// Iterates the fields in order.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    /// `Name: value` lines joined by newlines, for debugging.
    public var description: String {
        fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }
}

/// One `name=value` pair of a query string, percent-decoded (`+` decodes to a space).
public struct HTTPQueryItem: Hashable, Sendable {
    /// The decoded name.
    public var name: String
    /// The decoded value; empty when the item had no `=`.
    public var value: String

    /// Creates a query item.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A fully received HTTP/1.x request.
public struct HTTPRequest: Sendable {
    /// The request method.
    public var method: HTTPMethod
    /// The path part of the request target, still percent-encoded (e.g. `/api/v1/procs`).
    /// For absolute-form targets the scheme and authority are stripped; for `OPTIONS *` it is `*`.
    public var path: String
    /// The raw query string after `?` (still encoded), or `nil` when the target had no `?`.
    public var query: String?
    /// The protocol version of the request.
    public var version: HTTPVersion
    /// The header fields in received order.
    public var headers: HTTPHeaders
    /// The decoded body bytes (de-chunked when sent with `Transfer-Encoding: chunked`).
    public var body: [UInt8]
    /// The peer's address in numeric form (`127.0.0.1`, `::1`); `-` when unknown
    /// (a request built in a test). Set by the server.
    public var clientAddress = "-"
    /// The body is not in ``body``: the handler's route declared that it
    /// takes the body as it arrives (``HTTPStreamingHandler``), so the
    /// request is handed over after its head and the body goes to a sink.
    public var bodyIsStreamed = false

    /// Creates a request; used by the parser and handy in handler tests.
    public init(method: HTTPMethod, path: String, query: String? = nil, version: HTTPVersion = .http1_1,
                headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// Creates a request from an origin-form target such as `/a/b?x=1`.
    public init(method: HTTPMethod, target: String, version: HTTPVersion = .http1_1,
                headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        if let mark = target.firstIndex(of: "?") {
            self.init(method: method, path: String(target[..<mark]), query: String(target[target.index(after: mark)...]),
                      version: version, headers: headers, body: body)
        } else {
            self.init(method: method, path: target, query: nil, version: version, headers: headers, body: body)
        }
    }

    /// The request target as it would appear on the request line (`path` plus `?query`).
    public var target: String {
        guard let query else { return path }
        return path + "?" + query
    }

    /// The path with percent-escapes decoded (`+` is kept literally), or `nil`
    /// when it contains a malformed escape or does not decode to UTF-8.
    public var decodedPath: String? { percentDecode(path, plusAsSpace: false) }

    /// The query items in order, percent-decoded; malformed escapes are kept literally.
    public var queryItems: [HTTPQueryItem] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let eq = pair.firstIndex(of: "=") {
                return HTTPQueryItem(name: lenientDecode(pair[..<eq]), value: lenientDecode(pair[pair.index(after: eq)...]))
            }
            return HTTPQueryItem(name: lenientDecode(pair), value: "")
        }
    }

    /// The decoded value of the first query item named `name`, or `nil`.
    public func queryValue(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// Whether the connection may be reused after this request (RFC 9112 §9.3):
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool {
        if version.major == 1 && version.minor >= 1 {
            return !headers.containsToken("close", in: "Connection")
        }
        return headers.containsToken("keep-alive", in: "Connection") && !headers.containsToken("close", in: "Connection")
    }
}

// MARK: - Small string helpers shared by the HTTP layer

/// ASCII case-insensitive equality, without allocating.
@inlinable
func asciiCaseInsensitiveEquals<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
    let au = a.utf8, bu = b.utf8
    guard au.count == bu.count else { return false }
    var bi = bu.makeIterator()
    for x in au {
        guard let y = bi.next() else { return false }
        if x != y {
            let lx = (x >= 65 && x <= 90) ? x | 0x20 : x
            let ly = (y >= 65 && y <= 90) ? y | 0x20 : y
            if lx != ly { return false }
        }
    }
    return true
}

/// Strips spaces and horizontal tabs from both ends.
func trimOWS<S: StringProtocol>(_ s: S) -> Substring {
    var sub = Substring(s)
    while let f = sub.first, f == " " || f == "\t" { sub.removeFirst() }
    while let l = sub.last, l == " " || l == "\t" { sub.removeLast() }
    return sub
}

@inline(__always)
func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// Strict percent-decoding into raw bytes; `nil` on a malformed `%` escape.
func percentDecodeBytes<S: StringProtocol>(_ s: S, plusAsSpace: Bool) -> [UInt8]? {
    let utf8 = Array(s.utf8)
    var out: [UInt8] = []
    out.reserveCapacity(utf8.count)
    var i = 0
    while i < utf8.count {
        let c = utf8[i]
        if c == UInt8(ascii: "%") {
            guard i + 2 < utf8.count, let hi = hexValue(utf8[i + 1]), let lo = hexValue(utf8[i + 2]) else { return nil }
            out.append(hi << 4 | lo)
            i += 3
        } else {
            out.append(plusAsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
            i += 1
        }
    }
    return out
}

/// Strict percent-decoding to a String; `nil` on a malformed escape or invalid UTF-8.
func percentDecode<S: StringProtocol>(_ s: S, plusAsSpace: Bool) -> String? {
    guard let bytes = percentDecodeBytes(s, plusAsSpace: plusAsSpace) else { return nil }
    let string = String(decoding: bytes, as: UTF8.self)
    // Decoding repairs invalid UTF-8 with U+FFFD; a round trip detects that.
    return string.utf8.elementsEqual(bytes) ? string : nil
}

/// Query-string decoding that never fails: malformed input is returned as-is.
private func lenientDecode(_ s: Substring) -> String {
    if !s.utf8.contains(UInt8(ascii: "%")) && !s.utf8.contains(UInt8(ascii: "+")) { return String(s) }
    return percentDecode(s, plusAsSpace: true) ?? String(s)
}

/// Byte-level HTTP/1.1 grammar shared by the parser (RFC 9110 / RFC 9112).
enum HTTPSyntax {
    /// tchar (RFC 9110 §5.6.2) as a 128-bit set.
    static let tokenSet: (UInt64, UInt64) = {
        var set: (UInt64, UInt64) = (0, 0)
        for c in "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8 {
            if c < 64 { set.0 |= 1 << UInt64(c) } else { set.1 |= 1 << UInt64(c - 64) }
        }
        return set
    }()

    @inline(__always)
    static func isTokenChar(_ c: UInt8) -> Bool {
        c < 64 ? (tokenSet.0 >> UInt64(c)) & 1 == 1 : c < 128 && (tokenSet.1 >> UInt64(c - 64)) & 1 == 1
    }

    static func string(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: p[lo..<hi]), as: UTF8.self)
    }

    @inline(__always)
    static func digit(_ c: UInt8) -> Int? {
        c >= 48 && c <= 57 ? Int(c - 48) : nil
    }

    /// `field-name ":" OWS field-value OWS`; `nil` if malformed.
    static func parseHeaderLine(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> (name: String, value: String)? {
        var i = lo
        while i < hi && isTokenChar(p[i]) { i += 1 }
        guard i > lo, i < hi, p[i] == UInt8(ascii: ":") else { return nil }  // also rejects obs-fold and "name :"
        let nameEnd = i
        i += 1
        while i < hi && (p[i] == 32 || p[i] == 9) { i += 1 }
        var end = hi
        while end > i && (p[end - 1] == 32 || p[end - 1] == 9) { end -= 1 }
        var j = i
        while j < end {
            let c = p[j]
            if (c < 0x20 && c != 9) || c == 0x7F { return nil }
            j += 1
        }
        return (string(p, lo, nameEnd), string(p, i, end))
    }

    static func parseContentLength(_ text: Substring) throws(HTTPParserError) -> Int {
        guard !text.isEmpty else { throw .invalidContentLength }
        var value = 0
        for c in text.utf8 {
            guard let d = digit(c) else { throw .invalidContentLength }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(d)
            if o1 || o2 { throw .bodyTooLarge }
            value = sum
        }
        return value
    }

    /// `chunk-size [ BWS ";" chunk-ext ]`, extensions ignored.
    static func parseChunkSize(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> Result<Int, HTTPParserError> {
        var i = lo
        var size = 0
        while i < hi, let h = hexValue(p[i]) {
            if size > (Int.max >> 4) { return .failure(.bodyTooLarge) }
            size = size << 4 | Int(h)
            i += 1
        }
        guard i > lo else { return .failure(.invalidChunkedEncoding) }
        while i < hi && (p[i] == 32 || p[i] == 9) { i += 1 }
        if i < hi {
            guard p[i] == UInt8(ascii: ";") else { return .failure(.invalidChunkedEncoding) }
            while i < hi {
                if (p[i] < 0x20 && p[i] != 9) || p[i] == 0x7F { return .failure(.invalidChunkedEncoding) }
                i += 1
            }
        }
        return .success(size)
    }
}
