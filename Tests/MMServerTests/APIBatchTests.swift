import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// API integration tests of `POST …/ops` batches: full and summary detail,
/// and malformed batches that must apply nothing.
final class APIBatchTests: APITestCase {
    // MARK: Batches

    func testOpsBatchFullAndSummary() throws {
        let s = try start()
        let sid = try session(s)
        let ops = """
        {"ops": [
          {"op": "process", "comm": "batch"},
          {"op": "mmap", "pid": 1, "addr": "0x7f0000000000", "length": 16384, \(Self.anonRW)},
          {"op": "fault", "pid": 1, "address": "0x7f0000000000", "access": "write"},
          {"op": "touch", "pid": 1, "address": "0x7f0000001000", "pages": 2, "access": "write"},
          {"op": "mmap", "pid": 1, "addr": "0x10001", "length": 4096, \(Self.anonRW)},
          {"op": "munmap", "pid": 7, "addr": "0x7f0000000000", "length": 4096},
          {"op": "munmap", "pid": 1, "addr": "0x7f0000003000", "length": 4096}
        ]}
        """
        let full = s.post("/v1/sessions/\(sid)/ops", ops)
        XCTAssertEqual(full.status, 200, "\(full)")
        let results = full.json["results"].array
        XCTAssertEqual(results.count, 7)
        XCTAssertEqual(results[0]["pid"].int, 1)
        XCTAssertEqual(results[1]["return"].string, "0x7f0000000000")
        XCTAssertNotNil(results[1]["strace"].string, "full detail keeps strace")
        XCTAssertGreaterThan(results[1]["trace"].count, 0, "full detail keeps the trace")
        XCTAssertEqual(results[2]["lock"]["code"].string, "VMA_OK_TRYLOCK")
        XCTAssertEqual(results[3]["faults"].count, 2)
        XCTAssertEqual(results[4]["errno"].string, "EINVAL", "a failed syscall reports its errno in place")
        XCTAssertEqual(results[5]["error"]["code"].string, "not_found", "an op that refers to nothing reports its error in place")
        XCTAssertEqual(results[6]["return"].int, 0, "the rest still run")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/1/vmas").json["vmas"][0]["end"].string, "0x7f0000003000")
        let log = s.get("/v1/sessions/\(sid)/log").json["ops"].array
        XCTAssertEqual(log.compactMap { $0["op"].string }, ["process", "mmap", "fault", "touch", "mmap", "munmap"],
                       "the log has every applied op (not the one that referred to nothing)")

        let summary = s.post("/v1/sessions/\(sid)/ops", """
        {"detail": "summary", "ops": [
          {"op": "fault", "pid": 1, "address": "0x7f0000000000", "access": "read"},
          {"op": "mmap", "pid": 1, "addr": null, "length": 4096, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS"},
          {"op": "fault", "pid": 1, "address": "0x1000", "access": "read"},
          {"op": "fork", "pid": 1}
        ]}
        """)
        XCTAssertEqual(summary.status, 200, "\(summary)")
        let sr = summary.json["results"].array
        XCTAssertEqual(sr.count, 4)
        XCTAssertEqual(sr[0]["fault"].bool, false)
        XCTAssertEqual(sr[1]["syscall"].string, "mmap")
        XCTAssertNotNil(sr[1]["return"].string)
        XCTAssertTrue(sr[1]["errno"].isNull)
        XCTAssertFalse(sr[1]["trace"].exists, "summary drops traces: \(sr[1])")
        XCTAssertFalse(sr[1]["effects"].exists)
        XCTAssertEqual(sr[2]["outcome"].string, "SIGSEGV")
        XCTAssertFalse(sr[2]["trace"].exists)
        XCTAssertEqual(sr[3]["return"].int, 2)
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/log").json["ops"].count, 10)
        // Summary mode only drops detail: later full-mode requests still trace.
        XCTAssertGreaterThan(syscall(s, sid, 1, "brk", "{}").json["trace"].count, 0)
    }

    func testOpsBatchMalformedAppliesNothing() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": "0x7f0000000000", "length": 16384, \#(Self.anonRW)}"#), returns: "0x7f0000000000")
        let before = snapshot(s, sid, pids: [pid])
        let cases: [(String, String)] = [
            (#"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096}, {"op": "fault", "pid": 1, "address": "0x7f0000001000", "access": "sideways"}]}"#, "ops[1].access"),
            (#"{"ops": [{"op": "brk", "pid": 1}, {"op": "brk", "pid": 1}, {"op": "mprotect", "pid": 1, "addr": "0x7f0000000000", "length": 4096, "prot": "PROT_FOO"}]}"#, "ops[2].prot"),
            (#"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": "all"}]}"#, "ops[0].length"),
            (#"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096}, {"op": "teleport", "pid": 1}]}"#, "ops[1].op"),
            (#"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096}, {"pid": 1}]}"#, "ops[1].op"),
            (#"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096}, 5]}"#, "ops[1]"),
            (#"{"ops": [{"op": "munmap", "pid": "one", "addr": "0x7f0000000000", "length": 4096}]}"#, "ops[0].pid"),
            (#"{"ops": [{"op": "brk", "pid": 1}, {"op": "touch", "pid": 1, "address": -1, "pages": 2}]}"#, "ops[1].pages"),
            (#"{"ops": [], "detail": "verbose"}"#, "detail"),
            (#"{"ops": {"op": "brk"}}"#, "ops"),
            (#"{"operations": []}"#, "ops"),
        ]
        for (body, field) in cases {
            let r = s.post("/v1/sessions/\(sid)/ops", body)
            assertError(r, 400, "bad_request", contains: field)
        }
        XCTAssertEqual(snapshot(s, sid, pids: [pid]), before, "a rejected batch applies nothing")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/log").json["ops"].count, 2, "log length unchanged")
        // An empty batch is fine and applies nothing.
        XCTAssertEqual(s.post("/v1/sessions/\(sid)/ops", #"{"ops": []}"#).json["results"].count, 0)
        assertError(s.post("/v1/sessions/nope/ops", #"{"ops": []}"#), 404, "not_found")
    }
}
