import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// API integration tests of sessions as a whole: the kernel list, session
/// create/list/get/delete, the op log and its live Server-Sent Events stream,
/// determinism, and concurrent sessions over kept-alive connections.
final class APISessionTests: APITestCase {
    // MARK: Kernels and sessions

    func testKernelsListsTheRequiredModels() throws {
        let s = try start()
        let r = s.get("/v1/kernels")
        XCTAssertEqual(r.status, 200, "\(r)")
        XCTAssertEqual(r.contentType, "application/json")
        let kernels = r.json["kernels"].array
        let ids = kernels.compactMap { $0["id"].string }
        for id in ["6.3", "v3-patch", "6.4", "6.18"] { XCTAssertTrue(ids.contains(id), "missing kernel \(id) in \(ids)") }
        XCTAssertEqual(Set(ids).count, ids.count, "duplicate ids \(ids)")
        for k in kernels {
            XCTAssertFalse((k["title"].string ?? "").isEmpty, "\(k)")
            XCTAssertGreaterThan((k["summary"].string ?? "").count, 40, "summary should be a paragraph: \(k)")
        }
        XCTAssertEqual(r.json["default"].string, "6.18")
    }

    func testSessionCreateListGetDelete() throws {
        let s = try start()
        let r1 = s.post("/v1/sessions", "{}")
        XCTAssertEqual(r1.status, 201, "\(r1)")
        let a = try XCTUnwrap(r1.json["id"].string)
        XCTAssertEqual(r1.json["kernel"].string, "6.18", "default model")
        XCTAssertEqual(r1.json["options"]["eager_anon_vma"].bool, false)
        XCTAssertEqual(r1.json["options"]["skip_mergeable_for_file"].bool, false)
        XCTAssertTrue(r1.json["name"].isNull)
        XCTAssertNotNil(r1.json["created_at"].string)
        XCTAssertEqual(r1.json["processes"].count, 0)
        XCTAssertTrue(r1.json["processes"].isArray)
        // Unguessable: a UUID's 122 random bits.
        XCTAssertNotNil(UUID(uuidString: a), "session id \(a) should be a UUID")

        let r2 = s.post("/v1/sessions", #"{"kernel": "6.4", "name": "libc load", "options": {"eager_anon_vma": true}}"#)
        XCTAssertEqual(r2.status, 201, "\(r2)")
        let b = try XCTUnwrap(r2.json["id"].string)
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(r2.json["kernel"].string, "6.4")
        XCTAssertEqual(r2.json["name"].string, "libc load")
        XCTAssertEqual(r2.json["options"]["eager_anon_vma"].bool, true)
        XCTAssertEqual(r2.json["options"]["skip_mergeable_for_file"].bool, false)

        // Ids are capabilities: the list shows only the ids presented.
        XCTAssertEqual(s.get("/v1/sessions").json["sessions"].count, 0, "nothing listed without ids")
        let list = s.get("/v1/sessions?ids=\(a),\(b),no-such-session")
        XCTAssertEqual(list.status, 200)
        XCTAssertEqual(list.json["sessions"].array.compactMap { $0["id"].string }.sorted(), [a, b].sorted())

        _ = try process(s, b, comm: "cat")
        let got = s.get("/v1/sessions/\(b)")
        XCTAssertEqual(got.status, 200, "\(got)")
        XCTAssertEqual(got.json["id"].string, b)
        XCTAssertEqual(got.json["kernel"].string, "6.4")
        XCTAssertEqual(got.json["processes"][0]["pid"].int, 1)
        XCTAssertEqual(got.json["processes"][0]["comm"].string, "cat")

        let del = s.delete("/v1/sessions/\(b)")
        XCTAssertEqual(del.status, 204, "\(del)")
        XCTAssertTrue(del.body.isEmpty)
        assertError(s.get("/v1/sessions/\(b)"), 404, "not_found")
        assertError(s.get("/v1/sessions/\(b)/processes/1/vmas"), 404, "not_found")
        assertError(s.delete("/v1/sessions/\(b)"), 404, "not_found")
        XCTAssertEqual(s.get("/v1/sessions?ids=\(a),\(b)").json["sessions"].array.compactMap { $0["id"].string }, [a])
        XCTAssertEqual(s.get("/v1/sessions/\(a)").status, 200, "the other session is untouched")
    }

    func testSessionCreateRejectsBadInput() throws {
        let s = try start()
        assertError(s.post("/v1/sessions", #"{"kernel": "7.0"}"#), 400, "bad_request", contains: "kernel")
        assertError(s.post("/v1/sessions", #"{"kernel": 6.18}"#), 400, "bad_request", contains: "kernel")
        assertError(s.post("/v1/sessions", #"{"options": {"bogus": true}}"#), 400, "bad_request", contains: "bogus")
        assertError(s.post("/v1/sessions", #"{"options": {"eager_anon_vma": "yes"}}"#), 400, "bad_request", contains: "eager_anon_vma")
        assertError(s.post("/v1/sessions", "[1, 2]"), 400, "bad_request")
        assertError(s.post("/v1/sessions", #"{"kernel": "6.18""#), 400, "bad_request", contains: "JSON")
        XCTAssertEqual(s.get("/healthz").json["sessions"].int, 0, "no session was created by a 400")
    }

    // MARK: Log and events

    func testLogReplaysTheSession() throws {
        let s = try start()
        let sid = try session(s)
        _ = s.post("/v1/sessions/\(sid)/files", #"{"path": "/f", "size": 8192}"#)
        let pid = try process(s, sid, comm: "cat")
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": "0x7f0000000000", "length": 16384, \#(Self.anonRW)}"#), returns: "0x7f0000000000")
        _ = fault(s, sid, pid, #"{"address": "0x7f0000000000", "access": "write", "inject": {"mmap_lock_contended": true}}"#)
        assertSyscall(syscall(s, sid, pid, "fork", "{}"), returns: 2)
        _ = syscall(s, sid, pid, "mmap", #"{"addr": null, "length": 4096, "prot": "PROT_BAD", "flags": "MAP_PRIVATE"}"#) // 400: not logged

        let log = s.get("/v1/sessions/\(sid)/log")
        XCTAssertEqual(log.status, 200)
        let ops = log.json["ops"].array
        XCTAssertEqual(ops.compactMap { $0["op"].string }, ["file", "process", "mmap", "fault", "fork"])
        XCTAssertEqual(ops[2]["pid"].int, 1)
        XCTAssertEqual(ops[3]["inject"]["mmap_lock_contended"].bool, true)

        // The log is "the JSON that would replay it": replaying it as a batch into
        // a fresh session gives the same state.
        let replay = try session(s)
        let body = try JSONSerialization.data(withJSONObject: ["ops": log.json["ops"].value!])
        let r = s.request("POST", "/v1/sessions/\(replay)/ops", body: body)
        XCTAssertEqual(r.status, 200, "\(r)")
        for path in ["/anon_vmas", "/processes", "/processes/1/vmas", "/processes/2/vmas", "/processes/2/pages", "/files"] {
            XCTAssertEqual(s.get("/v1/sessions/\(replay)\(path)").text, s.get("/v1/sessions/\(sid)\(path)").text, path)
        }
        XCTAssertEqual(s.get("/v1/sessions/\(replay)/log").json.description, log.json.description)
    }

    func testEventsStreamLiveOperations() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        let conn = try s.connect(timeout: 10)
        defer { conn.close() }
        try conn.send("GET /v1/sessions/\(sid)/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        // The log so far (the process) arrives first.
        var got = conn.read(until: { $0.contains("\"seq\":1") && $0.contains("\n\n") }, timeout: 10)
        XCTAssertTrue(got.hasPrefix("HTTP/1.1 200"), got)
        XCTAssertTrue(got.lowercased().contains("content-type: text/event-stream"), got)
        XCTAssertTrue(got.contains("id: 1\n"), got)

        // An operation applied through another connection is pushed live.
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": "0x7f0000000000", "length": 4096, \#(Self.anonRW)}"#), returns: "0x7f0000000000")
        got = conn.read(until: { $0.contains("\"seq\":2") && $0.hasSuffix("\n\n") || $0.contains("\"seq\":2") && $0.contains("\n\n", after: "\"seq\":2") }, timeout: 10)
        XCTAssertTrue(got.contains("event: op\n"), got)
        XCTAssertTrue(got.contains("id: 2\n"), got)
        let dataLines = got.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") && $0.contains("\"seq\":2") }
        XCTAssertEqual(dataLines.count, 1, got)
        let event = JSONNode(try? JSONSerialization.jsonObject(with: Data(dataLines[0].dropFirst(6).utf8)))
        XCTAssertEqual(event["seq"].int, 2)
        XCTAssertEqual(event["op"]["op"].string, "mmap")
        XCTAssertEqual(event["result"]["return"].string, "0x7f0000000000")

        // A fault too, with its lock path.
        _ = fault(s, sid, pid, #"{"address": "0x7f0000000000", "access": "write"}"#)
        got = conn.read(until: { $0.contains("\"seq\":3") && $0.contains("\n\n", after: "\"seq\":3") }, timeout: 10)
        XCTAssertTrue(got.contains("VMA_OK_TRYLOCK"), got)

        // Last-Event-ID resumes after the given id.
        let resume = try s.connect(timeout: 10)
        defer { resume.close() }
        try resume.send("GET /v1/sessions/\(sid)/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 2\r\n\r\n")
        let r2 = resume.read(until: { $0.contains("\"seq\":3") && $0.contains("\n\n", after: "\"seq\":3") }, timeout: 10)
        XCTAssertTrue(r2.contains("id: 3\n"), r2)
        XCTAssertFalse(r2.contains("id: 1\n") || r2.contains("id: 2\n"), r2)

        // Deleting the session ends the stream (terminating chunk or close).
        XCTAssertEqual(s.delete("/v1/sessions/\(sid)").status, 204)
        let end = conn.read(until: { $0.hasSuffix("0\r\n\r\n") }, timeout: 10)
        XCTAssertTrue(end.hasSuffix("0\r\n\r\n"), "stream should end after DELETE: …\(end.suffix(200))")
        assertError(s.get("/v1/sessions/\(sid)/events"), 404, "not_found")
    }

    // MARK: Determinism

    func testSameOpsGiveIdenticalState() throws {
        let s = try start()
        let workload = """
        {"ops": [
          {"op": "file", "path": "/usr/lib/libc.so.6", "size": 1970000},
          {"op": "process", "comm": "det"},
          {"op": "open", "pid": 1, "path": "/usr/lib/libc.so.6", "flags": "O_RDONLY"},
          {"op": "mmap", "pid": 1, "addr": null, "length": 1970000, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_DENYWRITE", "fd": 3, "offset": 0},
          {"op": "mmap", "pid": 1, "addr": null, "length": 65536, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS"},
          {"op": "mmap", "pid": 1, "addr": null, "length": 32768, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_SHARED|MAP_ANONYMOUS"},
          {"op": "brk", "pid": 1, "brk": "0x555555580000"},
          {"op": "touch", "pid": 1, "address": "0x555555559000", "pages": 3, "access": "write"},
          {"op": "fault", "pid": 1, "address": "0x7ffff7e1e000", "access": "read"},
          {"op": "fork", "pid": 1},
          {"op": "mprotect", "pid": 1, "addr": "0x555555559000", "length": 4096, "prot": "PROT_READ"},
          {"op": "fault", "pid": 2, "address": "0x555555559000", "access": "write"},
          {"op": "fault", "pid": 2, "address": "0x55555555c000", "access": "write", "inject": {"mmap_lock_contended": true}},
          {"op": "fork", "pid": 2},
          {"op": "munmap", "pid": 1, "addr": "0x55555555a000", "length": 4096},
          {"op": "exit", "pid": 3, "status": 0}
        ]}
        """
        let a = try session(s), b = try session(s)
        let ra = s.post("/v1/sessions/\(a)/ops", workload)
        let rb = s.post("/v1/sessions/\(b)/ops", workload)
        XCTAssertEqual(ra.status, 200, "\(ra)")
        XCTAssertEqual(ra.text, rb.text, "same results")
        XCTAssertFalse(ra.text.contains("\"error\""), "workload should apply cleanly: \(ra.text.prefix(2000))")
        let forest = s.get("/v1/sessions/\(a)/anon_vmas")
        XCTAssertGreaterThanOrEqual(forest.json["anon_vmas"].count, 2, "\(forest)")
        XCTAssertEqual(forest.text, s.get("/v1/sessions/\(b)/anon_vmas").text, "identical anon_vma forests, ids included")
        for pid in [1, 2, 3] {
            for view in ["vmas", "pages", "maps", "smaps"] {
                let x = s.get("/v1/sessions/\(a)/processes/\(pid)/\(view)")
                XCTAssertEqual(x.status, 200)
                XCTAssertEqual(x.text, s.get("/v1/sessions/\(b)/processes/\(pid)/\(view)").text, "pid \(pid) \(view)")
            }
        }
        XCTAssertGreaterThan(s.get("/v1/sessions/\(a)/processes/2/vmas").json["vmas"].count, 2)
        XCTAssertEqual(s.get("/v1/sessions/\(a)/stats").text, s.get("/v1/sessions/\(b)/stats").text)
        // The same ops one request at a time give the same state as the batch.
        let c = try session(s)
        let items = try XCTUnwrap(JSONNode(try JSONSerialization.jsonObject(with: Data(workload.utf8)))["ops"].value as? [Any])
        for item in items {
            let op = try XCTUnwrap(item as? [String: Any])
            let r = s.request("POST", "/v1/sessions/\(c)/ops", body: try JSONSerialization.data(withJSONObject: ["ops": [op]]))
            XCTAssertEqual(r.status, 200, "\(r)")
        }
        XCTAssertEqual(s.get("/v1/sessions/\(c)/anon_vmas").text, forest.text)
        XCTAssertEqual(s.get("/v1/sessions/\(c)/processes/2/vmas").text, s.get("/v1/sessions/\(a)/processes/2/vmas").text)
    }

    // MARK: Robustness

    func testKeepAliveAndConcurrentSessions() throws {
        let s = try start()
        // Many requests over URLSession's reused connections, several sessions in parallel.
        let sids = try (0..<4).map { _ in try session(s) }
        for sid in sids { XCTAssertEqual(try process(s, sid), 1) }
        DispatchQueue.concurrentPerform(iterations: sids.count) { i in
            for k in 0..<25 {
                let addr = 0x7f00_0000_0000 + k * 0x10000
                _ = s.post("/v1/sessions/\(sids[i])/processes/1/syscalls/mmap",
                           #"{"addr": \#(addr), "length": 4096, \#(Self.anonRW)}"#)
                _ = s.post("/v1/sessions/\(sids[i])/processes/1/faults", #"{"address": \#(addr), "access": "write"}"#)
            }
        }
        for sid in sids {
            XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/1/vmas").json["vmas"].count, 25)
            XCTAssertEqual(s.get("/v1/sessions/\(sid)/stats").json["faults"]["total"].int, 25)
        }
        XCTAssertEqual(Set(sids.map { s.get("/v1/sessions/\($0)/anon_vmas").text }).count, 1, "each session is deterministic")
        // Pipelined raw requests on one connection answer in order.
        let c = try s.connect()
        defer { c.close() }
        try c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/kernels HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/sessions/nope HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try c.readResponse().json["status"].string, "ok")
        XCTAssertEqual(try c.readResponse().json["default"].string, "6.18")
        XCTAssertEqual(try c.readResponse().status, 404)
    }
}

private extension String {
    /// Whether `needle` occurs after the first occurrence of `marker`.
    func contains(_ needle: String, after marker: String) -> Bool {
        guard let r = range(of: marker) else { return false }
        return self[r.upperBound...].contains(needle)
    }
}
