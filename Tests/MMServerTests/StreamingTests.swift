import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// No big answer blocks a loop (docs/API.md "GET …/log", "GET …/events"),
/// against the real binary: event streams are pulled by the event loops (no
/// thread each), end when their session is deleted, and a subscriber that
/// stops reading is dropped after the send timeout; the log is streamed in
/// pieces (the loop keeps answering others meanwhile) or paged.
final class StreamingTests: APITestCase {
    /// A session with `count` logged operations (one process, then mmap/munmap pairs).
    func bigSession(_ s: ServerProcess, ops count: Int, detail: String = "summary") throws -> String {
        let sid = try session(s)
        _ = try process(s, sid)
        var done = 1
        while done < count {
            let n = min(20_000, count - done)
            let ops = (0..<n).map { k in
                k % 2 == 0
                    ? #"{"op":"mmap","pid":1,"addr":"0x10000000","length":4096,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}"#
                    : #"{"op":"munmap","pid":1,"addr":"0x10000000","length":4096}"#
            }
            let r = s.post("/v1/sessions/\(sid)/ops", #"{"detail":"\#(detail)","ops":[\#(ops.joined(separator: ","))]}"#)
            XCTAssertEqual(r.status, 200, "\(r.text.prefix(300))")
            done += n
        }
        return sid
    }

    func threadCount(_ s: ServerProcess) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(s.pid)/task").count) ?? -1
    }

    func testEventStreamsTakeNoThreadAndEndWhenTheSessionIsDeleted() throws {
        let s = try start(["--event_loops", "1"])
        let sid = try session(s)
        _ = try process(s, sid)
        let before = threadCount(s)
        var subscribers: [RawConnection] = []
        defer { subscribers.forEach { $0.close() } }
        for _ in 0..<100 {
            let c = try s.connect()
            try c.send("GET /v1/sessions/\(sid)/events HTTP/1.1\r\nHost: x\r\n\r\n")
            subscribers.append(c)
        }
        for c in subscribers {
            let got = c.read(until: { $0.contains("id: 1\n") }, timeout: 5)
            XCTAssertTrue(got.contains("event: op\nid: 1\ndata: {\"seq\":1,"), got)
        }
        XCTAssertLessThan(threadCount(s) - before, 10, "100 subscribers must not take a thread each")
        // A new operation reaches every subscriber.
        _ = try process(s, sid)
        for c in subscribers { XCTAssertTrue(c.read(until: { $0.contains("id: 2\n") }, timeout: 5).contains("id: 2\n")) }
        // Deleting the session ends every stream (chunked terminator), promptly.
        let t0 = Date()
        XCTAssertEqual(s.delete("/v1/sessions/\(sid)").status, 204)
        for c in subscribers {
            XCTAssertTrue(c.read(until: { $0.hasSuffix("0\r\n\r\n") }, timeout: 5).hasSuffix("0\r\n\r\n"), "stream did not end")
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 3)
        // The connections are kept alive and answer the next request.
        try subscribers[0].send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(subscribers[0].read(until: { $0.contains("\"status\":\"ok\"") }, timeout: 5).contains("\"status\":\"ok\""))
    }

    func openFiles(_ s: ServerProcess) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(s.pid)/fd").count) ?? -1
    }

    func testSubscriberThatStopsReadingIsDropped() throws {
        let s = try start(["--send_timeout_seconds", "1"])
        // Full results: the kept history (10,000 events) is far more than socket buffers hold.
        let sid = try bigSession(s, ops: 12_000, detail: "full")
        s.session.invalidateAndCancel()  // no client connection of ours but the subscriber's
        usleep(200_000)
        let before = openFiles(s)
        let c = try s.connect()
        defer { c.close() }
        var small: Int32 = 4096
        setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        try c.send("GET /v1/sessions/\(sid)/events HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(300_000)
        XCTAssertEqual(openFiles(s), before + 1, "the subscriber is connected")
        // Not reading: the socket buffers fill, then the send timeout passes and the server lets go.
        let deadline = Date().addingTimeInterval(5)
        while openFiles(s) > before && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(openFiles(s), before, "the server kept a subscriber that read nothing")
        XCTAssertEqual(try s.raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 200)
    }

    func testLogIsStreamedAndPaged() throws {
        let s = try start()
        let sid = try bigSession(s, ops: 5_001)
        let all = s.get("/v1/sessions/\(sid)/log")
        XCTAssertEqual(all.status, 200)
        let ops = all.json["ops"].array
        XCTAssertEqual(ops.count, 5_001)
        XCTAssertEqual(ops.map { $0["seq"].int ?? 0 }, Array(1...5_001))
        XCTAssertTrue(all.text.hasSuffix("]}\n"))
        XCTAssertFalse(all.text.contains("next_cursor"), "no cursor unless paging")
        // Pages put together are the whole log.
        var cursor = 0, pages = 0
        var paged: [JSONNode] = []
        while true {
            let page = s.get("/v1/sessions/\(sid)/log?limit=2000&cursor=\(cursor)")
            XCTAssertEqual(page.status, 200, "\(page)")
            paged += page.json["ops"].array
            pages += 1
            guard let next = page.json["next_cursor"].int else { break }
            cursor = next
        }
        XCTAssertEqual(pages, 3)
        XCTAssertEqual(paged.map { $0["seq"].int ?? 0 }, Array(1...5_001))
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/log?limit=2&cursor=1&pretty").json["ops"].array.map { $0["seq"].int ?? 0 }, [2, 3])
        assertError(s.get("/v1/sessions/\(sid)/log?limit=0"), 400, "bad_request", contains: "limit")
        assertError(s.get("/v1/sessions/\(sid)/log?limt=3"), 400, "bad_request", contains: "limt")
        // The streamed log replays to the same state.
        let copy = try session(s)
        let replay = s.post("/v1/sessions/\(copy)/ops", #"{"detail":"summary","ops":\#(String(all.text.dropFirst(7).dropLast(2)))}"#)
        XCTAssertEqual(replay.status, 200, "\(replay.text.prefix(300))")
        XCTAssertEqual(s.get("/v1/sessions/\(copy)/processes/1/maps").text, s.get("/v1/sessions/\(sid)/processes/1/maps").text)
    }

    func testALongLogDoesNotHoldUpTheLoop() throws {
        let s = try start(["--event_loops", "1"])
        let sid = try bigSession(s, ops: 100_001)
        // A reader that takes the log slowly…
        let slow = try s.connect()
        defer { slow.close() }
        try slow.send("GET /v1/sessions/\(sid)/log HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = slow.read(until: { $0.contains("\"ops\":[") }, timeout: 5)
        // …while the only loop keeps answering another client promptly.
        var worst = 0.0
        for _ in 0..<20 {
            let t0 = Date()
            XCTAssertEqual(s.get("/healthz").status, 200)
            worst = max(worst, Date().timeIntervalSince(t0))
            _ = slow.read(until: { _ in false }, timeout: 0.02)
        }
        // Generous for a loaded 2-core machine; rendering the whole log on the loop took seconds.
        XCTAssertLessThan(worst, 0.5, "a health check waited \(worst) s behind the log")
    }
}
