import Foundation
import MMCore
import MMHTTP

/// The mmsim API (docs/API.md): the routes of `RouteTable` under `/v1/…`,
/// `/healthz`, `/metrics`, `/openapi.json`, and `public/` for every other
/// GET.
public final class MMSimApp: @unchecked Sendable {
    public let config: ServerConfig
    public let store: SessionStore
    public let metrics = Metrics()
    let staticFiles: StaticFiles?
    let router = Router(RouteTable.all)
    let requestCounter = Atomic64()
    var timers: [any DispatchSourceTimer] = []

    /// `random` is the source of session ids (getrandom(2); tests inject a failing one).
    public init(config: ServerConfig, random: any RandomSource = KernelRandom()) {
        self.config = config
        self.store = SessionStore(limits: config.limits,
                                  defaultKernel: KernelModel.named(config.defaultKernel) ?? .default,
                                  random: random, nodeID: config.nodeID)
        self.staticFiles = try? StaticFiles(root: config.publicDir)
    }

    /// Answers one request; never throws (errors become JSON 4xx/5xx).
    /// `route` is the matched pattern (the metric and access-log label),
    /// "static" for public files, "error" for a path no route matches.
    public func respond(_ req: HTTPRequest) -> (HTTPResponse, route: String) {
        // Without a '%' the decoded path is the path itself.
        let path = Self.hasPercent(req.path) ? (req.decodedPath ?? req.path) : req.path
        let requestNumber = requestCounter.increment()
        // The request id of error bodies: the request's number in hex, formatted only for an error.
        var rid: String { String(requestNumber, radix: 16) }
        var label = "error"
        var response: HTTPResponse
        do {
            switch try router.match(req, path: path) {
            case let .route(route, r):
                label = route.pattern
                response = try route.handle(self, r)
            case let .methodNotAllowed(allow):
                response = error(APIError(.methodNotAllowed, "\(req.method) is not allowed on \(path) (allowed: \(allow))"), rid)
                response.headers.replaceOrAdd(name: "Allow", value: allow)
            case .notFound:
                if PathSegments(path).firstName == "v1" {
                    throw APIError.notFound("no route \(req.method) \(path)")
                }
                guard req.method == .get || req.method == .head else {
                    response = error(APIError(.methodNotAllowed, "\(req.method) is not allowed on \(path) (allowed: GET, HEAD)"), rid)
                    response.headers.replaceOrAdd(name: "Allow", value: "GET, HEAD")
                    break
                }
                guard let staticFiles else { throw APIError.notFound("no public directory configured") }
                label = "static"
                return (staticFiles.response(for: req), label)
            }
        } catch let e as APIError {
            response = error(e, rid)
        } catch {
            response = self.error(APIError(.internalError, "\(error)"), rid)
        }
        if JSONStyle(req) == .pretty { response = JSONStyle.indented(response) }
        return (response, label)
    }

    /// Whether `path` has a '%' (only then can its decoded form differ).
    static func hasPercent(_ path: String) -> Bool {
        var path = path
        return path.withUTF8 { u in u.contains(UInt8(ascii: "%")) }
    }

    /// A JSON answer (compact, newline-terminated).
    func json(_ v: JSONValue, status: HTTPStatus = .ok) -> HTTPResponse {
        .json(status, JSONOutput.encode(v))
    }

    /// A JSON answer to a matched request.
    func json(_ v: JSONValue, _ r: RouteRequest, status: HTTPStatus = .ok) -> HTTPResponse { json(v, status: status) }

    /// An already-encoded JSON answer.
    func encoded(_ bytes: [UInt8], _ r: RouteRequest) -> HTTPResponse { .json(.ok, bytes) }

    /// An operation's result (compact, newline-terminated).
    func json(_ r: OpResult, status: HTTPStatus = .ok) -> HTTPResponse {
        .json(status, r.encoded)
    }

    func error(_ e: APIError, _ rid: String) -> HTTPResponse {
        if e.code == .internalError { FileHandle.standardError.write(Data("request \(rid): internal error: \(e.message)\n".utf8)) }
        var response = json(e.body(requestID: rid), status: HTTPStatus(code: e.code.status))
        if let seconds = e.retryAfter { response.headers.add(name: "Retry-After", value: String(seconds)) }
        return response
    }

    /// The request body as JSON (an empty body is `{}`).
    func body(_ req: HTTPRequest) throws(APIError) -> JSONValue {
        if req.body.isEmpty { return .object([]) }
        do { return try JSONParser.parse(req.body) } catch {
            throw .badRequest("malformed JSON at byte \(error.offset): \(error.message)")
        }
    }

    /// POST /v1/sessions.
    func createSession(_ r: RouteRequest) throws(APIError) -> HTTPResponse {
        let a = try Args(try body(r.http), schema: Schemas.sessionCreate)
        var kernel: KernelModel?
        if a.has("kernel") {
            let id = try a.string("kernel")
            guard let k = KernelModel.named(id) else {
                throw .badRequest("field 'kernel': unknown model '\(id)' (one of \(KernelModel.all.map(\.id).joined(separator: ", ")))")
            }
            kernel = k
        }
        var options = ModelOptions()
        if let o = try a.object("options") {
            for s in ModelOptions.switches { options[keyPath: s.keyPath] = try o.bool(s.name, default: false) }
        }
        let name = a.has("name") ? try a.string("name") : nil
        let s = try store.create(kernel: kernel, options: options, name: name, client: r.http.clientAddress)
        return json(s.lock.withLock { s.summary(withProcesses: true) }, status: .created)
    }
}

/// A counter for request ids, guarded by a lock (uncontended: tens of ns).
final class Atomic64: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 0
    func increment() -> UInt64 { lock.withLock { value += 1; return value } }
}
