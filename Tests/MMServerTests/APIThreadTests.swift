import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// Threads over HTTP: tasks of one thread group share its mm
/// (clone(CLONE_VM|CLONE_THREAD), copy_process() in kernel/fork.c).
final class APIThreadTests: APITestCase {
    func testThreadsShareTheMMAndReplayFromTheLog() throws {
        let s = try start()
        let sid = try session(s, #"{"kernel": "6.18"}"#)
        let pid = try process(s, sid)
        let t = s.post("/v1/sessions/\(sid)/processes/\(pid)/threads", "{}")
        XCTAssertEqual(t.status, 201, "\(t)")
        XCTAssertEqual(t.json["pid"].int, pid)
        let tid = try XCTUnwrap(t.json["tid"].int)
        XCTAssertEqual(tid, pid + 1, "tids come from the pid number space")
        XCTAssertEqual(try process(s, sid), tid + 1, "the next process takes the number after the thread")
        let p = s.get("/v1/sessions/\(sid)/processes/\(pid)")
        XCTAssertEqual(p.json["threads"].array.compactMap(\.int), [pid, tid])

        //   0x7f0000000000 V (rw-p anon, 2 pages): the thread maps and writes, the leader reads.
        let m = syscall(s, sid, pid, "mmap", #"{"addr": "0x7f0000000000", "length": 8192, \#(Self.anonRW), "tid": \#(tid)}"#)
        assertSyscall(m, returns: "0x7f0000000000")
        let w = fault(s, sid, pid, #"{"address": "0x7f0000000000", "access": "write", "tid": \#(tid)}"#)
        XCTAssertEqual(w.json["handler"].string, "do_anonymous_page", "\(w)")
        let r = fault(s, sid, pid, #"{"address": "0x7f0000000000", "access": "read"}"#)
        XCTAssertEqual(r.json["fault"].bool, false, "the leader finds the page the thread wrote: \(r)")
        XCTAssertEqual(r.json["pte"]["before"]["folio"].string, w.json["folio"]["id"].string)

        // The log names the thread; replayed into a new session it gives the same state.
        let log = s.get("/v1/sessions/\(sid)/log").json["ops"].array
        XCTAssertEqual(log.filter { $0["op"].string == "thread" }.count, 1)
        XCTAssertEqual(log.first { $0["op"].string == "fault" }?["tid"].int, tid)
        let sid2 = try session(s, #"{"kernel": "6.18"}"#)
        let body = try JSONSerialization.data(withJSONObject: ["ops": log.map { $0.value as Any }])
        let replay = s.post("/v1/sessions/\(sid2)/ops", String(decoding: body, as: UTF8.self))
        XCTAssertEqual(replay.status, 200, "\(replay)")
        XCTAssertEqual(s.get("/v1/sessions/\(sid2)/processes/\(pid)/maps").text,
                       s.get("/v1/sessions/\(sid)/processes/\(pid)/maps").text)
        XCTAssertEqual(s.get("/v1/sessions/\(sid2)/processes/\(pid)").json["threads"].array.compactMap(\.int), [pid, tid])
    }

    func testUnknownTidIs404AndChangesNothing() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        let other = try process(s, sid)
        let t = s.post("/v1/sessions/\(sid)/processes/\(other)/threads", "{}").json["tid"].int ?? -1
        let before = s.get("/v1/sessions/\(sid)/log").json["ops"].count
        assertError(syscall(s, sid, pid, "mmap", #"{"length": 4096, \#(Self.anonRW), "tid": \#(t)}"#), 404, "not_found",
                    contains: "no thread \(t) in process \(pid)")
        assertError(fault(s, sid, pid, #"{"address": "0x7f0000000000", "tid": 999}"#), 404, "not_found", contains: "thread 999")
        assertError(fault(s, sid, pid, #"{"address": "0x7f0000000000", "tid": 0}"#), 400, "bad_request", contains: "tid")
        assertError(fault(s, sid, pid, #"{"address": "0x7f0000000000", "tid": "main"}"#), 400, "bad_request", contains: "tid")
        assertError(s.post("/v1/sessions/\(sid)/processes/99/threads", "{}"), 404, "not_found")
        assertError(s.post("/v1/sessions/\(sid)/processes/\(pid)/threads", #"{"comm": "x"}"#), 400, "bad_request", contains: "comm")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/log").json["ops"].count, before, "errors change nothing")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/\(pid)").json["threads"].array.compactMap(\.int), [pid])
    }

    func testExitEndsEveryThread() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        let tid = s.post("/v1/sessions/\(sid)/processes/\(pid)/threads", "{}").json["tid"].int ?? -1
        assertSyscall(syscall(s, sid, pid, "exit", #"{"status": 0, "tid": \#(tid)}"#), returns: 0)
        assertError(fault(s, sid, pid, #"{"address": "0x7f0000000000", "tid": \#(tid)}"#), 409, "conflict", contains: "exited")
        assertError(s.post("/v1/sessions/\(sid)/processes/\(pid)/threads", "{}"), 409, "conflict")
    }
}
