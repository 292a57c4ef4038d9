/// The request line and header (or trailer) lines: reading a line out of the
/// buffer, charging it to the head's byte budget, and the syntax of
/// `method SP request-target SP HTTP/x.y`.
extension HTTPParser {
    /// Consumes one line; returns its content range (terminator excluded) and whether it ended in CRLF.
    mutating func readLine() -> (lo: Int, hi: Int, crlf: Bool)? {
        let n = buffer.count
        let from = start + scanned
        let lf: Int? = buffer.withUnsafeBufferPointer { p in
            var i = from
            while i < n {
                if p[i] == 10 { return i }
                i += 1
            }
            return nil
        }
        guard let lf else {
            scanned = n - start
            return nil
        }
        let lo = start
        var hi = lf
        var crlf = false
        if hi > lo && buffer[hi - 1] == 13 {
            hi -= 1
            crlf = true
        }
        start = lf + 1
        scanned = 0
        return (lo, hi, crlf)
    }

    /// Reads one header or trailer line, charging it to the section's byte budget.
    mutating func sectionLine() throws(HTTPParserError) -> (lo: Int, hi: Int, crlf: Bool)? {
        let lineStart = start
        guard let line = readLine() else {
            if sectionBytes + buffer.count - start > limits.maxHeaderBytes { throw .headersTooLarge }
            return nil
        }
        sectionBytes += start - lineStart
        if sectionBytes > limits.maxHeaderBytes { throw .headersTooLarge }
        return line
    }

    // MARK: - Syntax

    /// `method SP request-target SP HTTP/x.y`, single spaces only.
    static func parseRequestLine(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> Result<Head, HTTPParserError> {
        var i = lo
        while i < hi && HTTPSyntax.isTokenChar(p[i]) { i += 1 }
        guard i > lo, i < hi, p[i] == UInt8(ascii: " ") else { return .failure(.invalidRequestLine) }
        let methodEnd = i
        i += 1
        let targetStart = i
        var queryMark: Int?
        while i < hi && p[i] > 0x20 && p[i] < 0x7F && p[i] != UInt8(ascii: "#") {
            if queryMark == nil && p[i] == UInt8(ascii: "?") { queryMark = i }
            i += 1
        }
        guard i > targetStart, i < hi, p[i] == UInt8(ascii: " ") else { return .failure(.invalidRequestLine) }
        let targetEnd = i
        i += 1
        // HTTP-version = "HTTP/" DIGIT "." DIGIT
        guard hi - i == 8, p[i] == 72, p[i + 1] == 84, p[i + 2] == 84, p[i + 3] == 80, p[i + 4] == 47,
              p[i + 6] == 46, let major = HTTPSyntax.digit(p[i + 5]), let minor = HTTPSyntax.digit(p[i + 7]) else {
            return .failure(.invalidRequestLine)
        }
        guard major == 1, minor <= 1 else { return .failure(.unsupportedVersion) }

        let method = HTTPMethod(rawValue: HTTPSyntax.string(p, lo, methodEnd))
        let pathEnd = queryMark ?? targetEnd
        let path: String
        if p[targetStart] == UInt8(ascii: "/") {
            path = HTTPSyntax.string(p, targetStart, pathEnd)
        } else if targetEnd - targetStart == 1 && p[targetStart] == UInt8(ascii: "*") {
            guard method == .options else { return .failure(.invalidRequestLine) }
            path = "*"
        } else {
            // absolute-form: ("http" / "https") "://" authority [path-abempty]
            var k = targetStart
            while k < pathEnd && p[k] != UInt8(ascii: ":") { k += 1 }
            let scheme = HTTPSyntax.string(p, targetStart, k).lowercased()
            guard scheme == "http" || scheme == "https", k + 3 <= pathEnd,
                  p[k + 1] == UInt8(ascii: "/"), p[k + 2] == UInt8(ascii: "/") else {
                return .failure(.invalidRequestLine)
            }
            k += 3
            while k < pathEnd && p[k] != UInt8(ascii: "/") { k += 1 }
            path = k < pathEnd ? HTTPSyntax.string(p, k, pathEnd) : "/"
        }
        let query = queryMark.map { HTTPSyntax.string(p, $0 + 1, targetEnd) }
        var headers = HTTPHeaders()
        headers.reserveCapacity(8)
        return .success(Head(method: method, path: path, query: query,
                             version: HTTPVersion(major: major, minor: minor), headers: headers))
    }
}
