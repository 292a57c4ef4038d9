import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Clients are bounded (docs/API.md "Limits"), against the real binary:
/// header and body read timeouts that also cover empty lines before the
/// request line, the connection cap that closes the oldest idle connection
/// to let a new client in, the per-client connection cap, the optional
/// request rate and the per-client session limits (429 with Retry-After);
/// and the defaults leave a busy single client alone.
final class ClientLimitsTests: APITestCase {
    func testBlankLinesOneByteAtATimeDoNotHoldAConnection() throws {
        let s = try start(["--read_timeout_seconds", "1", "--idle_timeout_seconds", "30"])
        let c = try s.connect()
        defer { c.close() }
        let t0 = Date()
        var got = ""
        // Each byte arrives well within the idle timeout; only the header timeout can end this.
        for _ in 0..<40 {
            try? c.send(Array("\r".utf8))
            got = c.read(until: { $0.contains("408") }, timeout: 0.1)
            if got.contains("408") { break }
            try? c.send(Array("\n".utf8))
        }
        XCTAssertTrue(got.contains("HTTP/1.1 408"), "no 408 for a stream of empty lines: \(got.debugDescription)")
        XCTAssertLessThan(Date().timeIntervalSince(t0), 3.5)
    }

    func testSlowBodyGets408() throws {
        let s = try start(["--body_timeout_seconds", "1"])
        let c = try s.connect()
        defer { c.close() }
        try c.send("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n{\"kern")
        let t0 = Date()
        let got = c.read(until: { $0.contains("408") }, timeout: 4)
        XCTAssertTrue(got.hasPrefix("HTTP/1.1 408"), got)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(t0), 0.5)
        XCTAssertEqual(s.get("/healthz").json["sessions"].int, 0, "nothing created")
    }

    func testIdleConnectionsAtTheCapMakeRoomOldestFirst() throws {
        let s = try start(["--max_connections", "6", "--max_connections_per_client", "0", "--event_loops", "1"])
        var idle: [RawConnection] = []
        for _ in 0..<6 {
            idle.append(try s.connect())
            usleep(20_000)
        }
        defer { idle.forEach { $0.close() } }
        usleep(100_000)
        // A new client is answered although every slot holds an idle socket…
        let r = try s.raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(r.status, 200, "\(r)")
        // …and the socket that waited longest is the one that was closed.
        idle[0].setTimeout(2)
        XCTAssertFalse((try? idle[0].fill()) ?? true, "the oldest idle connection should have been closed")
        idle[5].setTimeout(0.2)
        XCTAssertThrowsError(try idle[5].fill(), "the newest idle connection stays open")
    }

    func testConnectionsPerClientAreCapped() throws {
        let s = try start(["--max_connections_per_client", "3"])
        let held = try (0..<3).map { _ in try s.connect() }
        defer { held.forEach { $0.close() } }
        usleep(100_000)
        let c = try s.connect()
        defer { c.close() }
        let r = try c.readResponse()
        XCTAssertEqual(r.status, 429, "\(r)")
        XCTAssertEqual(r.headers["retry-after"], "1")
        XCTAssertEqual(r.json["error"]["code"].string, "too_many_requests")
        held[0].close()
        usleep(200_000)
        XCTAssertEqual(try s.raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 200)
    }

    func testRequestRateLimitWhenConfigured() throws {
        let s = try start(["--requests_per_second_per_client", "2", "--request_burst_per_client", "4"])
        let c = try s.connect()
        defer { c.close() }
        var statuses: [Int] = []
        var retryAfter: String?
        for _ in 0..<6 {
            try c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            let r = try c.readResponse()
            statuses.append(r.status)
            if r.status == 429 { retryAfter = r.headers["retry-after"] }
        }
        XCTAssertEqual(statuses, [200, 200, 200, 200, 429, 429], "the connection stays usable after a 429")
        XCTAssertEqual(retryAfter, "1")
        usleep(600_000)
        try c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try c.readResponse().status, 200, "a token came back after half a second")
    }

    func testSessionCreationIsLimitedPerClient() throws {
        let s = try start(["--session_creates_per_minute_per_client", "3", "--max_sessions_per_client", "2"])
        let a = try session(s)
        _ = try session(s)
        let third = s.post("/v1/sessions", "{}")
        assertError(third, 429, "too_many_requests", contains: "max_sessions_per_client")
        XCTAssertEqual(third.headers["Retry-After"] ?? third.headers["retry-after"], "60")
        XCTAssertEqual(s.delete("/v1/sessions/\(a)").status, 204)
        _ = try session(s)  // the third creation of the minute
        let fourth = s.post("/v1/sessions", "{}")
        assertError(fourth, 429, "too_many_requests", contains: "session_creates_per_minute_per_client")
        XCTAssertEqual(s.get("/healthz").json["sessions"].int, 2)
    }

    /// The defaults leave a busy single user alone: 64 connections at once
    /// and a few hundred sessions created as fast as a script can.
    func testDefaultsDoNotThrottleOneBusyClient() throws {
        let s = try start()
        let conns = try (0..<64).map { _ in try s.connect() }
        defer { conns.forEach { $0.close() } }
        for c in conns { try c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") }
        for c in conns { XCTAssertEqual(try c.readResponse().status, 200) }
        var created = 0
        for (n, c) in (0..<300).map({ ($0, conns[$0 % 64]) }) {
            try c.send("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            let r = try c.readResponse()
            XCTAssertEqual(r.status, 201, "session \(n): \(r)")
            if r.status == 201 { created += 1 }
        }
        XCTAssertEqual(created, 300)
    }
}
