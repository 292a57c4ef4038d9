import Foundation
import XCTest
@testable import MMServer
@testable import MMHTTP
#if canImport(Glibc)
import Glibc
#endif

/// End-to-end tests: an in-process server on 127.0.0.1:0 and raw POSIX client sockets.
final class HTTPServerTests: XCTestCase {
    private var servers: [HTTPServer] = []

    override func tearDown() {
        for server in servers { server.shutdown(gracePeriod: 1) }
        servers = []
        super.tearDown()
    }

    // MARK: Helpers

    private func startServer(_ limits: HTTPServerLimits = HTTPServerLimits(), accessLog: HTTPAccessLog? = nil,
                             handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse = echo) throws -> HTTPServer {
        let server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, limits: limits),
                                accessLog: accessLog, handler: handler)
        try server.start()
        XCTAssertGreaterThan(server.port, 0)
        servers.append(server)
        return server
    }

    /// Answers `METHOD path body` as text, so tests can see what arrived.
    private static let echo: @Sendable (HTTPRequest) -> HTTPResponse = { request in
        .text(.ok, "\(request.method) \(request.target) \(String(decoding: request.body, as: UTF8.self))")
    }

    private func connect(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        setReceiveTimeout(fd, 5)
        return fd
    }

    private func write(_ fd: Int32, _ text: String) {
        XCTAssertTrue(socketSendAll(fd, Array(text.utf8)))
    }

    /// Reads until the peer closes (or the 5 s receive timeout).
    private func readToEnd(_ fd: Int32) -> String {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            data += chunk[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }

    private struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: String
    }

    /// Reads exactly one response (Content-Length or chunked framing); keeps leftovers in `pending`.
    private func readResponse(_ fd: Int32, _ pending: inout [UInt8], head: Bool = false) throws -> Response {
        func fill() throws {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw POSIXError(.ECONNRESET) }
            pending += chunk[0..<n]
        }
        func line() throws -> String {
            while true {
                if let i = pending.firstIndex(of: 10) {
                    let text = String(decoding: pending[..<i], as: UTF8.self).trimmingCharacters(in: .newlines)
                    pending.removeFirst(i + 1)
                    return text
                }
                try fill()
            }
        }
        func take(_ n: Int) throws -> [UInt8] {
            while pending.count < n { try fill() }
            defer { pending.removeFirst(n) }
            return Array(pending[..<n])
        }
        let statusLine = try line()
        let status = Int(statusLine.split(separator: " ")[1]) ?? 0
        var headers = HTTPHeaders()
        while case let text = try line(), !text.isEmpty {
            let colon = text.firstIndex(of: ":")!
            headers.add(name: String(text[..<colon]), value: String(trimOWS(text[text.index(after: colon)...])))
        }
        var body: [UInt8] = []
        if head || status == 204 {
        } else if headers["Transfer-Encoding"] == "chunked" {
            while let size = Int(try line(), radix: 16), size > 0 {
                body += try take(size)
                _ = try take(2)
            }
            _ = try line()
        } else {
            body = try take(Int(headers["Content-Length"] ?? "0")!)
        }
        return Response(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
    }

    // MARK: Tests

    func testKeepAliveTwoRequestsOnOneConnection() throws {
        let server = try startServer()
        let fd = try connect(server.port)
        defer { close(fd) }
        var pending: [UInt8] = []
        write(fd, "GET /one HTTP/1.1\r\nHost: t\r\n\r\n")
        let first = try readResponse(fd, &pending)
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.body, "GET /one ")
        XCTAssertNil(first.headers["Connection"])
        write(fd, "POST /two?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody")
        let second = try readResponse(fd, &pending)
        XCTAssertEqual(second.body, "POST /two?x=1 body")
        XCTAssertEqual(second.headers["Content-Type"], "text/plain; charset=utf-8")
    }

    func testPipelinedRequestsAnsweredInOrder() throws {
        let server = try startServer()
        let fd = try connect(server.port)
        defer { close(fd) }
        var requests = ""
        for i in 0..<20 { requests += "GET /\(i) HTTP/1.1\r\nHost: t\r\n\r\n" }
        requests += "POST /chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        write(fd, requests)
        var pending: [UInt8] = []
        for i in 0..<20 { XCTAssertEqual(try readResponse(fd, &pending).body, "GET /\(i) ") }
        XCTAssertEqual(try readResponse(fd, &pending).body, "POST /chunked abc")
    }

    func testExpectContinue() throws {
        let server = try startServer()
        let fd = try connect(server.port)
        defer { close(fd) }
        var pending: [UInt8] = []
        write(fd, "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        XCTAssertEqual(try readResponse(fd, &pending, head: true).status, 100)
        write(fd, "hello")
        XCTAssertEqual(try readResponse(fd, &pending).body, "POST /up hello")
    }

    func testHeadHasLengthButNoBody() throws {
        let server = try startServer()
        let fd = try connect(server.port)
        defer { close(fd) }
        var pending: [UInt8] = []
        write(fd, "HEAD /abc HTTP/1.1\r\n\r\nGET /abc HTTP/1.1\r\n\r\n")
        let head = try readResponse(fd, &pending, head: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.headers["Content-Length"], String("HEAD /abc ".utf8.count))
        // The next response must start right away: no body bytes were sent for HEAD.
        let get = try readResponse(fd, &pending)
        XCTAssertEqual(get.body, "GET /abc ")
    }

    func testConnectionCloseAndHTTP10() throws {
        let server = try startServer()
        var fd = try connect(server.port)
        write(fd, "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n")
        var text = readToEnd(fd)
        close(fd)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        XCTAssertTrue(text.contains("Connection: close\r\n"))
        XCTAssertTrue(text.hasSuffix("GET /c "))

        fd = try connect(server.port)
        write(fd, "GET /old HTTP/1.0\r\n\r\n")
        text = readToEnd(fd)
        close(fd)
        XCTAssertTrue(text.contains("Connection: close\r\n"))

        fd = try connect(server.port)
        defer { close(fd) }
        var pending: [UInt8] = []
        write(fd, "GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(try readResponse(fd, &pending).headers["Connection"], "keep-alive")
        write(fd, "GET /again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(try readResponse(fd, &pending).body, "GET /again ")
    }

    func testParserErrorsGetJSONAndClose() throws {
        let server = try startServer(HTTPServerLimits(maxHeaderBytes: 256, maxBodyBytes: 16))
        let cases: [(String, String, String)] = [
            ("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "400 Bad Request", "bad_request"),
            ("POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n", "413 Content Too Large", "too_large"),
            ("GET / HTTP/1.1\r\nX: \(String(repeating: "x", count: 300))\r\n\r\n", "431 Request Header Fields Too Large", "too_large"),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "501 Not Implemented", "not_implemented"),
            ("GET / HTTP/3.0\r\n\r\n", "505 HTTP Version Not Supported", "version_not_supported"),
        ]
        for (request, statusLine, code) in cases {
            let fd = try connect(server.port)
            write(fd, request)
            let text = readToEnd(fd)
            close(fd)
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 \(statusLine)\r\n"), text)
            XCTAssertTrue(text.contains("Connection: close\r\n"), text)
            XCTAssertTrue(text.contains("Content-Type: application/json\r\n"), text)
            XCTAssertTrue(text.contains(#"{"error":{"code":"\#(code)","message":""#), text)
        }
    }

    /// A client that sends its whole oversized body before reading (as
    /// Python's http.client does) still gets the 413: the server half-closes
    /// and drains the rest instead of resetting the connection.
    func testOversizedBodySentInFullStillGets413() throws {
        let server = try startServer(HTTPServerLimits(maxBodyBytes: 16))
        let fd = try connect(server.port)
        defer { close(fd) }
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 12 << 20)
        write(fd, "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n")
        XCTAssertTrue(socketSendAll(fd, body), "the server kept reading the body (errno \(errno))")
        let text = readToEnd(fd)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 413 Content Too Large\r\n"), text)
    }

    func testReadTimeoutSends408() throws {
        let server = try startServer(HTTPServerLimits(readTimeout: 0.5))
        let fd = try connect(server.port)
        defer { close(fd) }
        let started = Date()
        write(fd, "GET /slow HTTP/1.1\r\nHost:")
        let text = readToEnd(fd)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), text)
        XCTAssertTrue(text.contains(#""code":"request_timeout""#))
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
    }

    func testIdleKeepAliveClosesSilently() throws {
        let server = try startServer(HTTPServerLimits(idleTimeout: 0.3))
        let fd = try connect(server.port)
        defer { close(fd) }
        var pending: [UInt8] = []
        write(fd, "GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try readResponse(fd, &pending).status, 200)
        XCTAssertEqual(readToEnd(fd), "")  // EOF without any bytes
    }

    /// Over the cap with no idle connection to close (each is in the middle
    /// of a request): 503. (An idle one would be closed to make room:
    /// ClientLimitsTests.)
    func testConnectionsOverTheCapGet503() throws {
        let server = try startServer(HTTPServerLimits(maxConnections: 2))
        var open: [Int32] = []
        defer { open.forEach { close($0) } }
        for _ in 0..<2 {
            let fd = try connect(server.port)
            var pending: [UInt8] = []
            write(fd, "GET / HTTP/1.1\r\n\r\n")
            XCTAssertEqual(try readResponse(fd, &pending).status, 200)
            write(fd, "GET / HTTP/1.1\r\n")  // busy: a request has begun
            open.append(fd)
        }
        usleep(100_000)
        let extra = try connect(server.port)
        write(extra, "GET / HTTP/1.1\r\n\r\n")
        let text = readToEnd(extra)
        close(extra)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), text)
        XCTAssertTrue(text.contains("Connection: close"))
        XCTAssertEqual(server.connectionCount, 2)
    }

    func testGracefulShutdownFinishesInFlightRequest() throws {
        let server = try startServer(handler: { request in
            if request.path == "/slow" { Thread.sleep(forTimeInterval: 0.5) }
            return .text(.ok, "done \(request.path)")
        })
        let port = server.port
        let idle = try connect(port)
        defer { close(idle) }
        var idlePending: [UInt8] = []
        write(idle, "GET /warm HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try readResponse(idle, &idlePending).body, "done /warm")

        let busy = try connect(port)
        defer { close(busy) }
        write(busy, "GET /slow HTTP/1.1\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        let finished = expectation(description: "shutdown returned")
        DispatchQueue.global().async {
            server.shutdown(gracePeriod: 5)
            finished.fulfill()
        }
        let text = readToEnd(busy)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\n"), text)
        XCTAssertTrue(text.contains("Connection: close\r\n"))
        XCTAssertTrue(text.hasSuffix("done /slow"))
        XCTAssertEqual(readToEnd(idle), "")  // the idle keep-alive connection was closed
        wait(for: [finished], timeout: 5)
        XCTAssertTrue(server.isShuttingDown)
        XCTAssertEqual(server.connectionCount, 0)
        XCTAssertThrowsError(try connect(port))
    }

    func testAccessLogOncePerRequest() throws {
        final class Log: @unchecked Sendable {
            let lock = NSLock()
            var entries: [(String, String, Int)] = []
        }
        let log = Log()
        let server = try startServer(accessLog: { method, path, status, micros, _ in
            XCTAssertGreaterThanOrEqual(micros, 0)
            log.lock.withLock { log.entries.append((method, path, status)) }
        })
        let fd = try connect(server.port)
        var pending: [UInt8] = []
        write(fd, "GET /a HTTP/1.1\r\n\r\nDELETE /b?q HTTP/1.1\r\n\r\n")
        _ = try readResponse(fd, &pending)
        _ = try readResponse(fd, &pending)
        close(fd)
        let entries = log.lock.withLock { log.entries }
        XCTAssertEqual(entries.map(\.0), ["GET", "DELETE"])
        XCTAssertEqual(entries.map(\.1), ["/a", "/b"])
        XCTAssertEqual(entries.map(\.2), [200, 200])
    }

    func testStreamingResponseAndClientDisconnect() throws {
        let gone = DispatchSemaphore(value: 0)
        let server = try startServer(handler: { request in
            .eventStream { writer in
                for i in 1...3 { writer.writeEvent("tick \(i)", event: "t", id: String(i)) }
                if request.path == "/forever" {
                    while !writer.waitForClose(timeout: 5) {}
                    gone.signal()
                }
            }
        })
        let fd = try connect(server.port)
        var pending: [UInt8] = []
        write(fd, "GET /three HTTP/1.1\r\n\r\n")
        let response = try readResponse(fd, &pending)
        XCTAssertEqual(response.headers["Content-Type"], "text/event-stream")
        XCTAssertEqual(response.headers["Transfer-Encoding"], "chunked")
        XCTAssertEqual(response.body, "event: t\nid: 1\ndata: tick 1\n\nevent: t\nid: 2\ndata: tick 2\n\nevent: t\nid: 3\ndata: tick 3\n\n")
        // The connection stays usable after a finished stream.
        write(fd, "GET /forever HTTP/1.1\r\n\r\n")
        var chunk = [UInt8](repeating: 0, count: 256)
        XCTAssertGreaterThan(chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }, 0)
        close(fd)
        XCTAssertEqual(gone.wait(timeout: .now() + 3), .success, "writer did not notice the disconnect")
    }

    func testStartTwiceAndPortInUse() throws {
        let server = try startServer()
        XCTAssertThrowsError(try server.start()) { XCTAssertEqual($0 as? HTTPServerError, .alreadyStarted) }
        let other = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: server.port)) { _ in .text(.ok, "") }
        XCTAssertThrowsError(try other.start())
    }
}
