import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT stop the real binary quickly, with each open connection
/// ended cleanly: an event stream gets its last chunk, a half-received request
/// a 503, an idle keep-alive connection and one lingering after its last
/// response an orderly close.
final class ShutdownTests: XCTestCase {
    /// The test's bound; the goal is 200 ms (measured: about 55 ms, the short
    /// linger of HTTPConnection.shutdownLinger included).
    static let bound = 0.5

    func testSIGTERMStopsWithinTheBoundWithConnectionsClosedCleanly() throws {
        try stop(with: SIGTERM)
    }

    func testSIGINTStopsWithinTheBoundWithConnectionsClosedCleanly() throws {
        try stop(with: SIGINT)
    }

    private func stop(with signal: Int32) throws {
        let server = try CLIServer(try ServerProcess.locateBinary(), ["--port", "0", "--access-log", "false"],
                                   cwd: ServerProcess.packageRoot)
        defer { server.stop() }
        let port = server.port
        // An event stream waiting for events (before, it waited up to 15 s plus the 5 s grace).
        let sid = try XCTUnwrap(try RawConnection.post(port: port, "/v1/sessions", "{}").json["id"].string)
        let stream = try RawConnection(port: port, timeout: 5)
        try stream.send("GET /v1/sessions/\(sid)/events HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = stream.read(until: { $0.contains("\r\n\r\n") }, timeout: 5)
        // Half a request (before: the 5 s grace period).
        let partial = try RawConnection(port: port, timeout: 5)
        try partial.send("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
        // A peer that read a `Connection: close` answer and keeps its socket open (before: a 2 s linger).
        let lingering = try RawConnection(port: port, timeout: 5)
        try lingering.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(try lingering.readResponse().status, 200)
        // An idle keep-alive connection.
        let idle = try RawConnection(port: port, timeout: 5)
        try idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try idle.readResponse().status, 200)
        usleep(100_000)

        let t0 = Date()
        XCTAssertEqual(kill(server.process.processIdentifier, signal), 0)
        server.process.waitUntilExit()
        let seconds = Date().timeIntervalSince(t0)
        print("ShutdownTests: signal \(signal) → exit in \(Int(seconds * 1000)) ms")
        XCTAssertLessThan(seconds, Self.bound, "exit took \(seconds) s")
        XCTAssertEqual(server.process.terminationStatus, 0)

        let streamed = stream.read(until: { $0.hasSuffix("0\r\n\r\n") }, timeout: 2)
        XCTAssertTrue(streamed.hasSuffix("0\r\n\r\n"), "the event stream ended with its last chunk: \(streamed.suffix(200))")
        let refused = try partial.readResponse()
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(refused.headers["connection"], "close")
        for c in [stream, partial, lingering, idle] {
            XCTAssertFalse(try c.fill(), "an orderly close (EOF, not a reset)")
        }
    }
}

extension RawConnection {
    /// POST `body` to `path` on a fresh connection.
    static func post(port: Int, _ path: String, _ body: String) throws -> RawResponse {
        let c = try RawConnection(port: port, timeout: 10)
        defer { c.close() }
        try c.send("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        return try c.readResponse()
    }
}
