import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// Shared base of the HTTP API integration tests (docs/API.md): each test starts
/// the real `mmsim` binary on a free loopback port (ServerProcess), drives it
/// through URLSession or a raw socket, and on tear-down checks that the server
/// neither crashed nor logged an internal error. The API*Tests classes
/// subclass this for the helpers below.
class APITestCase: XCTestCase {

    private var servers: [ServerProcess] = []

    override func tearDown() {
        for server in servers {
            XCTAssertTrue(server.isRunning, "mmsim exited during the test (crashed?): \(server.crashSummary)")
            XCTAssertFalse(server.stderrText.contains("internal error"),
                           "the server logged an internal error: \(server.stderrText.suffix(2000))")
            server.stop()
        }
        servers = []
        super.tearDown()
    }

    // MARK: Helpers

    func start(_ arguments: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> ServerProcess {
        do {
            let server = try ServerProcess(arguments: arguments)
            servers.append(server)
            return server
        } catch {
            XCTFail("\(error)", file: file, line: line)
            throw error
        }
    }

    /// POST /v1/sessions; returns the id.
    func session(_ s: ServerProcess, _ body: String = "{}", file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = s.post("/v1/sessions", body)
        XCTAssertEqual(r.status, 201, "\(r)", file: file, line: line)
        return try XCTUnwrap(r.json["id"].string, "\(r)", file: file, line: line)
    }

    /// POST …/processes; returns the pid.
    func process(_ s: ServerProcess, _ sid: String, comm: String = "sim",
                         file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let r = s.post("/v1/sessions/\(sid)/processes", #"{"comm": "\#(comm)"}"#)
        XCTAssertEqual(r.status, 201, "\(r)", file: file, line: line)
        return try XCTUnwrap(r.json["pid"].int, "\(r)", file: file, line: line)
    }

    func syscall(_ s: ServerProcess, _ sid: String, _ pid: Int, _ name: String, _ body: String) -> APIResponse {
        s.post("/v1/sessions/\(sid)/processes/\(pid)/syscalls/\(name)", body)
    }

    func fault(_ s: ServerProcess, _ sid: String, _ pid: Int, _ body: String) -> APIResponse {
        s.post("/v1/sessions/\(sid)/processes/\(pid)/faults", body)
    }

    /// A simulated syscall that succeeded or failed: always HTTP 200 with `return`, `errno`, `strace`.
    func assertSyscall(_ r: APIResponse, returns expected: Any, errno: String? = nil,
                               strace: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        if let error = r.error { XCTFail(error, file: file, line: line); return }
        XCTAssertEqual(r.status, 200, "\(r)", file: file, line: line)
        XCTAssertEqual(r.contentType, "application/json", file: file, line: line)
        switch expected {
        case let s as String: XCTAssertEqual(r.json["return"].string, s, "\(r)", file: file, line: line)
        case let i as Int: XCTAssertEqual(r.json["return"].int, i, "\(r)", file: file, line: line)
        default: XCTFail("bad expectation", file: file, line: line)
        }
        if let errno {
            XCTAssertEqual(r.json["errno"].string, errno, "\(r)", file: file, line: line)
        } else {
            XCTAssertTrue(r.json["errno"].isNull, "errno should be null: \(r)", file: file, line: line)
        }
        if let strace {
            XCTAssertEqual(r.json["strace"].string, strace, "\(r)", file: file, line: line)
        } else {
            XCTAssertNotNil(r.json["strace"].string, "strace missing: \(r)", file: file, line: line)
        }
    }

    /// An HTTP error: status, `error.code`, a message containing `contains`, a request id.
    func assertError(_ r: APIResponse, _ status: Int, _ code: String, contains: String? = nil,
                             file: StaticString = #filePath, line: UInt = #line) {
        if let error = r.error { XCTFail(error, file: file, line: line); return }
        XCTAssertEqual(r.status, status, "\(r)", file: file, line: line)
        XCTAssertTrue(r.contentType.hasPrefix("application/json"), "\(r)", file: file, line: line)
        XCTAssertEqual(r.json["error"]["code"].string, code, "\(r)", file: file, line: line)
        let message = r.json["error"]["message"].string ?? ""
        XCTAssertFalse(message.isEmpty, "no message: \(r)", file: file, line: line)
        if let contains {
            XCTAssertTrue(message.contains(contains), "message '\(message)' should contain '\(contains)'", file: file, line: line)
        }
    }

    static let anonRW = #""prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED""#

    /// Everything observable about a session, for before/after comparisons.
    func snapshot(_ s: ServerProcess, _ sid: String, pids: [Int]) -> [String] {
        var out = ["/log", "/stats", "/anon_vmas", "/files", "/processes"].map { s.get("/v1/sessions/\(sid)\($0)").text }
        for pid in pids {
            out.append(s.get("/v1/sessions/\(sid)/processes/\(pid)/vmas").text)
            out.append(s.get("/v1/sessions/\(sid)/processes/\(pid)/pages").text)
        }
        return out
    }
}
