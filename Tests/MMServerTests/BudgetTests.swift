import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// Memory is budgeted (docs/API.md "Limits"), against the real binary: an
/// operation that could take a session past `max_session_pages`,
/// `max_session_vmas`, `max_session_anon_vmas` or the server past
/// `max_total_pages` is refused with 422 naming the limit and changes
/// nothing; the server's memory stays small whatever is asked.
final class BudgetTests: APITestCase {
    static let populate = "MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE"

    func rssKiB(_ s: ServerProcess) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(s.pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    func testHugePopulatesAreRefusedAndChangeNothing() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        let before = snapshot(s, sid, pids: [pid])
        let rss0 = rssKiB(s)
        assertError(syscall(s, sid, pid, "mmap", #"{"addr": 0, "length": 68719476736, "prot": "PROT_READ|PROT_WRITE", "flags": "\#(Self.populate)", "fd": -1, "offset": 0}"#),
                    422, "limit_exceeded", contains: "max_session_pages")
        XCTAssertEqual(snapshot(s, sid, pids: [pid]), before, "a refused mmap changes nothing")
        let map = syscall(s, sid, pid, "mmap", #"{"addr": 0, "length": 68719476736, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE", "fd": -1, "offset": 0}"#)
        XCTAssertEqual(map.status, 200, "\(map)")
        let addr = try XCTUnwrap(map.json["return"].string)
        let mapped = snapshot(s, sid, pids: [pid])
        assertError(syscall(s, sid, pid, "madvise", #"{"addr": "\#(addr)", "length": 68719476736, "advice": "MADV_POPULATE_WRITE"}"#),
                    422, "limit_exceeded", contains: "max_session_pages")
        // In a batch, the refused op reports its error in place.
        let batch = s.post("/v1/sessions/\(sid)/ops", #"{"ops": [{"op": "madvise", "pid": \#(pid), "addr": "\#(addr)", "length": 68719476736, "advice": "MADV_POPULATE_READ"}]}"#)
        XCTAssertEqual(batch.json["results"][0]["error"]["code"].string, "limit_exceeded", "\(batch)")
        XCTAssertEqual(snapshot(s, sid, pids: [pid]), mapped, "refused populates change nothing")
        XCTAssertLessThan(rssKiB(s) - rss0, 50_000, "the server did not grow for a refused populate")
    }

    func testForkLoopStopsAtTheSessionBudget() throws {
        let s = try start(["--max_session_pages", "25000"])
        let sid = try session(s)
        let pid = try process(s, sid)
        let r = syscall(s, sid, pid, "mmap", #"{"addr": 0, "length": 40960000, "prot": "PROT_READ|PROT_WRITE", "flags": "\#(Self.populate)", "fd": -1, "offset": 0}"#)
        XCTAssertEqual(r.status, 200, "\(r)")  // 10,000 pages
        XCTAssertEqual(syscall(s, sid, pid, "fork", "{}").status, 200)  // 20,000
        let before = snapshot(s, sid, pids: [1, 2])
        assertError(syscall(s, sid, pid, "fork", "{}"), 422, "limit_exceeded", contains: "max_session_pages (25000)")
        XCTAssertEqual(snapshot(s, sid, pids: [1, 2]), before, "a refused fork changes nothing")
        // Exiting the child gives its pages back.
        XCTAssertEqual(syscall(s, sid, 2, "exit", #"{"status": 0}"#).status, 200)
        XCTAssertEqual(syscall(s, sid, pid, "fork", "{}").status, 200)
    }

    func testServerWideBudgetCountsEverySession() throws {
        let s = try start(["--max_total_pages", "15000"])
        let body = #"{"addr": 0, "length": 40960000, "prot": "PROT_READ|PROT_WRITE", "flags": "\#(Self.populate)", "fd": -1, "offset": 0}"#
        let a = try session(s), b = try session(s)
        _ = try process(s, a)
        _ = try process(s, b)
        XCTAssertEqual(syscall(s, a, 1, "mmap", body).status, 200)
        assertError(syscall(s, b, 1, "mmap", body), 422, "limit_exceeded", contains: "max_total_pages")
        XCTAssertEqual(s.delete("/v1/sessions/\(a)").status, 204)
        XCTAssertEqual(syscall(s, b, 1, "mmap", body).status, 200, "the deleted session's pages were given back")
    }

    func testVMAsAreBudgeted() throws {
        let s = try start(["--max_session_vmas", "40"])
        let sid = try session(s)
        let pid = try process(s, sid)
        var refused = false
        for k in 0..<60 {
            // Alternating protections: no two neighbours merge, each mmap adds a VMA.
            let prot = k % 2 == 0 ? "PROT_READ" : "PROT_READ|PROT_WRITE"
            let r = syscall(s, sid, pid, "mmap", #"{"addr": \#(0x1000_0000 + k * 4096), "length": 4096, "prot": "\#(prot)", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED", "fd": -1, "offset": 0}"#)
            if r.status == 422 {
                assertError(r, 422, "limit_exceeded", contains: "max_session_vmas")
                refused = true
                break
            }
            XCTAssertEqual(r.status, 200, "\(r)")
        }
        XCTAssertTrue(refused)
        let vmas = s.get("/v1/sessions/\(sid)/processes/\(pid)/vmas").json["vmas"].count
        XCTAssertLessThanOrEqual(vmas, 40)
    }
}
