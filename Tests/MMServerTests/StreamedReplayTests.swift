import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// POST …/replay with the raw trace as a text/plain body (docs/API.md
/// "Replay"), against the real binary: parsed as it arrives, the same
/// result as the JSON replay of the same text, recorded by reference to a
/// spool file so a restart rebuilds the same state, nothing changed by a
/// body that does not end well, and the server's memory flat on a trace far
/// larger than max_body_bytes.
final class StreamedReplayTests: XCTestCase {
    var dataDir: URL!
    var servers: [ServerProcess] = []

    override func setUpWithError() throws {
        dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for s in servers { s.stop() }
        try? FileManager.default.removeItem(at: dataDir)
        super.tearDown()
    }

    func start() throws -> ServerProcess {
        let s = try ServerProcess(arguments: ["--data_dir", dataDir.path])
        servers.append(s)
        return s
    }

    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MMTraceTests/Fixtures/perf-plain/gcc-c.txt")

    func spools() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dataDir.path)) ?? []).filter { $0.hasSuffix(".trace") }.sorted()
    }

    func state(_ s: ServerProcess, _ sid: String) -> [String] {
        ["/stats", "/anon_vmas", "/processes"].map { s.get("/v1/sessions/\(sid)\($0)").text }
    }

    /// Sends `body` as a streamed replay in pieces of `piece` bytes (chunked
    /// when asked) on a raw connection; the answer.
    func stream(_ s: ServerProcess, _ sid: String, query: String, _ body: [UInt8], piece: Int = 4096,
                chunked: Bool = false) throws -> RawResponse {
        let c = try s.connect(timeout: 120)
        let framing = chunked ? "Transfer-Encoding: chunked" : "Content-Length: \(body.count)"
        try c.send("POST /v1/sessions/\(sid)/replay?\(query) HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\(framing)\r\n\r\n")
        var i = 0
        while i < body.count {
            let part = Array(body[i..<min(i + piece, body.count)])
            if chunked { try c.send(String(part.count, radix: 16) + "\r\n"); try c.send(part); try c.send("\r\n") } else { try c.send(part) }
            i += piece
        }
        if chunked { try c.send("0\r\n\r\n") }
        return try c.readResponse()
    }

    func testStreamedReplayEqualsTheJSONReplayAndARestartRestoresIt() throws {
        let text = try String(contentsOf: Self.fixture, encoding: .utf8)
        let s = try start()
        let viaJSON = try XCTUnwrap(s.post("/v1/sessions", #"{"kernel": "6.18"}"#).json["id"].string)
        let viaBody = try XCTUnwrap(s.post("/v1/sessions", #"{"kernel": "6.18"}"#).json["id"].string)
        let j = s.post("/v1/sessions/\(viaJSON)/replay", object: ["text": text, "format": "perf"])
        XCTAssertEqual(j.status, 200, j.text)
        let r = try stream(s, viaBody, query: "format=perf&detail=faults", Array(text.utf8), chunked: true)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json["agreement"]["real_faults"].int, j.json["agreement"]["real_faults"].int)
        XCTAssertEqual(r.json["agreement"]["faults_reproduced"].int, j.json["agreement"]["faults_reproduced"].int)
        XCTAssertEqual(r.json["line_counts"]["total"].int, j.json["line_counts"]["total"].int)
        XCTAssertEqual(r.json["faults"].array.count, r.json["agreement"]["real_faults"].int, "detail=faults from the query")
        XCTAssertEqual(r.json["lines"].array.count, 0, "a streamed replay keeps no per-event steps")
        XCTAssertEqual(state(s, viaBody), state(s, viaJSON))
        // Logged by reference to its spool file, which holds the body as sent.
        let log = s.get("/v1/sessions/\(viaBody)/log").json["ops"].array
        XCTAssertEqual(log.count, 1)
        XCTAssertNil(log[0]["text"].string)
        XCTAssertEqual(log[0]["bytes"].int, text.utf8.count)
        XCTAssertEqual(spools(), [viaBody + ".replay-1.trace"])
        XCTAssertEqual(try Data(contentsOf: dataDir.appendingPathComponent(spools()[0])), Data(text.utf8))
        let before = state(s, viaBody)
        XCTAssertTrue(s.stop())
        let again = try start()
        XCTAssertEqual(state(again, viaBody), before, "a restart replays the spool file")
        XCTAssertEqual(again.delete("/v1/sessions/\(viaBody)").status, 204)
        XCTAssertEqual(spools(), [], "deleting the session deletes its spool")
    }

    // A streamed replay is bounded as it runs, as a JSON one is: past a budget it
    // stops (422 naming the limit), keeps the events before, and a restart
    // rebuilds exactly that (the log says how many events it applied).
    func testAStreamedReplayStopsAtABudgetAndTheLogReplaysTheSame() throws {
        let s = try ServerProcess(arguments: ["--data_dir", dataDir.path, "--max_session_vmas", "6"])
        servers.append(s)
        let sid = try XCTUnwrap(s.post("/v1/sessions", #"{"kernel": "6.18"}"#).json["id"].string)
        let text = (0..<20).map { i in
            "100 mmap(0x7f00000\(String(0x10 + 2 * i, radix: 16))000, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0) = 0x7f00000\(String(0x10 + 2 * i, radix: 16))000"
        }.joined(separator: "\n") + "\n"
        let r = try stream(s, sid, query: "format=strace", Array(text.utf8))
        XCTAssertEqual(r.status, 422, r.text)
        XCTAssertTrue(r.text.contains("max_session_vmas"), r.text)
        let vmas = s.get("/v1/sessions/\(sid)/processes/1/vmas").json["vmas"].count
        XCTAssertGreaterThan(vmas, 0, "the events before the limit stay applied")
        XCTAssertLessThan(vmas, 20)
        let log = s.get("/v1/sessions/\(sid)/log").json["ops"].array
        XCTAssertEqual(log.count, 1)
        XCTAssertNotNil(log[0]["max_events"].int, "\(log)")
        let before = state(s, sid)
        XCTAssertTrue(s.stop())
        let again = try ServerProcess(arguments: ["--data_dir", dataDir.path, "--max_session_vmas", "6"])
        servers.append(again)
        XCTAssertEqual(state(again, sid), before, "a restart replays the spool file up to max_events")
    }

    func testABodyThatDoesNotEndWellChangesNothing() throws {
        let s = try start()
        let sid = try XCTUnwrap(s.post("/v1/sessions", "{}").json["id"].string)
        XCTAssertEqual(s.post("/v1/sessions/\(sid)/processes", "{}").status, 201)
        let before = state(s, sid)
        let bad = try stream(s, sid, query: "", Array("not a trace\nat all\n".utf8))
        XCTAssertEqual(bad.status, 400)
        XCTAssertTrue(bad.json["error"]["message"].string?.contains("field 'body'") == true, bad.text)
        XCTAssertEqual(try stream(s, sid, query: "format=maps", Array("x\n".utf8)).status, 400)
        XCTAssertEqual(try stream(s, sid, query: "pid=9", Array("x\n".utf8)).status, 404)
        XCTAssertEqual(try stream(s, "nope", query: "", Array("x\n".utf8)).status, 404)
        // Cut short: half of a good trace, then the client goes away.
        let text = Array(try Data(contentsOf: Self.fixture))
        let c = try s.connect()
        try c.send("POST /v1/sessions/\(sid)/replay?format=perf HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: \(text.count)\r\n\r\n")
        try c.send(Array(text[0..<text.count / 2]))
        usleep(300_000)
        c.close()
        // The session answers again once the replay is undone, as it was.
        let deadline = Date().addingTimeInterval(20)
        while s.get("/v1/sessions/\(sid)").json["operations"].int != 1 && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(state(s, sid), before)
        XCTAssertEqual(s.get("/v1/sessions/\(sid)").json["operations"].int, 1)
        XCTAssertEqual(spools(), [])
    }

    /// Resident and peak memory of the server (kB, /proc/PID/status).
    func memory(_ pid: Int32) -> (rss: Int, peak: Int) {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func kB(_ key: String) -> Int {
            text.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
        }
        return (kB("VmRSS:"), kB("VmHWM:"))
    }

    /// A generated strace far larger than max_body_bytes (24 MiB here;
    /// MMSIM_BIG_REPLAY_MB=100 for the measurement in docs/API.md), sent
    /// as it is generated: the server's peak RSS grows by a small fraction of it.
    func testABigTraceStreamsInFlatMemory() throws {
        let megabytes = Int(ProcessInfo.processInfo.environment["MMSIM_BIG_REPLAY_MB"] ?? "") ?? 24
        let s = try start()
        let sid = try XCTUnwrap(s.post("/v1/sessions", "{}").json["id"].string)
        let before = memory(s.pid)
        let c = try s.connect(timeout: 1200)
        try c.send("POST /v1/sessions/\(sid)/replay?format=strace HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
        var sent = 0, lines = 0, k = 0
        while sent < megabytes << 20 {
            var block = ""
            for _ in 0..<512 {
                let a = "0x" + String(0x7f00_0000_0000 + (k % 64) * 0x10000, radix: 16)
                block += "1234  mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = \(a)\n1234  munmap(\(a), 16384) = 0\n"
                k += 1
                lines += 2
            }
            try c.send(String(block.utf8.count, radix: 16) + "\r\n" + block + "\r\n")
            sent += block.utf8.count
        }
        try c.send("0\r\n\r\n")
        let r = try c.readResponse()
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json["line_counts"]["applied"].int, lines)
        let after = memory(s.pid)
        let growth = after.peak - before.peak
        print("streamed replay of \(sent >> 20) MiB (\(lines) lines): server peak RSS \(before.peak) → \(after.peak) kB (+\(growth) kB), RSS now \(after.rss) kB")
        XCTAssertLessThan(growth * 1024, sent / 4, "peak RSS grew by \(growth) kB for a \(sent >> 20) MiB body")
    }
}
