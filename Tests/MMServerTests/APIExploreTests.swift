import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// POST …/explore and …/interleave against the real server: the race patch
/// 26/35 avoids (docs/CONCURRENCY.md, scenario S1), per kernel model.
final class APIExploreTests: APITestCase {
    //   X          X+p        X+2p
    //   | V rwxp   | N rw-p   |     N written (anon_vma A, sole user); V never faulted
    //   T1: write fault at X (prepares V's anon_vma: find_mergeable_anon_vma() looks at N)
    //   T2: munmap(N)
    private func s1(_ s: ServerProcess, kernel: String, at x: UInt64) throws -> (sid: String, threads: String) {
        let sid = try session(s, #"{"kernel": "\#(kernel)"}"#)
        _ = try process(s, sid)
        let ops = """
        {"ops": [{"op": "mmap", "pid": 1, "addr": "\(hex(x + 4096))", "length": 4096, \(Self.anonRW)},
                 {"op": "fault", "pid": 1, "address": "\(hex(x + 4096))", "access": "write"},
                 {"op": "mmap", "pid": 1, "addr": "\(hex(x))", "length": 4096, "prot": "PROT_READ|PROT_WRITE|PROT_EXEC", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}]}
        """
        XCTAssertEqual(s.post("/v1/sessions/\(sid)/ops", ops).status, 200)
        let threads = #"{"fault_thread": [{"op": "fault", "address": "\#(hex(x))", "access": "write"}], "unmapper": [{"op": "munmap", "addr": "\#(hex(x + 4096))", "length": 4096}]}"#
        return (sid, threads)
    }

    private func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    func testWithoutPatch26TheRaceFiresAndWithItTheFaultFallsBack() throws {
        let s = try start()
        let x: UInt64 = 0x7e12_3450_0000
        let (bad, t1) = try s1(s, kernel: "v3-no-26", at: x)
        let r = s.post("/v1/sessions/\(bad)/explore", #"{"pid": 1, "threads": \#(t1)}"#)
        XCTAssertEqual(r.status, 200, "\(r)")
        let fired = Set(r.json["hazards"].array.compactMap { $0["detector"].string })
        XCTAssertTrue(fired.isSuperset(of: ["D1", "D2", "D5", "D6"]), "\(fired)")
        let d5 = try XCTUnwrap(r.json["hazards"].array.first { $0["detector"].string == "D5" })
        XCTAssertEqual(d5["name"].string, "VMA_UAF")
        XCTAssertFalse(d5["explanation"].string?.isEmpty ?? true)

        // Stepping through the D5 schedule fires D5 at the step explore named.
        let schedule = d5["first_schedule"].array.compactMap(\.string)
        let body = try JSONSerialization.data(withJSONObject: ["pid": 1, "schedule": schedule,
            "threads": try JSONSerialization.jsonObject(with: Data(t1.utf8))])
        let il = s.post("/v1/sessions/\(bad)/interleave", String(decoding: body, as: UTF8.self))
        XCTAssertEqual(il.status, 200, "\(il)")
        let firing = il.json["steps"].array.first { $0["detectors"].array.contains { $0["detector"].string == "D5" } }
        XCTAssertEqual(firing?["index"].int, d5["step"].int)
        XCTAssertEqual(il.json["committed"].bool, false)

        let (good, t2) = try s1(s, kernel: "v3-patch", at: x)
        let g = s.post("/v1/sessions/\(good)/explore", #"{"pid": 1, "threads": \#(t2)}"#)
        XCTAssertEqual(g.status, 200, "\(g)")
        let gfired = Set(g.json["hazards"].array.compactMap { $0["detector"].string })
        XCTAssertTrue(gfired.isDisjoint(with: ["D1", "D2", "D5", "D6"]), "\(gfired)")
        XCTAssertTrue(g.json["fault_paths"]["fault_thread"].array.contains { $0.string == "NO_ANON_VMA" },
                      "v3-patch: the fault falls back to mmap_lock: \(g)")
    }

    func testExploreChangesNothingAndBadProgramsAre400() throws {
        let s = try start()
        let (sid, threads) = try s1(s, kernel: "6.18", at: 0x7f00_0000_0000)
        let before = s.get("/v1/sessions/\(sid)/log").text
        let maps = s.get("/v1/sessions/\(sid)/processes/1/maps").text
        XCTAssertEqual(s.post("/v1/sessions/\(sid)/explore", #"{"pid": 1, "threads": \#(threads)}"#).status, 200)
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/log").text, before)
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/1/maps").text, maps)
        let e = "/v1/sessions/\(sid)/explore"
        assertError(s.post(e, #"{"pid": 1, "threads": {}}"#), 400, "bad_request", contains: "threads")
        assertError(s.post(e, #"{"pid": 1, "threads": {"A": []}}"#), 400, "bad_request", contains: "threads.A")
        assertError(s.post(e, #"{"pid": 1, "threads": {"A": [{"op": "open", "path": "/x"}]}}"#), 400, "bad_request", contains: "threads.A[0].op")
        assertError(s.post(e, #"{"pid": 1, "threads": {"A": [{"op": "fault", "address": "0x1000", "pid": 1}]}}"#), 400, "bad_request", contains: "pid")
        assertError(s.post(e, #"{"pid": 1, "threads": {"rcu": [{"op": "fork"}]}}"#), 400, "bad_request", contains: "rcu")
        assertError(s.post(e, #"{"pid": 9, "threads": {"A": [{"op": "fork"}]}}"#), 404, "not_found", contains: "pid")
        assertError(s.post(e, #"{"pid": 1, "threads": {"A": [{"op": "fork"}]}, "mutant": "x"}"#), 400, "bad_request", contains: "mutant")
        assertError(s.post(e, #"{"pid": 1, "threads": {"A": [{"op": "fork"}]}, "preemption_bound": 99}"#), 422, "limit_exceeded", contains: "preemption_bound")
        let many = (1...7).map { #""T\#($0)": [{"op": "fork"}]"# }.joined(separator: ", ")
        assertError(s.post(e, #"{"pid": 1, "threads": {\#(many)}}"#), 422, "limit_exceeded", contains: "max_explore_threads")
        let i = "/v1/sessions/\(sid)/interleave"
        assertError(s.post(i, #"{"pid": 1, "threads": \#(threads), "schedule": ["nobody"]}"#), 400, "bad_request", contains: "nobody")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/log").text, before, "no error changed the session")
    }

    func testAScheduleCutByTheServerCapSaysSo() throws {
        let s = try start(["--max_explore_schedules", "2"])
        let (sid, threads) = try s1(s, kernel: "v3-no-26", at: 0x7f00_0000_0000)
        let r = s.post("/v1/sessions/\(sid)/explore", #"{"pid": 1, "threads": \#(threads), "max_schedules": 1000}"#)
        XCTAssertEqual(r.status, 200, "\(r)")
        XCTAssertEqual(r.json["bounded"].bool, true)
        XCTAssertTrue(r.json["bounded_by"].array.contains { $0.string == "max_schedules" }, "\(r)")
        XCTAssertLessThanOrEqual(r.json["schedules_explored"].int ?? 99, 2)
    }
}
