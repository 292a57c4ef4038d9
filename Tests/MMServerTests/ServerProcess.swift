import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The real `mmsim` executable, started as a child process on `--port 0` for
/// the API integration tests (the API*Tests classes): where the binary is, how
/// it is started and stopped, and what it printed. The clients the tests use
/// are extensions: URLSession in HTTPTestClient.swift, a raw POSIX socket in
/// RawHTTPConnection.swift.
final class ServerProcess: @unchecked Sendable {
    /// Where the binary was found, for messages.
    let binary: String
    /// `http://127.0.0.1:PORT` without a trailing slash.
    let baseURL: String
    let port: Int
    let publicDir: URL
    private let process: Process
    private let output = OutputCollector()
    /// The URLSession the HTTP client (HTTPTestClient.swift) sends through.
    let session: URLSession

    enum StartError: Error, CustomStringConvertible {
        case binaryMissing(String)
        case noURL(String)
        var description: String {
            switch self {
            case let .binaryMissing(m): m
            case let .noURL(m): m
            }
        }
    }

    /// The package root, from this file's path (Tests/MMServerTests/ServerProcess.swift).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `mmsim` binary to test: `$MMSIM_BIN`; else the `mmsim` built next to
    /// this test binary (same build, so same sources — `swift test` builds it);
    /// else `<package root>/.build/debug/mmsim`.
    static func locateBinary() throws -> String {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["MMSIM_BIN"], !env.isEmpty {
            guard fm.isExecutableFile(atPath: env) else {
                throw StartError.binaryMissing("MMSIM_BIN=\(env) is not an executable file")
            }
            return env
        }
        var candidates: [String] = []
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            // …/debug/mmsimPackageTests.xctest → …/debug/mmsim
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("mmsim").path)
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/mmsim").path)
        for c in candidates where fm.isExecutableFile(atPath: c) { return c }
        throw StartError.binaryMissing("""
            mmsim binary not found (looked at \(candidates.joined(separator: ", "))). \
            Run `swift build` in \(packageRoot.path) before `swift test`, or set MMSIM_BIN to the binary.
            """)
    }

    /// Starts the server with `arguments` added to `--port 0 --access_log false
    /// --public <temp dir>`; the temp public dir holds `index.html` and `app.js`.
    init(arguments: [String] = []) throws {
        binary = try Self.locateBinary()
        let fm = FileManager.default
        publicDir = fm.temporaryDirectory.appendingPathComponent("mmsim-api-\(UUID().uuidString)")
        try fm.createDirectory(at: publicDir, withIntermediateDirectories: true)
        try Data(Self.indexHTML.utf8).write(to: publicDir.appendingPathComponent("index.html"))
        try Data("console.log('mmsim test');\n".utf8).write(to: publicDir.appendingPathComponent("app.js"))

        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        // Run from the temp dir so config/mmsim.json of the package is not read:
        // the defaults plus these flags are the whole configuration.
        process.currentDirectoryURL = publicDir
        process.arguments = ["--port", "0", "--host", "127.0.0.1", "--access_log", "false",
                             "--public", publicDir.path] + arguments
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("MMSIM_") { env.removeValue(forKey: key) }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        output.drain(out.fileHandleForReading, stream: .stdout)
        output.drain(err.fileHandleForReading, stream: .stderr)
        try process.run()

        guard let line = output.firstLine(timeout: 20) else {
            process.terminate()
            throw StartError.noURL("mmsim (\(binary)) printed no first line within 20 s; stderr: \(output.stderrText)")
        }
        // "mmsim listening on http://127.0.0.1:PORT/ (public: …)"
        guard let r = line.range(of: "listening on "),
              let url = line[r.upperBound...].split(separator: " ").first,
              let portText = url.split(separator: ":").last?.split(separator: "/").first,
              let port = Int(portText), port > 0 else {
            process.terminate()
            throw StartError.noURL("unexpected first line from mmsim: \(line)")
        }
        self.port = port
        var base = String(url)
        while base.hasSuffix("/") { base.removeLast() }
        baseURL = base

        let config = URLSessionConfiguration.ephemeral
        config.urlCache = nil
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.timeoutIntervalForRequest = 60
        config.httpMaximumConnectionsPerHost = 4
        session = URLSession(configuration: config)
    }

    static let indexHTML = "<!doctype html><html><head><title>mmsim test page</title></head><body>visualizer</body></html>\n"

    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }
    var stderrText: String { output.stderrText }

    /// Stops the server (SIGTERM, then SIGKILL after `grace` seconds) and
    /// removes the temp dir. Returns whether it was still running, i.e. had not crashed.
    @discardableResult
    func stop(grace: Double = 8) -> Bool {
        session.invalidateAndCancel()
        let wasRunning = process.isRunning
        if wasRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(grace)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        }
        try? FileManager.default.removeItem(at: publicDir)
        return wasRunning
    }

    deinit { if process.isRunning { stop() } }
    var terminationStatus: Int32 { process.terminationStatus }

    /// The lines of the server's stderr that say why it stopped (Swift runtime
    /// failures and fatal errors print these before the backtrace).
    var crashSummary: String {
        let lines = stderrText.split(separator: "\n").filter {
            $0.contains("Fatal error") || $0.contains("runtime failure") || $0.contains("Crash") || $0.contains("internal error")
        }
        // …and the first frame in a source file, where it happened.
        let all = stderrText.split(separator: "\n")
        let crashed = all.firstIndex { $0.contains("crashed:") } ?? all.startIndex
        let frame = all[crashed...].first { $0.contains(" in mmsim at /") && $0.contains(".swift:") }
        let why = lines.prefix(2).map { $0.trimmingCharacters(in: .whitespaces) } + (frame.map { [$0.trimmingCharacters(in: .whitespaces)] } ?? [])
        return why.isEmpty ? String(stderrText.suffix(500)) : why.joined(separator: " | ")
    }
}

/// Drains the child's stdout and stderr on background threads.
private final class OutputCollector: @unchecked Sendable {
    enum Stream { case stdout, stderr }
    private let cond = NSCondition()
    private var stdout = Data()
    private var stderr = Data()

    func drain(_ handle: FileHandle, stream: Stream) {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                cond.lock()
                if stream == .stdout { stdout.append(chunk) } else { stderr.append(chunk) }
                cond.broadcast()
                cond.unlock()
                if chunk.isEmpty { return }
            }
        }
    }

    func firstLine(timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        cond.lock()
        defer { cond.unlock() }
        while true {
            if let nl = stdout.firstIndex(of: 10) {
                return String(decoding: stdout[stdout.startIndex..<nl], as: UTF8.self)
            }
            if !cond.wait(until: deadline) { return nil }
        }
    }

    var stderrText: String { cond.withLock { String(decoding: stderr, as: UTF8.self) } }
}
