import XCTest
@testable import MMServer
@testable import MMHTTP

/// Which requests go to a worker thread (MMSimApp.answersSlowly): the
/// shortcut from a path's last segment (SlowRoutes) gives, for every route of
/// the table, what the route says, and the hot requests are decided by it.
final class SlowRoutesTests: XCTestCase {
    /// A concrete path for a pattern: {sid} → a session id, other parameters → 1.
    func path(_ pattern: String) -> String {
        pattern.split(separator: "/", omittingEmptySubsequences: false).map { seg in
            seg == "{sid}" ? "a-0123" : seg.hasPrefix("{") ? "1" : String(seg)
        }.joined(separator: "/")
    }

    func testTheShortcutAgreesWithEveryRoute() {
        var decided = 0
        for route in RouteTable.all {
            let request = HTTPRequest(method: route.method, path: path(route.pattern), body: [])
            guard let known = SlowRoutes.byLastSegment(request) else { continue }
            decided += 1
            XCTAssertEqual(known, route.slow, "\(route.method.rawValue) \(route.pattern)")
        }
        XCTAssertGreaterThan(decided, RouteTable.all.count / 2, "most routes end in a literal segment")
    }

    func testHotRequestsAreDecidedWithoutTheRouter() {
        let fault = HTTPRequest(method: .post, path: "/v1/sessions/a-1/processes/1/faults", body: [])
        XCTAssertEqual(SlowRoutes.byLastSegment(fault), false, "a single fault is answered on the loop")
        XCTAssertEqual(SlowRoutes.byLastSegment(HTTPRequest(method: .post, path: "/v1/sessions/a-1/ops", body: [])), true)
        XCTAssertEqual(SlowRoutes.byLastSegment(HTTPRequest(method: .get, path: "/v1/sessions/a-1/processes/1/pages", body: [])), true)
        XCTAssertNil(SlowRoutes.byLastSegment(HTTPRequest(method: .get, path: "/v1/sessions/a-1", body: [])),
                     "a parameter last: the router decides")
    }
}
