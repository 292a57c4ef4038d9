import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// POST …/replay with a real `perf script` capture: the format recognised
/// from the content, every line counted, and one record per real fault from
/// which the summary agreement can be recomputed.
final class APIReplayRecordsTests: APITestCase {
    private func fixture(_ name: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("MMTraceTests/Fixtures/perf-variants/\(name)"), encoding: .utf8)
    }

    func testPerfCaptureWithoutFormatGivesFaultRecordsThatRecomputeTheAgreement() throws {
        let s = try start()
        let sid = try session(s, #"{"kernel": "6.18"}"#)
        let text = try fixture("default.txt")
        let body = try JSONSerialization.data(withJSONObject: ["text": text, "detail": "faults"])
        let r = s.post("/v1/sessions/\(sid)/replay", String(decoding: body, as: UTF8.self))
        XCTAssertEqual(r.status, 200, "\(r)")
        XCTAssertEqual(r.json["format"].string, "perf")
        let counts = r.json["line_counts"]
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).count
        let skipped = counts["skipped"].keys.reduce(0) { $0 + (counts["skipped"][$1].int ?? 0) }
        let notUnderstood = counts["not_understood"].array.reduce(0) { $0 + ($1["count"].int ?? 0) }
        XCTAssertEqual(counts["total"].int, lines, "every non-empty line is counted")
        XCTAssertEqual((counts["applied"].int ?? 0) + skipped + notUnderstood, lines)
        let records = r.json["faults"].array
        let agreement = r.json["agreement"]
        XCTAssertEqual(records.count, agreement["real_faults"].int)
        XCTAssertGreaterThan(records.count, 0)
        // The agreement, recomputed from the records alone: a real fault is
        // reproduced when the simulation also faulted and handled it.
        let reproduced = records.filter { $0["sim"]["fault"].bool == true && $0["sim"]["outcome"].string == "handled" }
        XCTAssertEqual(reproduced.count, agreement["faults_reproduced"].int)
        let observed = records.filter { $0["real_took_mmap_lock"].bool != nil }
        let matching = observed.filter { $0["real_took_mmap_lock"].bool == $0["sim"]["took_mmap_lock"].bool }
        XCTAssertEqual(observed.count, agreement["lock_observed"].int)
        XCTAssertEqual(matching.count, agreement["lock_agreeing"].int)
        XCTAssertGreaterThanOrEqual(agreement["lock_ratio"].double ?? 0, 0.99)
        for rec in records.prefix(5) {
            XCTAssertNotNil(rec["line"].int); XCTAssertNotNil(rec["address"].string)
            XCTAssertTrue(["read", "write", "exec"].contains(rec["access"].string ?? ""))
        }
    }

    func testUnrecognisedTextIs400AndChangesNothing() throws {
        let s = try start()
        let sid = try session(s)
        let before = s.get("/v1/sessions/\(sid)").json["operations"].int
        assertError(s.post("/v1/sessions/\(sid)/replay", #"{"text": "hello\nworld\n"}"#), 400, "bad_request", contains: "not recognised")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)").json["operations"].int, before)
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes").json["processes"].count, 0)
    }
}
