import Foundation
import XCTest

/// `mmsim explore FILE.json`: a race scenario explored per kernel model by the real binary.
final class CLIExploreTests: XCTestCase {
    var binary = ""
    override func setUpWithError() throws { binary = try ServerProcess.locateBinary() }

    private var example: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/examples/s1-munmap-vs-anon-vma-prepare.json").path
    }

    // The thread's race (S1): without patch 26/35 the fault's anon_vma preparation reads a VMA
    // munmap freed; with it the fault falls back to mmap_lock and nothing fires.
    func testExampleFiresUseAfterFreeOnlyWithoutPatch26() throws {
        let r = try CLIRun(binary, ["explore", example, "--kernel", "v3-no-26", "--kernel", "v3-patch"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let parts = r.stdout.components(separatedBy: "v3-patch: ")
        XCTAssertEqual(parts.count, 2, r.stdout)
        XCTAssertTrue(parts[0].hasPrefix("v3-no-26: "), r.stdout)
        for d in ["D1 UNLOCKED_VMA_READ fired", "D2 UNLOCKED_TREE_WALK fired", "D5 VMA_UAF fired", "D6 ANON_VMA_UAF fired"] {
            XCTAssertTrue(parts[0].contains(d), "\(d) missing:\n\(r.stdout)")
        }
        XCTAssertTrue(parts[0].contains("schedule: T1"), r.stdout)
        XCTAssertTrue(parts[1].contains("no detector fired"), r.stdout)
        XCTAssertTrue(parts[1].contains("T1 faults ended with: NO_ANON_VMA"), r.stdout)
    }

    func testJSONIsTheAPIAnswerPerModel() throws {
        let r = try CLIRun(binary, ["explore", example, "--kernel", "6.18", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let v = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]
        XCTAssertEqual(v?.count, 1)
        XCTAssertEqual(v?.first?["kernel"] as? String, "6.18")
        XCTAssertEqual((v?.first?["hazards"] as? [Any])?.count, 0)
        XCTAssertNotNil(v?.first?["schedules_explored"] as? Int)
        // The file's own "kernels" are used when no --kernel is given.
        let all = try CLIRun(binary, ["explore", example, "--json"])
        let kernels = (try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]])?.compactMap { $0["kernel"] as? String }
        XCTAssertEqual(kernels, ["v3-no-26", "v3-patch", "6.4", "6.18"])
    }

    func testBadFilesAreUsageErrorsNamingTheField() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-explore-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (body, field) in [(#"{"threads": {}}"#, "threads"), (#"{"threads": {"A": [{"op": "open"}]}}"#, "threads.A[0].op"),
                              (#"{"threads": {"A": [{"op": "fork"}]}, "kernels": ["7.0"]}"#, "kernels"),
                              (#"{"threads": {"A": [{"op": "fork"}]}, "bogus": 1}"#, "bogus"), ("[1", "JSON")] {
            let f = dir.appendingPathComponent("s.json")
            try Data(body.utf8).write(to: f)
            let r = try CLIRun(binary, ["explore", f.path])
            XCTAssertEqual(r.status, 64, "\(body): \(r.stdout) \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(field), "\(body): \(r.stderr)")
        }
        let missing = try CLIRun(binary, ["explore", dir.appendingPathComponent("none.json").path])
        XCTAssertEqual(missing.status, 64)
        XCTAssertTrue(try CLIRun(binary, ["explore", "--help"]).stdout.contains("USAGE: mmsim explore"))
    }
}
