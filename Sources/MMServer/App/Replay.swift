import MMCore

/// POST …/replay and POST /v1/compare (issue 6; not yet implemented).
enum Replayer {
    static func replay(_ body: JSONValue, into s: Session) throws(APIError) -> JSONValue {
        throw APIError(.notFound, "replay is not implemented yet")
    }
}

enum Compare {
    static func run(_ body: JSONValue, limits: Limits) throws(APIError) -> JSONValue {
        throw APIError(.notFound, "compare is not implemented yet")
    }
}
