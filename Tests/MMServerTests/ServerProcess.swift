import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The real `mmsim` executable, started as a child process on `--port 0` for
/// the API integration tests (APITests), and the two clients the tests use:
/// URLSession (libcurl underneath, like any external client) and a raw POSIX
/// socket for what URLSession cannot send or read (dot segments in paths,
/// Server-Sent Events, malformed requests).
final class ServerProcess: @unchecked Sendable {
    /// Where the binary was found, for messages.
    let binary: String
    /// `http://127.0.0.1:PORT` without a trailing slash.
    let baseURL: String
    let port: Int
    let publicDir: URL
    private let process: Process
    private let output = OutputCollector()
    private let session: URLSession

    enum StartError: Error, CustomStringConvertible {
        case binaryMissing(String)
        case noURL(String)
        var description: String {
            switch self {
            case let .binaryMissing(m): m
            case let .noURL(m): m
            }
        }
    }

    /// The package root, from this file's path (Tests/MMServerTests/ServerProcess.swift).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `mmsim` binary to test: `$MMSIM_BIN`; else the `mmsim` built next to
    /// this test binary (same build, so same sources — `swift test` builds it);
    /// else `<package root>/.build/debug/mmsim`.
    static func locateBinary() throws -> String {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["MMSIM_BIN"], !env.isEmpty {
            guard fm.isExecutableFile(atPath: env) else {
                throw StartError.binaryMissing("MMSIM_BIN=\(env) is not an executable file")
            }
            return env
        }
        var candidates: [String] = []
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            // …/debug/mmsimPackageTests.xctest → …/debug/mmsim
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("mmsim").path)
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/mmsim").path)
        for c in candidates where fm.isExecutableFile(atPath: c) { return c }
        throw StartError.binaryMissing("""
            mmsim binary not found (looked at \(candidates.joined(separator: ", "))). \
            Run `swift build` in \(packageRoot.path) before `swift test`, or set MMSIM_BIN to the binary.
            """)
    }

    /// Starts the server with `arguments` added to `--port 0 --access_log false
    /// --public <temp dir>`; the temp public dir holds `index.html` and `app.js`.
    init(arguments: [String] = []) throws {
        binary = try Self.locateBinary()
        let fm = FileManager.default
        publicDir = fm.temporaryDirectory.appendingPathComponent("mmsim-api-\(UUID().uuidString)")
        try fm.createDirectory(at: publicDir, withIntermediateDirectories: true)
        try Data(Self.indexHTML.utf8).write(to: publicDir.appendingPathComponent("index.html"))
        try Data("console.log('mmsim test');\n".utf8).write(to: publicDir.appendingPathComponent("app.js"))

        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        // Run from the temp dir so config/mmsim.json of the package is not read:
        // the defaults plus these flags are the whole configuration.
        process.currentDirectoryURL = publicDir
        process.arguments = ["--port", "0", "--host", "127.0.0.1", "--access_log", "false",
                             "--public", publicDir.path] + arguments
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("MMSIM_") { env.removeValue(forKey: key) }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        output.drain(out.fileHandleForReading, stream: .stdout)
        output.drain(err.fileHandleForReading, stream: .stderr)
        try process.run()

        guard let line = output.firstLine(timeout: 20) else {
            process.terminate()
            throw StartError.noURL("mmsim (\(binary)) printed no first line within 20 s; stderr: \(output.stderrText)")
        }
        // "mmsim listening on http://127.0.0.1:PORT/ (public: …)"
        guard let r = line.range(of: "listening on "),
              let url = line[r.upperBound...].split(separator: " ").first,
              let portText = url.split(separator: ":").last?.split(separator: "/").first,
              let port = Int(portText), port > 0 else {
            process.terminate()
            throw StartError.noURL("unexpected first line from mmsim: \(line)")
        }
        self.port = port
        var base = String(url)
        while base.hasSuffix("/") { base.removeLast() }
        baseURL = base

        let config = URLSessionConfiguration.ephemeral
        config.urlCache = nil
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.timeoutIntervalForRequest = 60
        config.httpMaximumConnectionsPerHost = 4
        session = URLSession(configuration: config)
    }

    static let indexHTML = "<!doctype html><html><head><title>mmsim test page</title></head><body>visualizer</body></html>\n"

    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }
    var stderrText: String { output.stderrText }

    /// Stops the server (SIGTERM, then SIGKILL after `grace` seconds) and
    /// removes the temp dir. Returns whether it was still running, i.e. had not crashed.
    @discardableResult
    func stop(grace: Double = 8) -> Bool {
        session.invalidateAndCancel()
        let wasRunning = process.isRunning
        if wasRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(grace)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        }
        try? FileManager.default.removeItem(at: publicDir)
        return wasRunning
    }

    deinit { if process.isRunning { stop() } }

    // MARK: URLSession client

    /// Sends one request through URLSession and waits for the answer.
    func request(_ method: String, _ path: String, body: Data? = nil,
                 headers: [String: String] = [:], timeout: Double = 60) -> APIResponse {
        guard let url = URL(string: baseURL + path) else {
            return APIResponse(status: -1, headers: [:], body: Data(), error: "bad URL \(baseURL + path)")
        }
        var req = URLRequest(url: url)
        req.httpMethod = method
        req.timeoutInterval = timeout
        if let body {
            req.httpBody = body
            req.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        for (k, v) in headers { req.setValue(v, forHTTPHeaderField: k) }
        let box = ResultBox()
        let sem = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: req) { data, response, error in
            box.set(data: data, response: response as? HTTPURLResponse, error: error)
            sem.signal()
        }
        task.resume()
        if sem.wait(timeout: .now() + timeout + 5) == .timedOut {
            task.cancel()
            return APIResponse(status: -1, headers: [:], body: Data(), error: "\(method) \(path): no answer in \(timeout) s")
        }
        var result = box.result(method: method, path: path)
        if result.error != nil {
            // A crashing server prints its backtrace before it exits: give it a moment.
            let deadline = Date().addingTimeInterval(3)
            while process.isRunning && Date() < deadline && stderrText.contains("crashed:") { usleep(50_000) }
            usleep(50_000)
            if !process.isRunning {
                result.error = "mmsim died (exit status \(process.terminationStatus)) on \(method) \(path): \(crashSummary)"
            }
        }
        return result
    }

    /// The lines of the server's stderr that say why it stopped (Swift runtime
    /// failures and fatal errors print these before the backtrace).
    var crashSummary: String {
        let lines = stderrText.split(separator: "\n").filter {
            $0.contains("Fatal error") || $0.contains("runtime failure") || $0.contains("Crash") || $0.contains("internal error")
        }
        // …and the first frame in a source file, where it happened.
        let all = stderrText.split(separator: "\n")
        let crashed = all.firstIndex { $0.contains("crashed:") } ?? all.startIndex
        let frame = all[crashed...].first { $0.contains(" in mmsim at /") && $0.contains(".swift:") }
        let why = lines.prefix(2).map { $0.trimmingCharacters(in: .whitespaces) } + (frame.map { [$0.trimmingCharacters(in: .whitespaces)] } ?? [])
        return why.isEmpty ? String(stderrText.suffix(500)) : why.joined(separator: " | ")
    }

    func get(_ path: String) -> APIResponse { request("GET", path) }
    func delete(_ path: String) -> APIResponse { request("DELETE", path) }
    /// POSTs `json` text as is (so tests can send malformed JSON).
    func post(_ path: String, _ json: String) -> APIResponse { request("POST", path, body: Data(json.utf8)) }
    /// POSTs a JSON-serializable object.
    func post(_ path: String, object: Any) -> APIResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return request("POST", path, body: data)
    }

    // MARK: Raw socket client

    /// A fresh TCP connection to the server.
    func connect(timeout: Double = 10) throws -> RawConnection { try RawConnection(port: port, timeout: timeout) }

    /// Sends `bytes` on a fresh connection and reads one response.
    func raw(_ text: String, head: Bool = false, timeout: Double = 10) throws -> RawResponse {
        let c = try connect(timeout: timeout)
        defer { c.close() }
        try c.send(Array(text.utf8))
        return try c.readResponse(head: head)
    }
}

/// One answer as URLSession saw it.
struct APIResponse: CustomStringConvertible {
    let status: Int
    /// Header names lower-cased.
    let headers: [String: String]
    let body: Data
    /// Transport error, if the request did not complete.
    var error: String?

    var text: String { String(decoding: body, as: UTF8.self) }
    var contentType: String { headers["content-type"] ?? "" }
    /// The body parsed as JSON (`.missing` if it is not JSON).
    var json: JSONNode {
        guard let v = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else { return JSONNode(nil) }
        return JSONNode(v)
    }
    var description: String {
        "HTTP \(status) \(contentType) \(error.map { "error: \($0) " } ?? "")\(text.prefix(600))"
    }
}

/// Read-only navigation of a JSONSerialization value; missing paths give nil leaves.
struct JSONNode: CustomStringConvertible {
    let value: Any?
    init(_ value: Any?) { self.value = value }

    subscript(key: String) -> JSONNode { JSONNode((value as? [String: Any])?[key] ?? nil) }
    subscript(index: Int) -> JSONNode {
        guard let a = value as? [Any], index >= 0, index < a.count else { return JSONNode(nil) }
        return JSONNode(a[index])
    }
    var exists: Bool { value != nil }
    var isNull: Bool { value is NSNull }
    var string: String? { value as? String }
    /// An integer (JSON true/false are not integers).
    var int: Int? {
        guard let n = value as? NSNumber, !isBoolNumber(n) else { return nil }
        return value as? Int
    }
    /// A boolean (JSON 0/1 are not booleans).
    var bool: Bool? {
        guard let n = value as? NSNumber, isBoolNumber(n) else { return nil }
        return n.boolValue
    }
    var array: [JSONNode] { (value as? [Any])?.map { JSONNode($0) } ?? [] }
    var isArray: Bool { value is [Any] }
    var keys: [String] { (value as? [String: Any]).map { Array($0.keys) } ?? [] }
    var count: Int { (value as? [Any])?.count ?? (value as? [String: Any])?.count ?? 0 }
    var description: String {
        guard let value, JSONSerialization.isValidJSONObject(value),
              let d = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else {
            return String(describing: value)
        }
        return String(decoding: d, as: UTF8.self)
    }
}

/// JSONSerialization gives booleans as NSNumbers of ObjC type "c" (char).
private func isBoolNumber(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

/// Collects a URLSession completion across threads.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?
    private var response: HTTPURLResponse?
    private var error: Error?

    func set(data: Data?, response: HTTPURLResponse?, error: Error?) {
        lock.withLock { self.data = data; self.response = response; self.error = error }
    }

    func result(method: String, path: String) -> APIResponse {
        lock.withLock {
            guard let response else {
                return APIResponse(status: -1, headers: [:], body: data ?? Data(),
                                   error: "\(method) \(path): \(error.map { "\($0)" } ?? "no response")")
            }
            var headers: [String: String] = [:]
            for (k, v) in response.allHeaderFields {
                if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
            }
            return APIResponse(status: response.statusCode, headers: headers, body: data ?? Data(), error: nil)
        }
    }
}

/// Drains the child's stdout and stderr on background threads.
private final class OutputCollector: @unchecked Sendable {
    enum Stream { case stdout, stderr }
    private let cond = NSCondition()
    private var stdout = Data()
    private var stderr = Data()

    func drain(_ handle: FileHandle, stream: Stream) {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                cond.lock()
                if stream == .stdout { stdout.append(chunk) } else { stderr.append(chunk) }
                cond.broadcast()
                cond.unlock()
                if chunk.isEmpty { return }
            }
        }
    }

    func firstLine(timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        cond.lock()
        defer { cond.unlock() }
        while true {
            if let nl = stdout.firstIndex(of: 10) {
                return String(decoding: stdout[stdout.startIndex..<nl], as: UTF8.self)
            }
            if !cond.wait(until: deadline) { return nil }
        }
    }

    var stderrText: String { cond.withLock { String(decoding: stderr, as: UTF8.self) } }
}

// MARK: - Raw HTTP over a POSIX socket

struct RawResponse: CustomStringConvertible {
    let statusLine: String
    let status: Int
    /// Header names lower-cased; repeated headers joined with ", ".
    let headers: [String: String]
    let body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONNode {
        JSONNode(try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]))
    }
    var description: String { "\(statusLine) \(headers) \(text.prefix(400))" }
}

enum RawError: Error, CustomStringConvertible {
    case connect(Int32), send(Int32), closed(String), timeout(String), malformed(String)
    var description: String {
        switch self {
        case let .connect(e): "connect failed: errno \(e)"
        case let .send(e): "send failed: errno \(e)"
        case let .closed(m): "connection closed: \(m)"
        case let .timeout(m): "timed out: \(m)"
        case let .malformed(m): "malformed response: \(m)"
        }
    }
}

/// A blocking client connection with a receive timeout.
final class RawConnection {
    let fd: Int32
    /// Bytes received and not yet consumed.
    private(set) var pending: [UInt8] = []
    private var isClosed = false

    init(port: Int, timeout: Double) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawError.connect(errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { let e = errno; Glibc.close(fd); throw RawError.connect(e) }
        setTimeout(timeout)
    }

    deinit { close() }

    func close() {
        if !isClosed { isClosed = true; Glibc.close(fd) }
    }

    func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; throw RawError.send(errno) }
            off += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Receives more bytes; false at EOF. Throws on timeout.
    @discardableResult
    func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { pending += chunk[0..<n]; return true }
            if n == 0 { return false }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw RawError.timeout("no data (have \(pending.count) bytes)") }
            throw RawError.closed("recv errno \(errno)")
        }
    }

    /// Reads until `predicate` holds on everything received so far, EOF, or `timeout`.
    func read(until predicate: (String) -> Bool, timeout: Double) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while !predicate(String(decoding: pending, as: UTF8.self)) && Date() < deadline {
            setTimeout(max(0.05, min(1, deadline.timeIntervalSinceNow)))
            do { if try !fill() { break } } catch RawError.timeout { continue } catch { break }
        }
        return String(decoding: pending, as: UTF8.self)
    }

    private func line() throws -> String {
        while true {
            if let i = pending.firstIndex(of: 10) {
                var bytes = Array(pending[..<i])
                if bytes.last == 13 { bytes.removeLast() }
                pending.removeFirst(i + 1)
                return String(decoding: bytes, as: UTF8.self)
            }
            guard try fill() else { throw RawError.closed("in a header line (have \(pending.count) bytes)") }
        }
    }

    private func take(_ n: Int) throws -> [UInt8] {
        while pending.count < n {
            guard try fill() else { throw RawError.closed("body short: \(pending.count) of \(n) bytes") }
        }
        defer { pending.removeFirst(n) }
        return Array(pending[..<n])
    }

    /// Reads exactly one response: Content-Length, chunked, or until close.
    func readResponse(head: Bool = false) throws -> RawResponse {
        let statusLine = try line()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw RawError.malformed("status line \(statusLine.debugDescription)")
        }
        var headers: [String: String] = [:]
        while true {
            let text = try line()
            if text.isEmpty { break }
            guard let colon = text.firstIndex(of: ":") else { throw RawError.malformed("header \(text.debugDescription)") }
            let name = text[..<colon].lowercased()
            let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        var body: [UInt8] = []
        if head || status == 204 || status == 304 || (100..<200).contains(status) {
        } else if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                let sizeLine = try line()
                guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                    throw RawError.malformed("chunk size \(sizeLine.debugDescription)")
                }
                if size == 0 { break }
                body += try take(size)
                _ = try take(2)
            }
            while try !line().isEmpty {}
        } else if let cl = headers["content-length"] {
            guard let n = Int(cl), n >= 0 else { throw RawError.malformed("Content-Length \(cl)") }
            body = try take(n)
        } else {
            while try fill() {}
            body = pending
            pending = []
        }
        return RawResponse(statusLine: statusLine, status: status, headers: headers, body: body)
    }
}
