import Foundation
import MMServer
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The `mmsim` executable as a person runs it: --help anywhere, --version,
/// usage errors, compare/replay, the page found from any directory, and
/// `serve --daemon`.
final class CLITests: XCTestCase {
    var binary = ""

    override func setUpWithError() throws { binary = try ServerProcess.locateBinary() }

    func testVersionComesFromMMServerInfo() throws {
        let r = try CLIRun(binary, ["--version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stdout, MMServerInfo.version + "\n")
    }

    func testHelpWorksAnywhereOnTheLineAndOnEverySubcommand() throws {
        for (args, usage) in [(["--help"], "mmsim <subcommand>"), (["serve", "--help"], "mmsim [serve]"),
                              (["--port", "0", "--help"], "mmsim [serve]"), (["compare", "--help"], "mmsim compare <trace>"),
                              (["compare", "x", "--kernels", "6.4", "--help"], "mmsim compare <trace>"),
                              (["replay", "-h"], "mmsim replay <trace>"), (["help", "replay"], "mmsim replay <trace>")] {
            let r = try CLIRun(binary, args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("USAGE: " + usage), "\(args): \(r.stdout)")
        }
    }

    func testServeHelpListsEveryConfigKeyWithItsDefault() throws {
        let help = try CLIRun(binary, ["serve", "--help"]).stdout
        let defaults = ServerConfig()
        for key in ServerConfig.keys {
            let flag = "--" + key.replacingOccurrences(of: "_", with: "-")
            // The flag's line, joined with the next when the flag is too long for the column.
            let lines = help.split(separator: "\n").map(String.init)
            let i = lines.firstIndex { $0.hasPrefix("  \(flag) ") }
            XCTAssertNotNil(i, "\(flag) missing from serve --help")
            guard let i else { continue }
            let line = lines[i].hasSuffix(" X") && i + 1 < lines.count ? lines[i] + lines[i + 1] : lines[i]
            XCTAssertTrue(line.hasSuffix("(\(defaults.text(key)!))"), line)
        }
        XCTAssertTrue(help.split(separator: "\n").allSatisfy { $0.count <= 80 || $0.hasPrefix("USAGE") }, help)
    }

    func testUnknownFlagsAndBadValuesAreUsageErrors() throws {
        for (args, says) in [(["--bogus", "1"], "unknown setting 'bogus'"), (["--port", "70000"], "port must be"),
                             (["--port"], "--port needs a value"), (["compare", "--kernels", "6.3,7", "Package.swift"], "unknown kernel '7'"),
                             (["compare", "/no/such/trace"], "no such trace"), (["replay", "Package.swift", "--kernel", "5.0"], "unknown kernel"),
                             (["compare", "Package.swift", "--frobnicate"], "Unknown option '--frobnicate'"),
                             (["serve", "--pid-file", "x"], "go with --daemon")] {
            let r = try CLIRun(binary, args, cwd: ServerProcess.packageRoot)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stdout) \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(says), "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("Usage: mmsim"), "\(args) shows the usage: \(r.stderr)")
        }
    }

    func testCompareAndReplayReadATrace() throws {
        let trace = "Tests/MMCoreTests/Fixtures/traces/sort-shells"
        let c = try CLIRun(binary, ["compare", trace, "--kernels", "6.4,6.18"], cwd: ServerProcess.packageRoot)
        XCTAssertEqual(c.status, 0, c.stderr)
        let header = c.stdout.split(separator: "\n").dropFirst().first.map { $0.split(separator: " ") }
        XCTAssertEqual(header, ["6.4", "6.18"])
        XCTAssertTrue(c.stdout.contains("agreement with the real kernel (6.18)"), c.stdout)
        // The default columns are the four models.
        let all = try CLIRun(binary, ["compare", trace], cwd: ServerProcess.packageRoot)
        XCTAssertEqual(all.stdout.split(separator: "\n").dropFirst().first.map { $0.split(separator: " ") }, ["6.3", "v3-patch", "6.4", "6.18"])

        let r = try CLIRun(binary, ["replay", trace, "--kernel", "6.4", "--json"], cwd: ServerProcess.packageRoot)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = JSONNode(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)))
        XCTAssertEqual(json["kernel"].string, "6.4")
        XCTAssertGreaterThan(json["report"]["applied"].int ?? 0, 0)
        // The replay's fault count is compare's 6.4 column.
        let faultsRow = c.stdout.split(separator: "\n").first { $0.hasPrefix("faults ") }?.split(separator: " ")
        XCTAssertEqual(json["stats"]["faults"]["total"].int.map(String.init), faultsRow.map { String($0[1]) })
    }

    func testReplayCountsEveryLineAndFailsWhenNothingReplays() throws {
        let trace = "Tests/MMTraceTests/Fixtures/perf-plain/sh-pipeline.txt"
        let r = try CLIRun(binary, ["replay", trace], cwd: ServerProcess.packageRoot)
        XCTAssertEqual(r.status, 0, r.stderr)
        let counts = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("lines: ") }, r.stdout)
        let j = try CLIRun(binary, ["replay", trace, "--json", "--detail", "faults"], cwd: ServerProcess.packageRoot)
        XCTAssertEqual(j.status, 0, j.stderr)
        let report = JSONNode(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)))["report"]
        // The text and the JSON (the API's report) count the same lines.
        XCTAssertTrue(counts.hasPrefix("lines: \(report["line_counts"]["total"].int ?? -1) read, \(report["line_counts"]["applied"].int ?? -1) applied"), String(counts))
        XCTAssertEqual(report["faults"].array.count, report["agreement"]["real_faults"].int, "--detail faults: one record per real fault")
        XCTAssertGreaterThan(report["faults"].array.count, 0)
        // Not a trace: exit 1, saying so; a trace with nothing to replay: exit 2.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "hello\nworld\n".write(to: dir.appendingPathComponent("junk.txt"), atomically: true, encoding: .utf8)
        let junk = try CLIRun(binary, ["replay", dir.appendingPathComponent("junk.txt").path], cwd: ServerProcess.packageRoot)
        XCTAssertEqual(junk.status, 1)
        XCTAssertTrue(junk.stderr.contains("not perf script or strace output"), junk.stderr)
        let lines = (0..<20).map { _ in "100 write(1, \"x\", 1) = 1\n100 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -1 ENOMEM (Cannot allocate memory)" }
        try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("none.txt"), atomically: true, encoding: .utf8)
        let none = try CLIRun(binary, ["compare", dir.appendingPathComponent("none.txt").path, "--kernels", "6.18"], cwd: ServerProcess.packageRoot)
        XCTAssertNotEqual(none.status, 0, none.stdout + none.stderr)
    }

    // `--option` names come from MMCore's ModelOptions.switches and take effect: under v3-patch,
    // eager_anon_vma prepares anon_vmas at mmap time, so no write fault falls back NO_ANON_VMA.
    func testReplayOptionTakesEffect() throws {
        let trace = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MMCoreTests/Fixtures/traces/python3-pass").path
        let plain = try CLIRun(binary, ["replay", trace, "--kernel", "v3-patch"])
        let eager = try CLIRun(binary, ["replay", trace, "--kernel", "v3-patch", "--option", "eager_anon_vma"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(eager.status, 0, eager.stderr)
        XCTAssertTrue(plain.stdout.contains("fallback NO_ANON_VMA"), plain.stdout)
        XCTAssertTrue(eager.stdout.contains("under v3-patch+eager_anon_vma"), eager.stdout)
        XCTAssertFalse(eager.stdout.contains("fallback NO_ANON_VMA"), eager.stdout)
        XCTAssertEqual(try CLIRun(binary, ["replay", trace, "--option", "eager"]).status, 64)
    }

    func testServeFromAnotherDirectoryFindsThePage() throws {
        let server = try CLIServer(binary, ["--port", "0", "--access-log", "false"], cwd: URL(fileURLWithPath: "/"))
        defer { server.stop() }
        let page = try RawConnection.get(port: server.port, "/")
        let shipped = try String(contentsOf: ServerProcess.packageRoot.appendingPathComponent("public/index.html"), encoding: .utf8)
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.text, shipped)
    }

    func testServeSaysWhereItLookedWhenThePageIsMissing() throws {
        let server = try CLIServer(binary, ["--port", "0", "--public", "/no/such/page"], cwd: URL(fileURLWithPath: "/"))
        defer { server.stop() }
        XCTAssertTrue(server.stderr.contains("looked for index.html in /no/such/page"), server.stderr)
        let page = try RawConnection.get(port: server.port, "/")
        XCTAssertTrue(page.text.contains("was not found") && page.text.contains("/no/such/page/index.html"), page.text)
    }

    func testDaemonReturnsOnceItAnswersAndStopsOnKill() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pidFile = dir.appendingPathComponent("pid").path, log = dir.appendingPathComponent("log").path
        let r = try CLIRun(binary, ["serve", "--daemon", "--port", "0", "--pid-file", pidFile, "--log-file", log], cwd: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let pid = try XCTUnwrap(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(pid, SIGKILL) }
        XCTAssertTrue(r.stderr.contains("kill \(pid)"), r.stderr)
        let url = r.stdout.trimmingCharacters(in: .newlines)
        let port = try XCTUnwrap(Int(url.split(separator: ":").last?.split(separator: "/").first ?? ""), url)
        // Answering already: no wait, no retry.
        XCTAssertEqual(try RawConnection.get(port: port, "/healthz").status, 200)
        XCTAssertEqual(kill(pid, SIGTERM), 0)
        let deadline = Date().addingTimeInterval(5)
        while kill(pid, 0) == 0 && Date() < deadline { usleep(10_000) }
        XCTAssertNotEqual(kill(pid, 0), 0, "the daemon stopped on SIGTERM")
        let output = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(output.hasPrefix("mmsim listening on \(url)") && output.contains("GET /healthz 200"), output)
    }
}

/// One finished run of the binary.
struct CLIRun {
    let status: Int32
    let stdout: String
    let stderr: String

    init(_ binary: String, _ arguments: [String], cwd: URL = FileManager.default.temporaryDirectory) throws {
        let p = Self.process(binary, arguments, cwd: cwd)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-cli-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: out.path + ".err", contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out.path + ".out"); try? FileManager.default.removeItem(atPath: out.path + ".err") }
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out.path + ".out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: out.path + ".err"))
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        status = p.terminationStatus
        stdout = try String(contentsOfFile: out.path + ".out", encoding: .utf8)
        stderr = try String(contentsOfFile: out.path + ".err", encoding: .utf8)
    }

    /// The binary with `arguments`, run in `cwd`, without the caller's `MMSIM_*` variables.
    static func process(_ binary: String, _ arguments: [String], cwd: URL) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        p.currentDirectoryURL = cwd
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("MMSIM_") { env.removeValue(forKey: key) }
        p.environment = env
        return p
    }
}

/// The binary serving in the foreground, its stderr in a file, stopped with SIGTERM.
final class CLIServer {
    let process: Process
    let port: Int
    private let errPath: String

    init(_ binary: String, _ arguments: [String], cwd: URL) throws {
        process = CLIRun.process(binary, arguments, cwd: cwd)
        errPath = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-cli-\(UUID().uuidString).err").path
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var first = Data()
        while !first.contains(10) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            first.append(chunk)
        }
        let line = String(decoding: first, as: UTF8.self)
        guard let url = line.split(separator: "\n").first?.split(separator: " ").last,
              let port = Int(url.split(separator: ":").last?.split(separator: "/").first ?? "") else {
            process.terminate()
            throw RawError.malformed("no listening line: \(line)")
        }
        self.port = port
        // Keep draining stdout so the server never blocks on a full pipe.
        Thread.detachNewThread { while !out.fileHandleForReading.availableData.isEmpty {} }
    }

    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and waits for the exit; returns the seconds it took.
    @discardableResult
    func stop() -> Double {
        let t0 = Date()
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: errPath)
        return Date().timeIntervalSince(t0)
    }
}

extension RawConnection {
    /// GET `path` on a fresh connection.
    static func get(port: Int, _ path: String) throws -> RawResponse {
        let c = try RawConnection(port: port, timeout: 10)
        defer { c.close() }
        try c.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return try c.readResponse()
    }
}
