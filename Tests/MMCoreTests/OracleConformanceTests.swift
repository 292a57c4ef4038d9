import Foundation
import XCTest
@testable import MMCore

/// Conformance against the live kernel: every oracle scenario is run through
/// MMCore and compared, field by field, with what Linux 6.18 did on the test
/// machine (Fixtures/oracle/*/expected, recorded by shared/oracle/run_kernel.py).
///
/// * `shared/`: the 32 scenarios of shared/oracle, one test method each.
/// * `local/`: scenarios recorded for this package (errno tables, populate,
///   guard regions, shmem, merges after madvise/mremap, …), one test for all.
///
/// A scenario in `pending` is expected to fail for the reason given; its
/// failure is reported as a skip. A pending scenario that passes fails the
/// test, so that the list stays accurate.
///
/// Adding a local scenario: write `Fixtures/oracle/local/scenarios/NAME.json`
/// (format in the oracle's README), record it on the test machine as root with
/// `python3 run_kernel.py --runs 2 --out Fixtures/oracle/local/expected
/// Fixtures/oracle/local/scenarios/NAME.json` (run_kernel.py lives in the
/// shared oracle directory, not in this repository), and keep it only if both
/// runs agree. `ORACLE_DUMP_DIR=dir swift test --filter OracleConformanceTests`
/// writes the simulator's side of every scenario as JSON for hand diffing.
final class OracleConformanceTests: XCTestCase {
    /// Scenario name → why it does not pass yet. The goal is an empty list.
    static let pending: [String: String] = [:]

    /// The shared scenarios that have a test method below (kept in sync by
    /// `testEverySharedScenarioHasATestMethod`).
    static let sharedWithMethods: [String] = [
        "anon_merge_adjacent_same_prot",
        "anon_merge_both_faulted_shared_anon_vma",
        "anon_merge_diff_prot_then_mprotect",
        "anon_merge_faulted_apart_gap_fill",
        "anon_mprotect_readonly_vm_account",
        "anon_read_fault_zero_page",
        "anon_write_after_read",
        "anon_write_fault_direct",
        "bad_fd",
        "bad_unaligned_address",
        "bad_zero_length",
        "file_eof_sigbus",
        "file_private_contiguous_offsets_merge",
        "file_private_read_fault_around",
        "file_private_write_cow",
        "file_shared_write",
        "file_two_opens_no_merge",
        "fork_child_mprotect_faulted_neighbors_no_merge",
        "fork_child_write_cow",
        "fork_dontfork",
        "fork_grandchild_mapcount",
        "fork_parent_write_cow",
        "fork_unfaulted_vma",
        "fork_wipeonfork",
        "madvise_dontneed_then_read_write",
        "mmap_fixed_noreplace_eexist",
        "mmap_fixed_over_faulted_middle",
        "mprotect_middle_split_then_restore",
        "mremap_grow_in_place",
        "mremap_move_pages_follow",
        "mremap_shrink",
        "munmap_middle_split"
    ]

    func test_anon_merge_adjacent_same_prot() throws { try check("anon_merge_adjacent_same_prot") }
    func test_anon_merge_both_faulted_shared_anon_vma() throws { try check("anon_merge_both_faulted_shared_anon_vma") }
    func test_anon_merge_diff_prot_then_mprotect() throws { try check("anon_merge_diff_prot_then_mprotect") }
    func test_anon_merge_faulted_apart_gap_fill() throws { try check("anon_merge_faulted_apart_gap_fill") }
    func test_anon_mprotect_readonly_vm_account() throws { try check("anon_mprotect_readonly_vm_account") }
    func test_anon_read_fault_zero_page() throws { try check("anon_read_fault_zero_page") }
    func test_anon_write_after_read() throws { try check("anon_write_after_read") }
    func test_anon_write_fault_direct() throws { try check("anon_write_fault_direct") }
    func test_bad_fd() throws { try check("bad_fd") }
    func test_bad_unaligned_address() throws { try check("bad_unaligned_address") }
    func test_bad_zero_length() throws { try check("bad_zero_length") }
    func test_file_eof_sigbus() throws { try check("file_eof_sigbus") }
    func test_file_private_contiguous_offsets_merge() throws { try check("file_private_contiguous_offsets_merge") }
    func test_file_private_read_fault_around() throws { try check("file_private_read_fault_around") }
    func test_file_private_write_cow() throws { try check("file_private_write_cow") }
    func test_file_shared_write() throws { try check("file_shared_write") }
    func test_file_two_opens_no_merge() throws { try check("file_two_opens_no_merge") }
    func test_fork_child_mprotect_faulted_neighbors_no_merge() throws { try check("fork_child_mprotect_faulted_neighbors_no_merge") }
    func test_fork_child_write_cow() throws { try check("fork_child_write_cow") }
    func test_fork_dontfork() throws { try check("fork_dontfork") }
    func test_fork_grandchild_mapcount() throws { try check("fork_grandchild_mapcount") }
    func test_fork_parent_write_cow() throws { try check("fork_parent_write_cow") }
    func test_fork_unfaulted_vma() throws { try check("fork_unfaulted_vma") }
    func test_fork_wipeonfork() throws { try check("fork_wipeonfork") }
    func test_madvise_dontneed_then_read_write() throws { try check("madvise_dontneed_then_read_write") }
    func test_mmap_fixed_noreplace_eexist() throws { try check("mmap_fixed_noreplace_eexist") }
    func test_mmap_fixed_over_faulted_middle() throws { try check("mmap_fixed_over_faulted_middle") }
    func test_mprotect_middle_split_then_restore() throws { try check("mprotect_middle_split_then_restore") }
    func test_mremap_grow_in_place() throws { try check("mremap_grow_in_place") }
    func test_mremap_move_pages_follow() throws { try check("mremap_move_pages_follow") }
    func test_mremap_shrink() throws { try check("mremap_shrink") }
    func test_munmap_middle_split() throws { try check("munmap_middle_split") }

    func testEverySharedScenarioHasATestMethod() {
        XCTAssertEqual(OracleFixtures.names("shared"), Self.sharedWithMethods,
                       "add a test_<name>() method for every shared scenario")
        for set in ["shared", "local"] {
            let fm = FileManager.default
            for n in OracleFixtures.names(set) {
                let e = OracleFixtures.directory(set).appendingPathComponent("expected/\(n).json")
                XCTAssertTrue(fm.fileExists(atPath: e.path), "\(set)/\(n) has no expected file")
            }
        }
    }

    /// Every fixture decodes, scenario and expected agree on the steps, and
    /// every scenario has its one-sentence description.
    func testFixturesDecode() throws {
        for set in ["shared", "local"] {
            for n in OracleFixtures.names(set) {
                let s = try OracleFixtures.scenario(set, n)
                let e = try OracleFixtures.expected(set, n)
                XCTAssertEqual(s.name, n, "\(set)/\(n): name")
                XCTAssertEqual(e.name, n, "\(set)/\(n): expected name")
                XCTAssertFalse(s.description.isEmpty, "\(set)/\(n): description")
                XCTAssertEqual(s.description, e.description, "\(set)/\(n): expected was recorded from another version")
                XCTAssertEqual(s.steps.map(\.op), e.steps.map(\.op), "\(set)/\(n): steps")
                XCTAssertEqual(s.steps.filter { $0.op == "observe" }.count, e.observations.count, "\(set)/\(n): observations")
                XCTAssertEqual(e.pageSize, 4096)
                XCTAssertEqual(e.windowBase, "0x100000000000")
            }
        }
    }

    /// The comparison itself: F labels match up to a consistent renaming only.
    func testComparisonRenamesAnonymousFramesConsistently() throws {
        func page(_ n: Int, _ frame: String, mapcount: Int = 1) -> ObservedPage {
            ObservedPage(page: n, present: true, swapped: false, zeroPage: false, anon: true,
                         exclusive: mapcount == 1, mapcount: mapcount, frame: frame, fileOrSharedAnon: false,
                         anonExclusive: mapcount == 1, large: false, guard: nil)
        }
        func obs(_ pages: [ObservedPage]) -> Observation {
            Observation(label: "o", procs: ["p0": ProcObservation(vmas: [], pages: pages)])
        }
        let scenario = try JSONDecoder().decode(OracleScenario.self, from: Data(#"{"name":"t","description":"t","steps":[{"op":"observe","label":"o"},{"op":"observe","label":"o"}]}"#.utf8))
        func diffs(_ kernel: [[ObservedPage]], _ sim: [[ObservedPage]]) throws -> [String] {
            let steps = kernel.indices.map { i in #"{"index":\#(i),"op":"observe","label":"o","result":{"ok":true}}"# }
            let json = #"{"name":"t","description":"t","kernel":"k","window_base":"0x100000000000","window_pages":4096,"page_size":4096,"steps":[\#(steps.joined(separator: ","))],"observations":[]}"#
            var expected = try OracleFixtures.decoder().decode(OracleExpected.self, from: Data(json.utf8))
            expected.observations = kernel.map(obs)
            var out = ScenarioRunner.Output()
            out.steps = kernel.map { _ in StepResult(ok: true) }
            out.observations = sim.map(obs)
            return OracleComparison.compare(scenario: scenario, expected: expected, output: out, registrationOrder: ["p0"])
        }
        // Same partition under another numbering: equal.
        XCTAssertEqual(try diffs([[page(16, "F1"), page(17, "F2")], [page(16, "F2")]],
                                 [[page(16, "F7"), page(17, "F3")], [page(16, "F3")]]), [])
        // The simulator keeps a frame the kernel replaced: caught.
        XCTAssertEqual(try diffs([[page(16, "F1"), page(17, "F2")], [page(16, "F3")]],
                                 [[page(16, "F1"), page(17, "F2")], [page(16, "F1")]]).count, 1)
        // Two kernel frames are one simulator frame: caught.
        XCTAssertEqual(try diffs([[page(16, "F1"), page(17, "F2")]], [[page(16, "F1"), page(17, "F1")]]).count, 1)
        // Other labels must be equal; other fields are compared too.
        XCTAssertEqual(try diffs([[page(16, "lib@0")]], [[page(16, "lib@1")]]).count, 1)
        XCTAssertEqual(try diffs([[page(16, "F1", mapcount: 2)]], [[page(16, "F1")]]).count, 1)
    }

    func testLocalScenarios() throws {
        let names = OracleFixtures.names("local")
        XCTAssertFalse(names.isEmpty, "no local scenarios found in \(OracleFixtures.directory("local").path)")
        var failed: [String] = []
        var skipped: [String] = []
        for n in names {
            switch try Self.outcome(set: "local", name: n) {
            case .passed: break
            case let .failed(report): failed.append(n); XCTFail(report)
            case let .pendingFailed(report): skipped.append(n); print(report)
            case let .pendingPassed(message): failed.append(n); XCTFail(message)
            }
        }
        print("oracle local: \(names.count - failed.count - skipped.count) passed, \(failed.count) failed, \(skipped.count) pending of \(names.count)")
    }

    // MARK: machinery

    enum Outcome {
        case passed
        case failed(String)
        case pendingFailed(String)
        case pendingPassed(String)
    }

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        switch try Self.outcome(set: "shared", name: name) {
        case .passed: break
        case let .failed(report): XCTFail(report, file: file, line: line)
        case let .pendingPassed(message): XCTFail(message, file: file, line: line)
        case let .pendingFailed(report):
            print(report)
            throw XCTSkip("pending: \(Self.pending[name] ?? "")")
        }
    }

    /// Runs one scenario and compares it with the kernel.
    static func outcome(set: String, name: String) throws -> Outcome {
        let scenario = try OracleFixtures.scenario(set, name)
        let expected = try OracleFixtures.expected(set, name)
        let runner = ScenarioRunner(scenario)
        let output = try runner.run()
        if let dir = ProcessInfo.processInfo.environment["ORACLE_DUMP_DIR"] {
            try dump(set: set, name: name, output: output, to: dir)
        }
        let diffs = OracleComparison.compare(scenario: scenario, expected: expected, output: output,
                                             registrationOrder: runner.registrationOrder)
        if let reason = pending[name] {
            if diffs.isEmpty {
                return .pendingPassed("\(set)/\(name) passes now: remove it from OracleConformanceTests.pending (was: \(reason))")
            }
            return .pendingFailed("PENDING \(set)/\(name): \(reason)\n" + report(scenario, diffs, indent: "    "))
        }
        return diffs.isEmpty ? .passed : .failed("\(set)/\(name) differs from the kernel:\n" + report(scenario, diffs, indent: "  "))
    }

    /// ORACLE_DUMP_DIR=/some/dir writes what the simulator did, in the kernel
    /// runner's format, as <dir>/<set>-<name>.sim.json (for diffing by hand).
    static func dump(set: String, name: String, output: ScenarioRunner.Output, to dir: String) throws {
        struct Dump: Encodable { var steps: [StepResult]; var observations: [Observation] }
        let enc = JSONEncoder()
        enc.keyEncodingStrategy = .convertToSnakeCase
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let url = URL(fileURLWithPath: dir).appendingPathComponent("\(set)-\(name).sim.json")
        try enc.encode(Dump(steps: output.steps, observations: output.observations)).write(to: url)
    }

    static func report(_ s: OracleScenario, _ diffs: [String], indent: String) -> String {
        var lines = ["\(indent)(\(s.description))"]
        for d in diffs {
            lines.append(indent + "- " + d.replacingOccurrences(of: "\n", with: "\n" + indent + "  "))
        }
        return lines.joined(separator: "\n")
    }
}
