import MMHTTP

/// How JSON answers are written: compact and newline-terminated by
/// default; indented for people with `?pretty` (any value but `0` or
/// `false`) or `Accept: application/json; indent`.
enum JSONStyle: Equatable {
    case compact, pretty

    /// The style `request` asks for.
    init(_ request: HTTPRequest) {
        if request.query != nil, let v = request.queryValue("pretty"), v != "0", v != "false" {
            self = .pretty
        } else if let accept = request.headers["Accept"], accept.contains("indent") {
            self = .pretty
        } else {
            self = .compact
        }
    }

    /// `response` with its JSON body indented (other bodies unchanged).
    static func indented(_ response: HTTPResponse) -> HTTPResponse {
        guard case let .bytes(b) = response.body, response.headers["Content-Type"]?.hasPrefix("application/json") == true,
              let value = try? JSONParser.parse(b) else { return response }
        var out = response
        var text = JSONOutput.pretty(value)
        text.append(UInt8(ascii: "\n"))
        out.body = .bytes(text)
        return out
    }
}

/// The bytes of a JSON answer.
enum JSONOutput {
    /// Compact, newline-terminated.
    static func encode(_ value: JSONValue) -> [UInt8] {
        var out = JSONBuffer(capacity: 256)
        JSONWriter.write(value, into: &out)
        out.append(UInt8(ascii: "\n"))
        return out.bytes()
    }

    /// Indented by two spaces, members one per line (no trailing newline).
    static func pretty(_ value: JSONValue) -> [UInt8] {
        var out = JSONBuffer(capacity: 1024)
        write(value, depth: 0, into: &out)
        return out.bytes()
    }

    private static func newline(_ depth: Int, _ out: inout JSONBuffer) {
        out.append(UInt8(ascii: "\n"))
        for _ in 0..<depth { out.raw("  ") }
    }

    private static func write(_ value: JSONValue, depth: Int, into out: inout JSONBuffer) {
        switch value {
        case let .array(items) where !items.isEmpty:
            out.append(UInt8(ascii: "["))
            for (n, v) in items.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1, &out)
                write(v, depth: depth + 1, into: &out)
            }
            newline(depth, &out)
            out.append(UInt8(ascii: "]"))
        case let .object(members) where !members.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (n, (k, v)) in members.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1, &out)
                out.string(k)
                out.raw(": ")
                write(v, depth: depth + 1, into: &out)
            }
            newline(depth, &out)
            out.append(UInt8(ascii: "}"))
        default:
            JSONWriter.write(value, into: &out)
        }
    }
}
