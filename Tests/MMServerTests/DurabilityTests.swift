import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Durable sessions (docs/API.md "Sessions"), against the real binary with a
/// temporary `data_dir`: every answered operation survives SIGKILL, the
/// restored state equals a replay of the restored log, a torn tail is cut
/// (and reported) instead of failing the start, and deleting a session
/// deletes its journal.
final class DurabilityTests: XCTestCase {
    var dataDir: URL!
    var servers: [ServerProcess] = []

    override func setUpWithError() throws {
        dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for s in servers { s.stop() }
        try? FileManager.default.removeItem(at: dataDir)
        super.tearDown()
    }

    func start(_ extra: [String] = []) throws -> ServerProcess {
        let s = try ServerProcess(arguments: ["--data_dir", dataDir.path] + extra)
        servers.append(s)
        return s
    }

    func kill9(_ s: ServerProcess) {
        kill(s.pid, SIGKILL)
        while s.isRunning { usleep(10_000) }
    }

    func journals() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dataDir.path)) ?? []).filter { $0.hasSuffix(".journal") }.sorted()
    }

    func state(_ s: ServerProcess, _ sid: String) -> [String] {
        ["/stats", "/anon_vmas", "/processes", "/processes/1/maps", "/processes/1/pages"].map {
            s.get("/v1/sessions/\(sid)\($0)").text
        }
    }

    /// A batch of ops numbered `k` (distinct addresses, so every op is visible in the state).
    static func batch(_ k: Int) -> String {
        let base = 0x1000_0000 + k * 0x10000
        return #"{"detail":"summary","ops":[{"op":"mmap","pid":1,"addr":\#(base),"length":16384,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"},{"op":"fault","pid":1,"address":\#(base + 4096),"access":"write"}]}"#
    }

    func testEveryAnsweredOperationSurvivesSIGKILL() throws {
        let s = try start(["--durability", "everysec"])
        let sid = try XCTUnwrap(s.post("/v1/sessions", #"{"kernel": "6.4", "name": "durable"}"#).json["id"].string)
        XCTAssertEqual(s.post("/v1/sessions/\(sid)/processes", "{}").status, 201)
        XCTAssertEqual(journals(), [sid + ".journal"])
        // A stream of batches on a raw connection; SIGKILL in the middle of it.
        let answered = LockedCounter()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { done.signal() }
            guard let c = try? s.connect() else { return }
            for k in 0..<100_000 {
                let body = Self.batch(k)
                guard (try? c.send("POST /v1/sessions/\(sid)/ops HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")) != nil,
                      let r = try? c.readResponse(), r.status == 200 else { return }
                answered.set(k + 1)
            }
        }
        while answered.value < 200 { usleep(5_000) }
        kill9(s)
        done.wait()
        let batches = answered.value
        // Restart on the same data: every answered batch is there (2 ops each, after the process).
        let again = try start()
        let log = again.get("/v1/sessions/\(sid)/log").json["ops"].array
        XCTAssertGreaterThanOrEqual(log.count, 1 + 2 * batches, "answered \(batches) batches")
        XCTAssertLessThanOrEqual(log.count, 1 + 2 * (batches + 1), "at most the batch in flight more")
        for k in [0, batches / 2, batches - 1] {
            XCTAssertEqual(log[1 + 2 * k]["addr"].string, "0x" + String(0x1000_0000 + k * 0x10000, radix: 16), "batch \(k)")
        }
        let summary = again.get("/v1/sessions/\(sid)")
        XCTAssertEqual(summary.json["kernel"].string, "6.4")
        XCTAssertEqual(summary.json["name"].string, "durable")
        // The restored state is the replay of the restored log.
        let copy = try XCTUnwrap(again.post("/v1/sessions", #"{"kernel": "6.4"}"#).json["id"].string)
        let ops = again.get("/v1/sessions/\(sid)/log").text
        XCTAssertEqual(again.post("/v1/sessions/\(copy)/ops", String(ops.dropLast())).status, 200)
        XCTAssertEqual(state(again, copy), state(again, sid))
    }

    func testTornTailIsCutAndReported() throws {
        let s = try start(["--durability", "always"])
        let sid = try XCTUnwrap(s.post("/v1/sessions", "{}").json["id"].string)
        XCTAssertEqual(s.post("/v1/sessions/\(sid)/processes", "{}").status, 201)
        XCTAssertEqual(s.post("/v1/sessions/\(sid)/ops", Self.batch(0)).status, 200)
        let before = state(s, sid)
        kill9(s)
        let path = dataDir.appendingPathComponent(sid + ".journal").path
        let good = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        // A torn record: a length and checksum, half a payload.
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile()
        h.write(Data([200, 0, 0, 0, 1, 2, 3, 4]) + Data(#"{"op":"mmap","pid":1,"#.utf8))
        h.closeFile()
        let again = try start()
        XCTAssertEqual(state(again, sid), before, "restored up to the last good record")
        XCTAssertTrue(again.stderrText.contains("cut a torn or corrupt tail at byte \(good)"), again.stderrText)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, good, "the tail was cut")
        // …and the session goes on, journaled.
        XCTAssertEqual(again.post("/v1/sessions/\(sid)/ops", Self.batch(1)).status, 200)
        XCTAssertGreaterThan(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0, good)
    }

    func testDeletingOrExpiringASessionDeletesItsJournal() throws {
        let s = try start(["--session_idle_seconds", "1"])
        let a = try XCTUnwrap(s.post("/v1/sessions", "{}").json["id"].string)
        let b = try XCTUnwrap(s.post("/v1/sessions", "{}").json["id"].string)
        XCTAssertEqual(journals(), [a + ".journal", b + ".journal"].sorted())
        XCTAssertEqual(s.delete("/v1/sessions/\(a)").status, 204)
        XCTAssertEqual(journals(), [b + ".journal"])
        let deadline = Date().addingTimeInterval(5)
        while !journals().isEmpty && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(journals(), [], "the expired session's journal is gone")
    }

    func testFailedOpsOfABatchAreNotReplayed() throws {
        let s = try start()
        let sid = try XCTUnwrap(s.post("/v1/sessions", "{}").json["id"].string)
        XCTAssertEqual(s.post("/v1/sessions/\(sid)/processes", "{}").status, 201)
        let r = s.post("/v1/sessions/\(sid)/ops", #"{"ops":[{"op":"munmap","pid":9,"addr":0,"length":4096},{"op":"mmap","pid":1,"addr":268435456,"length":8192,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"},{"op":"fork","pid":7}]}"#)
        XCTAssertEqual(r.json["results"][0]["error"]["code"].string, "not_found")
        let log = s.get("/v1/sessions/\(sid)/log").text, before = state(s, sid)
        kill9(s)
        let again = try start()
        XCTAssertEqual(again.get("/v1/sessions/\(sid)/log").text, log)
        XCTAssertEqual(state(again, sid), before)
        XCTAssertFalse(again.stderrText.contains("skipped"), again.stderrText)
    }

    func testEmptyDataDirPersistsNothing() throws {
        let s = try start(["--data_dir", ""])
        XCTAssertEqual(s.post("/v1/sessions", "{}").status, 201)
        XCTAssertEqual(journals(), [])
    }
}

/// An integer shared between a client thread and the test.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var v = 0
    var value: Int { lock.withLock { v } }
    func set(_ n: Int) { lock.withLock { v = n } }
}
