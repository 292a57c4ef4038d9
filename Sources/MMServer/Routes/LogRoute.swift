import MMHTTP

/// GET …/log (docs/API.md): streamed in pieces by the event loop
/// (SessionLogSource), or one page with `?limit=N&cursor=C`.
extension MMSimApp {
    func log(_ r: RouteRequest) throws(APIError) -> HTTPResponse {
        let s = try store.get(r.sid)
        let a = try Args(.object(r.http.queryItems.filter { $0.name != "pretty" }.map { item in
            (item.name, Int(item.value).map { .int(Int64($0)) } ?? .string(item.value))
        }), schema: Schemas.logQuery)
        let cursor = try a.int("cursor", default: 0)
        guard cursor >= 0 else { throw .badRequest("field 'cursor' must not be negative") }
        let limit = a.has("limit") ? try a.int("limit") : nil
        if let limit, limit < 1 { throw .badRequest("field 'limit' must be at least 1") }
        let count = s.events.withLock { s.log.count }
        let from = min(cursor, count)
        let to = limit.map { min(count, from + $0) } ?? count
        if JSONStyle(r.http) == .pretty {
            // Indented answers are built whole (page with limit for big logs).
            var members: [(String, JSONValue)] = [("ops", .array(s.events.withLock {
                (from..<to).map { Session.logEntry(seq: $0 + 1, s.log[$0]) }
            }))]
            if limit != nil { members.append(("next_cursor", to < count ? .num(to) : .null)) }
            return json(.object(members), r)
        }
        let source = SessionLogSource(session: s, from: from, to: to, paged: limit != nil, logCount: count)
        return HTTPResponse(status: .ok, headers: HTTPHeaders([("Content-Type", "application/json")]), body: .pull(source))
    }
}

extension Schemas {
    static let logQuery = Schema(name: "LogQuery", description: "One page of the log (default: all of it).", fields: [
        Field("limit", .integer, "at most this many operations (default: every one)"),
        Field("cursor", .integer, "skip this many operations: 0, or the `next_cursor` of the previous page"),
    ])
}
