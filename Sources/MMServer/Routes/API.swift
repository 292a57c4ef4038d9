import MMHTTP
import Foundation
import MMCore

/// The mmsim API (api.md): routes `/v1/…`, `/healthz`, `/metrics`,
/// `/openapi.json`, and serves `public/` for every other path.
public final class MMSimApp: @unchecked Sendable {
    public let config: ServerConfig
    public let store: SessionStore
    public let metrics = Metrics()
    let staticFiles: StaticFiles?
    private let requestCounter = Atomic64()
    var timers: [any DispatchSourceTimer] = []

    public init(config: ServerConfig) {
        self.config = config
        self.store = SessionStore(limits: config.limits,
                                  defaultKernel: KernelModel.named(config.defaultKernel) ?? .default)
        self.staticFiles = try? StaticFiles(root: config.publicDir)
    }

    /// Answers one request; never throws (errors become JSON 4xx/5xx).
    public func respond(_ req: HTTPRequest) -> (HTTPResponse, route: String) {
        // Without a '%' the decoded path is the path itself.
        let path = Self.hasPercent(req.path) ? (req.decodedPath ?? req.path) : req.path
        let segments = PathSegments(path)
        let requestNumber = requestCounter.increment()
        // The request id of error bodies: the request's number in hex, formatted only for an error.
        var rid: String { String(requestNumber, radix: 16) }
        do {
            if segments.firstName == "v1" {
                let (resp, route) = try v1(req, segments.dropFirst())
                return (resp, route)
            }
            switch (req.method, path) {
            case (.get, "/healthz"), (.head, "/healthz"):
                return (json(.object([("status", .string("ok")), ("sessions", .num(store.count))])), "/healthz")
            case (.get, "/metrics"), (.head, "/metrics"):
                return (.init(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                              body: Array(metrics.render(liveSessions: store.count).utf8)), "/metrics")
            case (.get, "/openapi.json"), (.head, "/openapi.json"):
                return (.init(status: .ok, contentType: "application/json", body: OpenAPI.document), "/openapi.json")
            default:
                guard req.method == .get || req.method == .head else {
                    throw APIError(.methodNotAllowed, "\(req.method) is not allowed on \(path)")
                }
                guard let staticFiles else { throw APIError.notFound("no public directory configured") }
                return (staticFiles.response(for: req), "static")
            }
        } catch let e as APIError {
            return (error(e, rid), "error")
        } catch {
            return (self.error(APIError(.internalError, "\(error)"), rid), "error")
        }
    }

    /// Whether `path` has a '%' (only then can its decoded form differ).
    static func hasPercent(_ path: String) -> Bool {
        var path = path
        return path.withUTF8 { u in u.contains(UInt8(ascii: "%")) }
    }

    func json(_ v: JSONValue, status: HTTPStatus = .ok) -> HTTPResponse {
        .json(status, JSONWriter.encode(v))
    }

    func json(_ r: OpResult, status: HTTPStatus = .ok) -> HTTPResponse {
        .json(status, r.encoded)
    }

    func error(_ e: APIError, _ rid: String) -> HTTPResponse {
        if e.code == .internalError { FileHandle.standardError.write(Data("request \(rid): internal error: \(e.message)\n".utf8)) }
        return json(e.body(requestID: rid), status: HTTPStatus(code: e.code.status))
    }

    func body(_ req: HTTPRequest) throws(APIError) -> JSONValue {
        if req.body.isEmpty { return .object([]) }
        do { return try JSONParser.parse(req.body) } catch {
            throw .badRequest("malformed JSON at byte \(error.offset): \(error.message)")
        }
    }

    func pid(_ s: Substring) throws(APIError) -> Int {
        guard let p = Int(s), p > 0 else { throw .badRequest("pid '\(s)' must be a positive integer") }
        return p
    }

    /// Routes under /v1.
    func v1(_ req: HTTPRequest, _ seg: PathSegments) throws(APIError) -> (HTTPResponse, String) {
        let m = req.method
        let name = seg.firstName
        switch (m, seg.count) {
        case (.get, 1) where name == "kernels":
            return (json(.object([("kernels", .array(KernelModel.all.map(Self.kernel))),
                                  ("default", .string(store.defaultKernel.id))])), "/v1/kernels")
        case (.post, 1) where name == "compare":
            return (json(try Compare.run(try body(req), limits: config.limits)), "/v1/compare")
        case (_, 1) where name == "sessions":
            if m == .post { return (try createSession(req), "/v1/sessions") }
            if m == .get { return (json(.object([("sessions", .array(store.all().map { s in s.lock.withLock { s.summary(withProcesses: false) } }))])), "/v1/sessions") }
        case (_, 2...) where name == "sessions":
            return try sessionRoute(req, try store.get(seg.string(1)), seg.dropFirst(2))
        default: break
        }
        throw APIError.notFound("no route \(m) /v1/\(seg.joined(separator: "/"))")
    }

    static func kernel(_ k: KernelModel) -> JSONValue {
        .object([("id", .string(k.id)), ("spec", .string(k.spec)), ("title", .string(k.title)), ("summary", .string(k.summary))])
    }

    func createSession(_ req: HTTPRequest) throws(APIError) -> HTTPResponse {
        let a = try Args(try body(req))
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
            if case let .object(members) = o.value {
                for (k, _) in members where !["eager_anon_vma", "skip_mergeable_for_file"].contains(k) {
                    throw .badRequest("field 'options.\(k)': unknown option")
                }
            }
            options.eagerAnonVMA = try o.bool("eager_anon_vma", default: false)
            options.skipMergeableForFile = try o.bool("skip_mergeable_for_file", default: false)
        }
        let name = a.has("name") ? try a.string("name") : nil
        let s = try store.create(kernel: kernel, options: options, name: name)
        return json(s.lock.withLock { s.summary(withProcesses: true) }, status: .created)
    }
}

/// A counter for request ids, guarded by a lock (uncontended: tens of ns).
final class Atomic64: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 0
    func increment() -> UInt64 { lock.withLock { value += 1; return value } }
}
