import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// API integration tests of HTTP error paths and limits (400, 404, 413, 422:
/// a failed request changes nothing), the service endpoints (healthz,
/// metrics, openapi.json) and static files with path traversal attempts.
final class APIErrorTests: APITestCase {
    // MARK: HTTP errors and limits

    func testMalformedRequestsAre400() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        let p = "/v1/sessions/\(sid)/processes/\(pid)"
        for body in ["{", "{\"addr\": }", "not json", "{\"length\": 4096,}", "\u{FEFF}{}", "{\"a\": \"\\x\"}", "[", "\"str\"", "{\"a\":1}{"] {
            let r = s.post(p + "/syscalls/mmap", body)
            XCTAssertEqual(r.status, 400, "body \(body.debugDescription): \(r)")
            XCTAssertEqual(r.json["error"]["code"].string, "bad_request", "\(r)")
            XCTAssertNotNil(r.json["error"]["request_id"].string, "\(r)")
        }
        assertError(s.post(p + "/syscalls/mmap", "{"), 400, "bad_request", contains: "JSON")
        // Wrong types name the field.
        assertError(s.post(p + "/syscalls/munmap", #"{"addr": "0x7f0000000000", "length": [4096]}"#), 400, "bad_request", contains: "'length'")
        assertError(s.post(p + "/syscalls/munmap", #"{"addr": {"x": 1}, "length": 4096}"#), 400, "bad_request", contains: "'addr'")
        assertError(s.post(p + "/syscalls/madvise", #"{"addr": "0x7f0000000000", "length": 4096, "advice": null}"#), 400, "bad_request", contains: "advice")
        assertError(s.post(p + "/syscalls/mprotect", #"{"addr": "0x7f0000000000", "length": 4096, "prot": "PROT_READ|PROT_WRITE|PROT_EXCE"}"#),
                    400, "bad_request", contains: "PROT_EXCE")
        assertError(s.post(p + "/syscalls/mprotect", #"{"addr": "0x7f0000000000", "length": 4096, "prot": ["PROT_READ", "prot_write"]}"#),
                    400, "bad_request", contains: "prot")
        assertError(s.post(p + "/syscalls/fork", "[]"), 400, "bad_request")
        assertError(s.post(p + "/faults", "7"), 400, "bad_request")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/log").json["ops"].count, 1, "nothing but the process was applied")
    }

    func testFailedRequestChangesNothing() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        let setup = s.post("/v1/sessions/\(sid)/ops", """
        {"ops": [{"op": "mmap", "pid": 1, "addr": "0x7f0000000000", "length": 32768, \(Self.anonRW)},
                 {"op": "touch", "pid": 1, "address": "0x7f0000000000", "pages": 3, "access": "write"},
                 {"op": "fork", "pid": 1}]}
        """)
        XCTAssertEqual(setup.status, 200, "\(setup)")
        let before = snapshot(s, sid, pids: [1, 2])
        XCTAssertTrue(before[2].contains("av2"), "non-trivial state: \(before[2])")
        let p = "/v1/sessions/\(sid)/processes/\(pid)"
        assertError(s.post(p + "/syscalls/mprotect", #"{"addr": "0x7f0000000000", "length": 8192, "prot": "PROT_NONE|PROT_NOPE"}"#), 400, "bad_request")
        assertError(s.post(p + "/syscalls/munmap", #"{"addr": "0x7f0000000000", "length": -1.5}"#), 400, "bad_request")
        assertError(s.post(p + "/syscalls/munmap", #"{"addr": "0x7f0000000000""#), 400, "bad_request")
        assertError(s.post(p + "/faults", #"{"address": "0x7f0000005000", "access": "write", "mode": "hypervisor"}"#), 400, "bad_request")
        assertError(s.post(p + "/syscalls/munmap2", #"{"addr": "0x7f0000000000", "length": 4096}"#), 404, "not_found")
        assertError(s.post("/v1/sessions/\(sid)/processes/9/syscalls/munmap", #"{"addr": "0x7f0000000000", "length": 4096}"#), 404, "not_found")
        assertError(s.post("/v1/sessions/\(sid)/files", #"{"path": ["/x"], "size": 4096}"#), 400, "bad_request", contains: "path")
        assertError(s.post("/v1/sessions/\(sid)/ops", #"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096}, {"op": "fault", "pid": 1}]}"#),
                    400, "bad_request", contains: "ops[1].address")
        XCTAssertEqual(snapshot(s, sid, pids: [1, 2]), before, "failed requests left the session unchanged")
    }

    func testLimitsAre422() throws {
        let s = try start(["--max_sessions", "3", "--max-processes-per-session", "2", "--max_batch_ops", "5"])
        let a = try session(s)
        _ = try session(s)
        let c = try session(s)
        assertError(s.post("/v1/sessions", "{}"), 422, "limit_exceeded")
        XCTAssertEqual(s.get("/healthz").json["sessions"].int, 3)
        XCTAssertEqual(s.delete("/v1/sessions/\(c)").status, 204)
        _ = try session(s)   // room again after a delete

        XCTAssertEqual(try process(s, a), 1)
        XCTAssertEqual(try process(s, a), 2)
        assertError(s.post("/v1/sessions/\(a)/processes", "{}"), 422, "limit_exceeded")
        assertError(syscall(s, a, 1, "fork", "{}"), 422, "limit_exceeded")
        XCTAssertEqual(s.get("/v1/sessions/\(a)/processes").json["processes"].count, 2)

        let five = Array(repeating: #"{"op": "brk", "pid": 1}"#, count: 5).joined(separator: ",")
        XCTAssertEqual(s.post("/v1/sessions/\(a)/ops", "{\"ops\": [\(five)]}").status, 200)
        let logBefore = s.get("/v1/sessions/\(a)/log").json["ops"].count
        assertError(s.post("/v1/sessions/\(a)/ops", "{\"ops\": [\(five), {\"op\": \"brk\", \"pid\": 1}]}"), 422, "limit_exceeded", contains: "6")
        XCTAssertEqual(s.get("/v1/sessions/\(a)/log").json["ops"].count, logBefore, "an over-limit batch applies nothing")
        // In a batch, the process limit is reported in place.
        let r = s.post("/v1/sessions/\(a)/ops", #"{"ops": [{"op": "process"}, {"op": "brk", "pid": 2}]}"#)
        XCTAssertEqual(r.json["results"][0]["error"]["code"].string, "limit_exceeded", "\(r)")
        XCTAssertNotNil(r.json["results"][1]["return"].string)
    }

    /// `max_session_ops` bounds a session's log: single operations and
    /// whole batches past it get 422 and change nothing (the state, the log);
    /// a new session has room again.
    func testSessionLogLimitIs422() throws {
        let s = try start(["--max_session_ops", "6"])
        let a = try session(s)
        XCTAssertEqual(try process(s, a), 1)   // log: 1 op
        let brk = #"{"op": "brk", "pid": 1}"#
        let four = Array(repeating: brk, count: 4).joined(separator: ",")
        XCTAssertEqual(s.post("/v1/sessions/\(a)/ops", "{\"ops\": [\(four)]}").status, 200)   // 5 ops
        let fiveMore = Array(repeating: brk, count: 2).joined(separator: ",")
        assertError(s.post("/v1/sessions/\(a)/ops", "{\"ops\": [\(fiveMore)], \"detail\": \"summary\"}"), 422, "limit_exceeded",
                    contains: "max_session_ops")
        XCTAssertEqual(s.get("/v1/sessions/\(a)/log").json["ops"].count, 5, "a refused batch logs nothing")
        let mmap = #"{"addr": "0x7f0000000000", "length": 4096, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}"#
        XCTAssertEqual(syscall(s, a, 1, "mmap", mmap).status, 200)   // the 6th op fits
        let vmas = s.get("/v1/sessions/\(a)/processes/1/vmas").json["vmas"].count
        assertError(syscall(s, a, 1, "munmap", #"{"addr": "0x7f0000000000", "length": 4096}"#), 422, "limit_exceeded", contains: "6 of 6")
        assertError(s.post("/v1/sessions/\(a)/processes/1/faults", #"{"address": "0x7f0000000000", "access": "write"}"#), 422, "limit_exceeded")
        XCTAssertEqual(s.get("/v1/sessions/\(a)/processes/1/vmas").json["vmas"].count, vmas, "a refused munmap unmapped nothing")
        XCTAssertEqual(s.get("/v1/sessions/\(a)/log").json["ops"].count, 6)
        XCTAssertEqual(s.get("/v1/sessions/\(a)/stats").json["faults"]["total"].int ?? 0, 0, "a refused fault ran nothing")
        let b = try session(s)
        XCTAssertEqual(try process(s, b), 1, "another session has its own room")
    }

    func testBodyOverLimitIs413() throws {
        let s = try start(["--max_body_bytes", "2048"])
        let small = #"{"name": "\#(String(repeating: "a", count: 1800))"}"#
        XCTAssertEqual(s.post("/v1/sessions", small).status, 201)
        let big = #"{"name": "\#(String(repeating: "a", count: 4000))"}"#
        let r = s.post("/v1/sessions", big)
        XCTAssertEqual(r.status, 413, "\(r)")
        XCTAssertEqual(r.json["error"]["code"].string, "too_large", "\(r)")
        // Announced by Content-Length, body never sent.
        let raw = try s.raw("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        XCTAssertEqual(raw.status, 413, "\(raw)")
        XCTAssertEqual(raw.json["error"]["code"].string, "too_large")
        // Chunked over the limit.
        let chunk = String(repeating: "b", count: 3000)
        let chunked = try s.raw("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\(String(chunk.utf8.count, radix: 16))\r\n\(chunk)\r\n0\r\n\r\n")
        XCTAssertEqual(chunked.status, 413, "\(chunked)")
        XCTAssertEqual(s.get("/healthz").json["sessions"].int, 1, "nothing created by a 413")
        XCTAssertEqual(s.get("/healthz").status, 200)
    }

    // MARK: Service endpoints

    func testHealthz() throws {
        let s = try start()
        let r = s.get("/healthz")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.contentType, "application/json")
        XCTAssertEqual(r.json["status"].string, "ok")
        // The same version `mmsim --version` prints.
        let version = try CLIRun(try ServerProcess.locateBinary(), ["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(r.json["version"].string, version)
        let head = try s.raw("HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", head: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertTrue(head.body.isEmpty)
        XCTAssertEqual(head.headers["content-length"], r.headers["content-length"])
    }

    func testMetricsCountRequestsSessionsAndFaults() throws {
        let s = try start()
        let a = try session(s)
        let b = try session(s, #"{"kernel": "6.4"}"#)
        _ = try session(s)
        assertError(s.post("/v1/sessions", #"{"kernel": "2.6"}"#), 400, "bad_request")
        for sid in [a, b] {
            XCTAssertEqual(try process(s, sid), 1)
            _ = s.post("/v1/sessions/\(sid)/ops", """
            {"detail": "summary", "ops": [{"op": "mmap", "pid": 1, "addr": "0x7f0000000000", "length": 16384, \(Self.anonRW)},
             {"op": "touch", "pid": 1, "address": "0x7f0000000000", "pages": 4, "access": "write"}]}
            """)
        }
        _ = fault(s, a, 1, #"{"address": "0x1000"}"#)
        XCTAssertEqual(s.delete("/v1/sessions/\(b)").status, 204)
        XCTAssertEqual(s.get("/v1/sessions/nope").status, 404)

        let m = s.get("/metrics")
        XCTAssertEqual(m.status, 200)
        XCTAssertTrue(m.contentType.hasPrefix("text/plain"), m.contentType)
        var values: [String: Double] = [:]
        for line in m.text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let sp = line.lastIndex(of: " "), let v = Double(line[line.index(after: sp)...]) else {
                XCTFail("not a Prometheus sample line: \(line)"); continue
            }
            values[String(line[..<sp])] = v
        }
        for name in ["mmsim_http_requests_total", "mmsim_http_request_duration_seconds", "mmsim_sessions_live", "mmsim_faults_total"] {
            XCTAssertTrue(m.text.contains("# TYPE \(name) "), "no TYPE line for \(name)")
        }
        XCTAssertEqual(values[#"mmsim_http_requests_total{route="/v1/sessions",status="201"}"#], 3, m.text)
        XCTAssertEqual(values[#"mmsim_http_requests_total{route="/v1/sessions",status="400"}"#] ??
                       values[#"mmsim_http_requests_total{route="error",status="400"}"#], 1, m.text)
        XCTAssertEqual(values[#"mmsim_http_requests_total{route="/v1/sessions/{sid}/ops",status="200"}"#], 2, m.text)
        XCTAssertEqual(values[#"mmsim_http_requests_total{route="/v1/sessions/{sid}",status="204"}"#], 1, m.text)
        XCTAssertEqual(values["mmsim_sessions_live"], 2, m.text)
        // Counted requests = histogram count = sum of the per-route counters; buckets are cumulative.
        let total = values.filter { $0.key.hasPrefix("mmsim_http_requests_total{") }.values.reduce(0, +)
        XCTAssertEqual(values["mmsim_http_request_duration_seconds_count"], total)
        XCTAssertEqual(values[#"mmsim_http_request_duration_seconds_bucket{le="+Inf"}"#], total)
        XCTAssertEqual(total, 11, "3 + 1 session creations, 2 processes, 2 batches, 1 fault, 1 delete, 1 404")
        let buckets = m.text.split(separator: "\n").filter { $0.hasPrefix("mmsim_http_request_duration_seconds_bucket") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
        XCTAssertEqual(buckets, buckets.sorted(), "cumulative buckets")
        // 6.18: first write VMA_OK_TRYLOCK + 3 × VMA_OK on the VMA lock; 6.4: NO_ANON_VMA then 3 × VMA_OK;
        // the SIGSEGV at 0x1000 goes to lock_mm_and_find_vma under 6.18 (no VMA).
        XCTAssertEqual(values[#"mmsim_faults_total{lock="vma_lock"}"#], 7, m.text)
        XCTAssertEqual(values[#"mmsim_faults_total{lock="mmap_lock"}"#], 2, m.text)
    }

    func testOpenAPIDocumentsEveryRoute() throws {
        let s = try start()
        let r = s.get("/openapi.json")
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.contentType.hasPrefix("application/json"))
        XCTAssertEqual(r.json["openapi"].string, "3.1.0")
        XCTAssertNotNil(r.json["info"]["title"].string)
        let paths = r.json["paths"]
        let expected: [(String, String)] = [
            ("/healthz", "get"), ("/metrics", "get"), ("/openapi.json", "get"), ("/v1/kernels", "get"),
            ("/v1/sessions", "post"), ("/v1/sessions", "get"), ("/v1/sessions/{sid}", "get"), ("/v1/sessions/{sid}", "delete"),
            ("/v1/sessions/{sid}/stats", "get"), ("/v1/sessions/{sid}/anon_vmas", "get"), ("/v1/sessions/{sid}/log", "get"),
            ("/v1/sessions/{sid}/events", "get"), ("/v1/sessions/{sid}/files", "post"), ("/v1/sessions/{sid}/files", "get"),
            ("/v1/sessions/{sid}/processes", "post"), ("/v1/sessions/{sid}/processes", "get"),
            ("/v1/sessions/{sid}/processes/{pid}", "get"), ("/v1/sessions/{sid}/processes/{pid}/vmas", "get"),
            ("/v1/sessions/{sid}/processes/{pid}/maps", "get"), ("/v1/sessions/{sid}/processes/{pid}/smaps", "get"),
            ("/v1/sessions/{sid}/processes/{pid}/pages", "get"),
            ("/v1/sessions/{sid}/processes/{pid}/syscalls/{name}", "post"),
            ("/v1/sessions/{sid}/processes/{pid}/faults", "post"), ("/v1/sessions/{sid}/ops", "post"),
            ("/v1/sessions/{sid}/replay", "post"), ("/v1/compare", "post"),
        ]
        for (path, method) in expected {
            let op = paths[path][method]
            XCTAssertTrue(op.exists, "\(method.uppercased()) \(path) missing from /openapi.json")
            XCTAssertTrue(op["responses"].count > 0, "\(method) \(path) has no responses")
            for name in ["sid", "pid", "name"] where path.contains("{\(name)}") {
                XCTAssertTrue(op["parameters"].array.contains { $0["name"].string == name && $0["in"].string == "path" },
                              "\(method) \(path) does not declare path parameter \(name)")
            }
        }
        // Every $ref resolves.
        let text = r.text
        var refs = Set<String>()
        var rest = Substring(text)
        while let range = rest.range(of: "\"$ref\":\"#/components/schemas/") {
            let tail = rest[range.upperBound...]
            if let end = tail.firstIndex(of: "\"") { refs.insert(String(tail[..<end])) }
            rest = tail
        }
        XCTAssertFalse(refs.isEmpty)
        for ref in refs { XCTAssertTrue(r.json["components"]["schemas"][ref].exists, "dangling $ref \(ref)") }
    }

    func testStaticFilesAndTraversal() throws {
        let s = try start()
        let index = s.get("/")
        XCTAssertEqual(index.status, 200)
        XCTAssertTrue(index.contentType.hasPrefix("text/html"), index.contentType)
        XCTAssertEqual(index.text, ServerProcess.indexHTML)
        XCTAssertEqual(s.get("/index.html").text, ServerProcess.indexHTML)
        let js = s.get("/app.js")
        XCTAssertEqual(js.status, 200)
        XCTAssertTrue(js.contentType.contains("javascript"), js.contentType)
        XCTAssertEqual(s.get("/missing.css").status, 404)
        XCTAssertEqual(s.request("POST", "/index.html", body: Data("{}".utf8)).status, 405)

        // A secret next to the public dir, and a symlink inside it pointing out.
        let secretName = s.publicDir.lastPathComponent + "-secret.txt"
        let secret = s.publicDir.deletingLastPathComponent().appendingPathComponent(secretName)
        try Data("TOP SECRET\n".utf8).write(to: secret)
        defer { try? FileManager.default.removeItem(at: secret) }
        try FileManager.default.createSymbolicLink(atPath: s.publicDir.appendingPathComponent("link.txt").path, withDestinationPath: secret.path)
        for path in ["/../etc/passwd", "/%2e%2e/etc/passwd", "/../\(secretName)", "/%2e%2e/\(secretName)",
                     "/%2E%2E/%2E%2E/etc/passwd", "/..%2f\(secretName)", "/%2e%2e%2f\(secretName)", "/./../\(secretName)",
                     "/link.txt", "/v1/../../\(secretName)", "/.%2e/\(secretName)", "//etc/passwd", "/..\\\(secretName)",
                     "/%252e%252e/\(secretName)", "/index.html%00.txt"] {
            let r = try s.raw("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            XCTAssertTrue([400, 404].contains(r.status), "\(path): \(r.statusLine)")
            XCTAssertFalse(r.text.contains("TOP SECRET") || r.text.contains("root:"), "\(path) leaked: \(r.text.prefix(200))")
        }
        for path in ["/../etc/passwd", "/%2e%2e/etc/passwd"] {
            XCTAssertEqual(try s.raw("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 404, path)
        }
    }
}
