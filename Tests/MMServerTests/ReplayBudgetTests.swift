import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// A trace replay is bounded by the memory budget as it runs (docs/API.md
/// "Limits"): each event is checked before it is applied; refused at its
/// first event the replay changes nothing, stopped later it keeps the
/// events before (as a syscall failing half-way) and is logged with
/// `max_events`, so replaying the session's log gives the same state.
final class ReplayBudgetTests: APITestCase {
    /// Three anonymous MAP_POPULATE mmaps of 2,000 pages each, by pid 100.
    static func trace(_ lengths: [Int]) -> String {
        lengths.enumerated().map { k, length in
            "100 mmap(NULL, \(length), PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE, -1, 0) = 0x7f\(k)000000000"
        }.joined(separator: "\n") + "\n"
    }

    func replayBody(_ text: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: ["format": "strace", "text": text])
        return String(decoding: data, as: UTF8.self)
    }

    func testAReplayStopsAtTheBudgetAndItsLogReplaysToTheSameState() throws {
        let s = try start(["--max_session_pages", "5000"])
        let sid = try session(s)
        let r = s.post("/v1/sessions/\(sid)/replay", replayBody(Self.trace([8_192_000, 8_192_000, 8_192_000])))
        assertError(r, 422, "limit_exceeded", contains: "max_session_pages (5000)")
        XCTAssertTrue((r.json["error"]["message"].string ?? "").contains("stopped at line 3"), "\(r)")
        let log = s.get("/v1/sessions/\(sid)/log?pretty")
        XCTAssertEqual(log.json["ops"].count, 1, "\(log)")
        XCTAssertEqual(log.json["ops"][0]["max_events"].int, 2, "logged as the events it applied: \(log)")
        let stats = s.get("/v1/sessions/\(sid)/stats")
        // Two of the three mappings are there, populated: 4,000 pages.
        let vmas = s.get("/v1/sessions/\(sid)/processes/1/vmas")
        XCTAssertEqual(vmas.json["vmas"].count, 2, "\(vmas)")

        // The log, replayed into a fresh session, gives the same state.
        let copy = try session(s)
        var ops = log.json["ops"][0].value as! [String: Any]
        ops.removeValue(forKey: "seq")
        let body = try JSONSerialization.data(withJSONObject: ["ops": [ops]])
        let replayed = s.post("/v1/sessions/\(copy)/ops", String(decoding: body, as: UTF8.self))
        XCTAssertEqual(replayed.status, 200, "\(replayed)")
        XCTAssertFalse(replayed.json["results"][0]["error"].exists, "\(replayed)")
        XCTAssertEqual(s.get("/v1/sessions/\(copy)/processes/1/vmas").text, vmas.text)
        XCTAssertEqual(s.get("/v1/sessions/\(copy)/processes/1/pages").text, s.get("/v1/sessions/\(sid)/processes/1/pages").text)
        XCTAssertEqual(s.get("/v1/sessions/\(copy)/stats").json["faults"].description, stats.json["faults"].description)
    }

    func testAReplayRefusedAtItsFirstEventChangesNothing() throws {
        let s = try start(["--max_session_pages", "5000"])
        let sid = try session(s)
        let before = snapshot(s, sid, pids: [])
        let r = s.post("/v1/sessions/\(sid)/replay", replayBody(Self.trace([68_719_476_736, 4096])))
        assertError(r, 422, "limit_exceeded", contains: "nothing was changed")
        XCTAssertEqual(snapshot(s, sid, pids: []), before, "a replay refused up front changes nothing")
        // Within the budget the same session replays normally.
        let ok = s.post("/v1/sessions/\(sid)/replay", replayBody(Self.trace([8_192_000])))
        XCTAssertEqual(ok.status, 200, "\(ok)")
        XCTAssertFalse(s.get("/v1/sessions/\(sid)/log?pretty").json["ops"][0]["max_events"].exists)
    }

    func testAMapsLayoutPastTheVMABudgetIsRefusedBeforeItRuns() throws {
        let s = try start(["--max_session_vmas", "20"])
        let sid = try session(s)
        let before = snapshot(s, sid, pids: [])
        let maps = (0..<30).map { k in String(format: "7f%02x00000000-7f%02x00001000 rw-p 00000000 00:00 0 ", k, k) }
            .joined(separator: "\n")
        let data = try JSONSerialization.data(withJSONObject: ["format": "maps", "text": maps])
        assertError(s.post("/v1/sessions/\(sid)/replay", String(decoding: data, as: UTF8.self)), 422, "limit_exceeded",
                    contains: "max_session_vmas (20)")
        XCTAssertEqual(snapshot(s, sid, pids: []), before)
    }
}
