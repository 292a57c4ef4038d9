import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MMHTTP
@testable import MMServer
import Synchronization
import XCTest

/// Session ids are capabilities (docs/API.md "Sessions"): drawn from
/// getrandom(2), never a fixed id when that fails (503), listed only to
/// callers presenting them or holding the admin token; exited processes do
/// not count toward `max_processes_per_session`.
final class SessionAccessTests: APITestCase {
    /// A random source that fails while `failing` is set, else counts up (so ids differ).
    final class FlakyRandom: RandomSource {
        let failing = Mutex(true)
        let counter = Mutex<UInt8>(0)
        func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(RandomSourceError) {
            if failing.withLock({ $0 }) { throw RandomSourceError(errno: EMFILE) }
            let n = counter.withLock { c -> UInt8 in c &+= 1; return c }
            for i in 0..<buffer.count { buffer[i] = n &+ UInt8(i) }
        }
    }

    func testFailingRandomSourceAnswers503AndCreatesNothing() throws {
        let random = FlakyRandom()
        var config = ServerConfig()
        config.publicDir = "/nonexistent"
        config.limits.dataDir = ""
        let app = MMSimApp(config: config, random: random)
        let create = HTTPRequest(method: .post, target: "/v1/sessions")
        for _ in 0..<3 {
            let r = app.handle(create)
            XCTAssertEqual(r.status.code, 503)
            guard case let .bytes(body) = r.body else { return XCTFail("no body") }
            XCTAssertTrue(String(decoding: body, as: UTF8.self).contains(#""code":"unavailable""#))
            XCTAssertEqual(app.store.count, 0, "no session (and so no fixed id) handed out")
        }
        random.failing.withLock { $0 = false }
        XCTAssertEqual(app.handle(create).status.code, 201)
        XCTAssertEqual(app.handle(create).status.code, 201)
        XCTAssertEqual(app.store.count, 2, "two different ids once the source works")
    }

    func testKernelRandomIdsAreVersion4UUIDsAndNodePrefixed() throws {
        let plain = SessionIDs(random: KernelRandom(), nodeID: "")
        var seen = Set<String>()
        for _ in 0..<1000 {
            let id = try plain.next()
            XCTAssertNotNil(UUID(uuidString: id), id)
            XCTAssertEqual(Array(id)[14], "4", "version nibble: \(id)")
            XCTAssertTrue("89ab".contains(Array(id)[19]), "variant: \(id)")
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 1000)
        let prefixed = try SessionIDs(random: KernelRandom(), nodeID: "n2").next()
        XCTAssertTrue(prefixed.hasPrefix("n2-"), prefixed)
        XCTAssertNotNil(UUID(uuidString: String(prefixed.dropFirst(3))), prefixed)
    }

    func testListingShowsOnlyPresentedIdsUnlessAdmin() throws {
        let s = try start(["--admin_token", "s3cret-token", "--node_id", "a1"])
        let a = try session(s), b = try session(s)
        XCTAssertTrue(a.hasPrefix("a1-") && b.hasPrefix("a1-"), "\(a) \(b)")
        XCTAssertEqual(s.get("/v1/sessions").json["sessions"].count, 0)
        XCTAssertEqual(s.get("/v1/sessions?ids=\(b)").json["sessions"].array.compactMap { $0["id"].string }, [b])
        let wrong = s.request("GET", "/v1/sessions", headers: ["Authorization": "Bearer s3cret-tokex"])
        XCTAssertEqual(wrong.json["sessions"].count, 0, "a wrong token lists nothing")
        let admin = s.request("GET", "/v1/sessions", headers: ["Authorization": "Bearer s3cret-token"])
        XCTAssertEqual(Set(admin.json["sessions"].array.compactMap { $0["id"].string }), [a, b])
        assertError(s.get("/v1/sessions?idz=\(a)"), 400, "bad_request", contains: "idz")
        // Per-session metrics only for the admin.
        XCTAssertFalse(s.get("/metrics").text.contains(a))
        let metrics = s.request("GET", "/metrics", headers: ["Authorization": "Bearer s3cret-token"]).text
        XCTAssertTrue(metrics.contains("mmsim_session_operations{session=\"\(a)\"} 0"), metrics)
    }

    func testEmptyBearerListsNothingWhenNoAdminTokenIsConfigured() throws {
        let s = try start()
        let a = try session(s)
        let r = s.request("GET", "/v1/sessions", headers: ["Authorization": "Bearer "])
        XCTAssertEqual(r.json["sessions"].count, 0, "\(a) must not be listed: no admin token is configured")
    }

    func testExitedProcessesDoNotCountTowardTheLimit() throws {
        let s = try start(["--max_processes_per_session", "2"])
        let sid = try session(s)
        _ = try process(s, sid)
        let p2 = try process(s, sid)
        assertError(s.post("/v1/sessions/\(sid)/processes", "{}"), 422, "limit_exceeded", contains: "max_processes_per_session")
        assertError(syscall(s, sid, 1, "fork", "{}"), 422, "limit_exceeded")
        assertSyscall(syscall(s, sid, p2, "exit", #"{"status": 0}"#), returns: 0)
        let p3 = try process(s, sid)
        XCTAssertEqual(p3, 3)
        assertSyscall(syscall(s, sid, p3, "exit", #"{"status": 0}"#), returns: 0)
        let fork = syscall(s, sid, 1, "fork", "{}")
        XCTAssertEqual(fork.status, 200, "\(fork)")
    }
}
