import MMCore
import MMHTTP

/// Who may see what (docs/API.md "Sessions"): a session id is the
/// capability to use that session, so no caller can list ids it was not
/// given. `GET /v1/sessions` answers the sessions among the ids the caller
/// presents (`?ids=a,b`); with `Authorization: Bearer <admin_token>`
/// (config `admin_token`, off when empty) it lists every session, and
/// `/metrics` adds per-session counters.
extension MMSimApp {
    /// Whether the request carries the configured admin token (compared in
    /// constant time; never true when no token is configured).
    func isAdmin(_ request: HTTPRequest) -> Bool {
        let token = config.adminToken
        guard !token.isEmpty, let value = request.headers["Authorization"], value.hasPrefix("Bearer ") else { return false }
        let given = Array(value.utf8.dropFirst(7)), wanted = Array(token.utf8)
        guard given.count == wanted.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<given.count { diff |= given[i] ^ wanted[i] }
        return diff == 0
    }

    /// GET /v1/sessions: the presented sessions, or all for the admin.
    func listSessions(_ r: RouteRequest) throws(APIError) -> HTTPResponse {
        let a = try Args(.object(r.http.queryItems.filter { $0.name != "pretty" }.map { ($0.name, .string($0.value)) }),
                         schema: Schemas.sessionsQuery)
        let ids = a.has("ids") ? try a.string("ids").split(separator: ",").map(String.init) : []
        let list = isAdmin(r.http) ? store.all() : store.presented(ids)
        return json(.object([("sessions", .array(list.map { s in s.lock.withLock { s.summary(withProcesses: false) } }))]), r)
    }

    /// GET /metrics: the service's counters; with the admin token also one
    /// line per session (its operations and live processes).
    func metricsText(_ r: RouteRequest) -> HTTPResponse {
        var text = metrics.render(liveSessions: store.count)
        if isAdmin(r.http) {
            text += "# HELP mmsim_session_operations Operations in a session's log.\n# TYPE mmsim_session_operations gauge\n"
            var processes = "# HELP mmsim_session_processes Live processes of a session.\n# TYPE mmsim_session_processes gauge\n"
            for s in store.all() {
                let (ops, live) = s.lock.withLock { (s.log.count, Op.liveProcesses(s.sim)) }
                text += "mmsim_session_operations{session=\"\(s.id)\"} \(ops)\n"
                processes += "mmsim_session_processes{session=\"\(s.id)\"} \(live)\n"
            }
            text += processes
        }
        return HTTPResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
    }
}

extension Schemas {
    static let sessionsQuery = Schema(name: "SessionsQuery", description: "Which sessions to list.", fields: [
        Field("ids", .string, "comma-separated session ids the caller holds; the answer lists those that exist "
              + "(without the admin token nothing else is listed)"),
    ])
}
