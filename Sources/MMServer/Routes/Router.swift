import MMHTTP

/// Matches a request's method and path to a `Route` of the table: a tree
/// of path segments built once from the patterns, walked segment by
/// segment comparing bytes (no String per literal segment).
///
/// A path that matches a pattern but not its method is a 405 whose
/// `Allow` lists the pattern's methods (HEAD wherever GET is); a path that
/// matches no pattern is a 404. HEAD is answered as GET.
final class Router: Sendable {
    /// One node per pattern prefix, read-only once built: its properties
    /// are constants, so walking the tree makes no exclusivity check (a
    /// `var` of a class costs one per read, ~80 instructions).
    private final class Node: @unchecked Sendable {
        /// Literal children: the segment's bytes and the node.
        let literals: [(bytes: [UInt8], node: Node)]
        /// The parameter child (`{sid}`, `{pid}`, `{name}`), if any.
        let parameter: (name: String, node: Node)?
        /// Routes ending here, by method.
        let routes: [Route]

        init(_ b: Builder) {
            literals = b.literals.map { ($0.bytes, Node($0.node)) }
            parameter = b.parameter.map { ($0.name, Node($0.node)) }
            routes = b.routes
        }
    }

    /// A node while the table is read into the tree.
    private final class Builder {
        var literals: [(bytes: [UInt8], node: Builder)] = []
        var parameter: (name: String, node: Builder)?
        var routes: [Route] = []
    }

    /// What a request matched.
    enum Match {
        case route(Route, RouteRequest)
        /// The path exists but not for this method: the methods it allows.
        case methodNotAllowed(allow: String)
        case notFound
    }

    private let root: Node
    let routes: [Route]

    init(_ routes: [Route]) {
        self.routes = routes
        let root = Builder()
        for r in routes {
            var node = root
            for seg in r.pattern.split(separator: "/") {
                if seg.first == "{" {
                    let name = String(seg.dropFirst().dropLast())
                    if let p = node.parameter {
                        precondition(p.name == name, "\(r.pattern): parameter {\(name)} where another pattern has {\(p.name)}")
                        node = p.node
                    } else {
                        let n = Builder()
                        node.parameter = (name, n)
                        node = n
                    }
                } else if let i = node.literals.firstIndex(where: { $0.bytes == Array(seg.utf8) }) {
                    node = node.literals[i].node
                } else {
                    let n = Builder()
                    node.literals.append((Array(seg.utf8), n))
                    node = n
                }
            }
            precondition(!node.routes.contains { $0.method == r.method }, "\(r.method) \(r.pattern) declared twice")
            node.routes.append(r)
        }
        self.root = Node(root)
    }

    /// Matches `request` whose (decoded) path is `path`. Throws for a path
    /// parameter that does not parse (a pid that is not a positive integer).
    func match(_ request: HTTPRequest, path: String) throws(APIError) -> Match {
        var path = path
        // The node reached and the byte ranges of the parameters on the way.
        let walked = path.withUTF8 { u -> (node: Node, sid: Range<Int>, pid: Range<Int>, name: Range<Int>)? in
            var node = root
            var sid = 0..<0, pid = 0..<0, name = 0..<0
            var i = 0
            while i < u.count {
                if u[i] == UInt8(ascii: "/") { i += 1; continue }
                var j = i + 1
                while j < u.count && u[j] != UInt8(ascii: "/") { j += 1 }
                if let next = Self.literal(node, UnsafeBufferPointer(rebasing: u[i..<j])) {
                    node = next
                } else if let p = node.parameter {
                    switch p.name {
                    case "sid": sid = i..<j
                    case "pid": pid = i..<j
                    default: name = i..<j
                    }
                    node = p.node
                } else {
                    return nil
                }
                i = j
            }
            return (node, sid, pid, name)
        }
        guard let walked, !walked.node.routes.isEmpty else { return .notFound }
        let method = request.method == .head ? HTTPMethod.get : request.method
        guard let route = walked.node.routes.first(where: { $0.method == method }) else {
            return .methodNotAllowed(allow: Self.allow(walked.node.routes))
        }
        func text(_ r: Range<Int>) -> String {
            r.isEmpty ? "" : path.withUTF8 { String(decoding: UnsafeBufferPointer(rebasing: $0[r]), as: UTF8.self) }
        }
        var pid = 0
        if !walked.pid.isEmpty {
            let s = text(walked.pid)
            guard let v = Int(s), v > 0 else { throw .badRequest("pid '\(s)' must be a positive integer") }
            pid = v
        }
        return .route(route, RouteRequest(http: request, sid: text(walked.sid), pid: pid, name: text(walked.name)))
    }

    /// The route `request` would be answered by, if any (no parameter is parsed).
    func route(for request: HTTPRequest, path: String) -> Route? {
        guard case let .route(route, _)? = try? match(request, path: path) else { return nil }
        return route
    }

    /// The child of `node` whose literal is `b`.
    @inline(__always)
    private static func literal(_ node: Node, _ b: UnsafeBufferPointer<UInt8>) -> Node? {
        search: for (bytes, next) in node.literals where bytes.count == b.count {
            for j in 0..<bytes.count where bytes[j] != b[j] { continue search }
            return next
        }
        return nil
    }

    /// The `Allow` value for the routes of one path.
    static func allow(_ routes: [Route]) -> String {
        var methods: [String] = []
        for r in routes {
            methods.append(r.method.rawValue)
            if r.method == .get { methods.append(HTTPMethod.head.rawValue) }
        }
        return methods.joined(separator: ", ")
    }
}
