import CLinuxShims
import Foundation
import XCTest
@testable import MMServer
#if canImport(Glibc)
import Glibc
#endif

/// The event-loop server: hand-off of slow requests to workers, order of
/// pipelined answers across hand-offs, back-pressure on large responses, and
/// many connections spread over the loops.
final class HTTPEventLoopTests: XCTestCase {
    /// The calling thread's kernel name (what a loop sets with PR_SET_NAME).
    fileprivate static func threadName() -> String {
        var buffer = [CChar](repeating: 0, count: 32)
        guard mmsim_get_thread_name(&buffer) == 0 else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private var servers: [HTTPServer] = []

    override func tearDown() {
        for server in servers { server.shutdown(gracePeriod: 1) }
        servers = []
        super.tearDown()
    }

    /// Answers with the thread it ran on; `/slow…` sleeps 0.4 s and is declared slow.
    private struct Handler: HTTPHandler {
        func handle(_ request: HTTPRequest) -> HTTPResponse {
            if request.path.hasPrefix("/slow") { Thread.sleep(forTimeInterval: 0.4) }
            if request.path == "/big" { return .init(status: .ok, contentType: "application/octet-stream", body: Self.big) }
            return .text(.ok, "\(request.path) on \(HTTPEventLoopTests.threadName()) body \(request.body.count)")
        }
        func answersSlowly(_ request: HTTPRequest) -> Bool {
            request.path.hasPrefix("/slow") || request.body.count > 64 * 1024
        }
        /// 8 MiB of a repeating pattern, so a truncated or reordered body is detected.
        static let big: [UInt8] = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 13) }
    }

    private func start(loops: Int) throws -> HTTPServer {
        let server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, eventLoops: loops),
                                handler: Handler())
        try server.start()
        servers.append(server)
        return server
    }

    func testSlowRequestRunsOffTheLoopAndDoesNotDelayOthers() throws {
        let server = try start(loops: 1)
        let slow = try RawConnection(port: server.port, timeout: 5)
        let fast = try RawConnection(port: server.port, timeout: 5)
        let t0 = Date()
        try slow.send("GET /slow HTTP/1.1\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.05)
        try fast.send("GET /fast HTTP/1.1\r\n\r\n")
        let quick = try fast.readResponse()
        XCTAssertLessThan(Date().timeIntervalSince(t0), 0.3, "the fast request waited for the slow one")
        XCTAssertEqual(quick.text, "/fast on http-loop-0 body 0")
        let late = try slow.readResponse()
        XCTAssertTrue(late.text.hasPrefix("/slow on "), late.text)
        XCTAssertFalse(late.text.contains("http-loop"), "a slow request ran on the loop: \(late.text)")
    }

    func testLargeBodiesAreAnsweredOffTheLoopByDefault() throws {
        let server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, eventLoops: 1)) { request in
            .text(.ok, "\(HTTPEventLoopTests.threadName()) \(request.body.count)")
        }
        try server.start()
        servers.append(server)
        let c = try RawConnection(port: server.port, timeout: 5)
        let body = String(repeating: "x", count: 70_000)
        try c.send("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789POST /b HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        XCTAssertEqual(try c.readResponse().text, "http-loop-0 10")
        let second = try c.readResponse().text
        XCTAssertTrue(second.hasSuffix(" 70000") && !second.hasPrefix("http-loop"), second)
    }

    func testPipelinedAnswersKeepTheirOrderAcrossHandOffs() throws {
        let server = try start(loops: 1)
        let c = try RawConnection(port: server.port, timeout: 5)
        let paths = ["/slow1", "/a", "/slow2", "/b", "/c"]
        try c.send(paths.map { "GET \($0) HTTP/1.1\r\n\r\n" }.joined())
        for path in paths {
            let response = try c.readResponse()
            XCTAssertTrue(response.text.hasPrefix("\(path) on "), "expected \(path), got \(response.text)")
        }
    }

    func testLargeResponseIsSentWholeToASlowReaderThenTheNextOne() throws {
        let server = try start(loops: 1)
        let c = try RawConnection(port: server.port, timeout: 10)
        try c.send("GET /big HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.3)  // let the server fill the socket buffers and wait for EPOLLOUT
        let other = try RawConnection(port: server.port, timeout: 5)
        try other.send("GET /meanwhile HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try other.readResponse().text, "/meanwhile on http-loop-0 body 0")
        let big = try c.readResponse()
        XCTAssertEqual(big.body.count, Handler.big.count)
        XCTAssertTrue(big.body == Handler.big, "the large body arrived altered")
        XCTAssertEqual(try c.readResponse().text, "/after on http-loop-0 body 0")
    }

    func testManyConcurrentConnectionsAreSpreadOverTheLoops() throws {
        let server = try start(loops: 2)
        let port = server.port
        let clients = 40, requests = 25
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var loops: Set<String> = []
            var failures: [String] = []
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: clients) { n in
            do {
                let c = try RawConnection(port: port, timeout: 5)
                for k in 0..<requests {
                    try c.send("GET /c\(n)/\(k) HTTP/1.1\r\n\r\n")
                    let text = try c.readResponse().text
                    guard text.hasPrefix("/c\(n)/\(k) on http-loop-") else { throw RawError.malformed(text) }
                    let loop = String(text.split(separator: " ")[2])
                    results.lock.withLock { _ = results.loops.insert(loop) }
                }
                c.close()
            } catch {
                results.lock.withLock { results.failures.append("client \(n): \(error)") }
            }
        }
        XCTAssertEqual(results.failures, [])
        XCTAssertEqual(results.loops, ["http-loop-0", "http-loop-1"])
        let deadline = Date(timeIntervalSinceNow: 2)
        while server.connectionCount > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(server.connectionCount, 0, "closed connections were not all forgotten")
    }
}
