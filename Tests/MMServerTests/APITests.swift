import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// Integration tests of the HTTP API (api.md): the real `mmsim` binary on a
/// free loopback port, driven through URLSession (and a raw socket where a
/// client library would rewrite or could not read the request).
final class APITests: XCTestCase {
    private var servers: [ServerProcess] = []

    override func tearDown() {
        for server in servers {
            XCTAssertTrue(server.isRunning, "mmsim exited during the test (crashed?): \(server.crashSummary)")
            XCTAssertFalse(server.stderrText.contains("internal error"),
                           "the server logged an internal error: \(server.stderrText.suffix(2000))")
            server.stop()
        }
        servers = []
        super.tearDown()
    }

    // MARK: Helpers

    private func start(_ arguments: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> ServerProcess {
        do {
            let server = try ServerProcess(arguments: arguments)
            servers.append(server)
            return server
        } catch {
            XCTFail("\(error)", file: file, line: line)
            throw error
        }
    }

    /// POST /v1/sessions; returns the id.
    private func session(_ s: ServerProcess, _ body: String = "{}", file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = s.post("/v1/sessions", body)
        XCTAssertEqual(r.status, 201, "\(r)", file: file, line: line)
        return try XCTUnwrap(r.json["id"].string, "\(r)", file: file, line: line)
    }

    /// POST …/processes; returns the pid.
    private func process(_ s: ServerProcess, _ sid: String, comm: String = "sim",
                         file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let r = s.post("/v1/sessions/\(sid)/processes", #"{"comm": "\#(comm)"}"#)
        XCTAssertEqual(r.status, 201, "\(r)", file: file, line: line)
        return try XCTUnwrap(r.json["pid"].int, "\(r)", file: file, line: line)
    }

    private func syscall(_ s: ServerProcess, _ sid: String, _ pid: Int, _ name: String, _ body: String) -> APIResponse {
        s.post("/v1/sessions/\(sid)/processes/\(pid)/syscalls/\(name)", body)
    }

    private func fault(_ s: ServerProcess, _ sid: String, _ pid: Int, _ body: String) -> APIResponse {
        s.post("/v1/sessions/\(sid)/processes/\(pid)/faults", body)
    }

    /// A simulated syscall that succeeded or failed: always HTTP 200 with `return`, `errno`, `strace`.
    private func assertSyscall(_ r: APIResponse, returns expected: Any, errno: String? = nil,
                               strace: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        if let error = r.error { XCTFail(error, file: file, line: line); return }
        XCTAssertEqual(r.status, 200, "\(r)", file: file, line: line)
        XCTAssertEqual(r.contentType, "application/json", file: file, line: line)
        switch expected {
        case let s as String: XCTAssertEqual(r.json["return"].string, s, "\(r)", file: file, line: line)
        case let i as Int: XCTAssertEqual(r.json["return"].int, i, "\(r)", file: file, line: line)
        default: XCTFail("bad expectation", file: file, line: line)
        }
        if let errno {
            XCTAssertEqual(r.json["errno"].string, errno, "\(r)", file: file, line: line)
        } else {
            XCTAssertTrue(r.json["errno"].isNull, "errno should be null: \(r)", file: file, line: line)
        }
        if let strace {
            XCTAssertEqual(r.json["strace"].string, strace, "\(r)", file: file, line: line)
        } else {
            XCTAssertNotNil(r.json["strace"].string, "strace missing: \(r)", file: file, line: line)
        }
    }

    /// An HTTP error: status, `error.code`, a message containing `contains`, a request id.
    private func assertError(_ r: APIResponse, _ status: Int, _ code: String, contains: String? = nil,
                             file: StaticString = #filePath, line: UInt = #line) {
        if let error = r.error { XCTFail(error, file: file, line: line); return }
        XCTAssertEqual(r.status, status, "\(r)", file: file, line: line)
        XCTAssertTrue(r.contentType.hasPrefix("application/json"), "\(r)", file: file, line: line)
        XCTAssertEqual(r.json["error"]["code"].string, code, "\(r)", file: file, line: line)
        let message = r.json["error"]["message"].string ?? ""
        XCTAssertFalse(message.isEmpty, "no message: \(r)", file: file, line: line)
        if let contains {
            XCTAssertTrue(message.contains(contains), "message '\(message)' should contain '\(contains)'", file: file, line: line)
        }
    }

    private static let anonRW = #""prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED""#

    /// Everything observable about a session, for before/after comparisons.
    private func snapshot(_ s: ServerProcess, _ sid: String, pids: [Int]) -> [String] {
        var out = ["/log", "/stats", "/anon_vmas", "/files", "/processes"].map { s.get("/v1/sessions/\(sid)\($0)").text }
        for pid in pids {
            out.append(s.get("/v1/sessions/\(sid)/processes/\(pid)/vmas").text)
            out.append(s.get("/v1/sessions/\(sid)/processes/\(pid)/pages").text)
        }
        return out
    }

    // MARK: Kernels and sessions

    func testKernelsListsTheRequiredModels() throws {
        let s = try start()
        let r = s.get("/v1/kernels")
        XCTAssertEqual(r.status, 200, "\(r)")
        XCTAssertEqual(r.contentType, "application/json")
        let kernels = r.json["kernels"].array
        let ids = kernels.compactMap { $0["id"].string }
        for id in ["6.3", "v3-patch", "6.4", "6.18"] { XCTAssertTrue(ids.contains(id), "missing kernel \(id) in \(ids)") }
        XCTAssertEqual(Set(ids).count, ids.count, "duplicate ids \(ids)")
        for k in kernels {
            XCTAssertFalse((k["title"].string ?? "").isEmpty, "\(k)")
            XCTAssertGreaterThan((k["summary"].string ?? "").count, 40, "summary should be a paragraph: \(k)")
        }
        XCTAssertEqual(r.json["default"].string, "6.18")
    }

    func testSessionCreateListGetDelete() throws {
        let s = try start()
        let r1 = s.post("/v1/sessions", "{}")
        XCTAssertEqual(r1.status, 201, "\(r1)")
        let a = try XCTUnwrap(r1.json["id"].string)
        XCTAssertEqual(r1.json["kernel"].string, "6.18", "default model")
        XCTAssertEqual(r1.json["options"]["eager_anon_vma"].bool, false)
        XCTAssertEqual(r1.json["options"]["skip_mergeable_for_file"].bool, false)
        XCTAssertTrue(r1.json["name"].isNull)
        XCTAssertNotNil(r1.json["created_at"].string)
        XCTAssertEqual(r1.json["processes"].count, 0)
        XCTAssertTrue(r1.json["processes"].isArray)
        // Unguessable: a UUID's 122 random bits.
        XCTAssertNotNil(UUID(uuidString: a), "session id \(a) should be a UUID")

        let r2 = s.post("/v1/sessions", #"{"kernel": "6.4", "name": "libc load", "options": {"eager_anon_vma": true}}"#)
        XCTAssertEqual(r2.status, 201, "\(r2)")
        let b = try XCTUnwrap(r2.json["id"].string)
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(r2.json["kernel"].string, "6.4")
        XCTAssertEqual(r2.json["name"].string, "libc load")
        XCTAssertEqual(r2.json["options"]["eager_anon_vma"].bool, true)
        XCTAssertEqual(r2.json["options"]["skip_mergeable_for_file"].bool, false)

        let list = s.get("/v1/sessions")
        XCTAssertEqual(list.status, 200)
        XCTAssertEqual(list.json["sessions"].array.compactMap { $0["id"].string }.sorted(), [a, b].sorted())

        _ = try process(s, b, comm: "cat")
        let got = s.get("/v1/sessions/\(b)")
        XCTAssertEqual(got.status, 200, "\(got)")
        XCTAssertEqual(got.json["id"].string, b)
        XCTAssertEqual(got.json["kernel"].string, "6.4")
        XCTAssertEqual(got.json["processes"][0]["pid"].int, 1)
        XCTAssertEqual(got.json["processes"][0]["comm"].string, "cat")

        let del = s.delete("/v1/sessions/\(b)")
        XCTAssertEqual(del.status, 204, "\(del)")
        XCTAssertTrue(del.body.isEmpty)
        assertError(s.get("/v1/sessions/\(b)"), 404, "not_found")
        assertError(s.get("/v1/sessions/\(b)/processes/1/vmas"), 404, "not_found")
        assertError(s.delete("/v1/sessions/\(b)"), 404, "not_found")
        XCTAssertEqual(s.get("/v1/sessions").json["sessions"].array.compactMap { $0["id"].string }, [a])
        XCTAssertEqual(s.get("/v1/sessions/\(a)").status, 200, "the other session is untouched")
    }

    func testSessionCreateRejectsBadInput() throws {
        let s = try start()
        assertError(s.post("/v1/sessions", #"{"kernel": "7.0"}"#), 400, "bad_request", contains: "kernel")
        assertError(s.post("/v1/sessions", #"{"kernel": 6.18}"#), 400, "bad_request", contains: "kernel")
        assertError(s.post("/v1/sessions", #"{"options": {"bogus": true}}"#), 400, "bad_request", contains: "bogus")
        assertError(s.post("/v1/sessions", #"{"options": {"eager_anon_vma": "yes"}}"#), 400, "bad_request", contains: "eager_anon_vma")
        assertError(s.post("/v1/sessions", "[1, 2]"), 400, "bad_request")
        assertError(s.post("/v1/sessions", #"{"kernel": "6.18""#), 400, "bad_request", contains: "JSON")
        XCTAssertEqual(s.get("/v1/sessions").json["sessions"].count, 0, "no session was created by a 400")
    }

    // MARK: Files and processes

    func testFilesCreateAndList() throws {
        let s = try start()
        let sid = try session(s)
        let r = s.post("/v1/sessions/\(sid)/files", #"{"path": "/usr/lib/x86_64-linux-gnu/libc.so.6", "size": 1970000, "mode": "0755"}"#)
        XCTAssertEqual(r.status, 201, "\(r)")
        XCTAssertEqual(r.json["path"].string, "/usr/lib/x86_64-linux-gnu/libc.so.6")
        XCTAssertEqual(r.json["size"].int, 1970000)
        XCTAssertEqual(r.json["mode"].string, "0755")
        let r2 = s.post("/v1/sessions/\(sid)/files", #"{"path": "/etc/ld.so.cache", "size": 4096}"#)
        XCTAssertEqual(r2.status, 201, "\(r2)")
        XCTAssertEqual(r2.json["mode"].string, "0644", "default mode")
        XCTAssertNotEqual(r.json["ino"].int, r2.json["ino"].int)

        let list = s.get("/v1/sessions/\(sid)/files")
        XCTAssertEqual(list.status, 200)
        XCTAssertEqual(list.json["files"].array.compactMap { $0["path"].string }.sorted(),
                       ["/etc/ld.so.cache", "/usr/lib/x86_64-linux-gnu/libc.so.6"])

        assertError(s.post("/v1/sessions/\(sid)/files", #"{"path": "/x"}"#), 400, "bad_request", contains: "size")
        assertError(s.post("/v1/sessions/\(sid)/files", #"{"path": "/x", "size": "big"}"#), 400, "bad_request", contains: "size")
        assertError(s.post("/v1/sessions/\(sid)/files", #"{"path": "/x", "size": 1, "mode": "rw"}"#), 400, "bad_request", contains: "mode")
        assertError(s.post("/v1/sessions/nope/files", #"{"path": "/x", "size": 1}"#), 404, "not_found")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/files").json["files"].count, 2)
    }

    func testProcessesCreateGetList() throws {
        let s = try start()
        let sid = try session(s)
        let r = s.post("/v1/sessions/\(sid)/processes", #"{"comm": "cat"}"#)
        XCTAssertEqual(r.status, 201, "\(r)")
        XCTAssertEqual(r.json["pid"].int, 1)
        XCTAssertTrue(r.json["ppid"].isNull)
        XCTAssertEqual(r.json["comm"].string, "cat")
        XCTAssertEqual(r.json["state"].string, "running")
        XCTAssertEqual(try process(s, sid, comm: "ls"), 2, "pids are small integers per session")
        XCTAssertEqual(try process(s, try session(s)), 1, "pids start at 1 in every session")

        let got = s.get("/v1/sessions/\(sid)/processes/1")
        XCTAssertEqual(got.status, 200)
        XCTAssertEqual(got.json["comm"].string, "cat")
        XCTAssertTrue(got.json["vmas"].isArray)
        XCTAssertEqual(got.json["vmas"].count, 0, "a new process has an empty address space")

        let list = s.get("/v1/sessions/\(sid)/processes")
        XCTAssertEqual(list.json["processes"].array.compactMap { $0["pid"].int }, [1, 2])
        XCTAssertEqual(list.json["processes"].array.compactMap { $0["comm"].string }, ["cat", "ls"])

        // fds 0-2 are reserved: the first open returns 3.
        _ = s.post("/v1/sessions/\(sid)/files", #"{"path": "/f", "size": 8192}"#)
        assertSyscall(syscall(s, sid, 2, "open", #"{"path": "/f", "flags": "O_RDONLY"}"#), returns: 3)

        assertError(s.get("/v1/sessions/\(sid)/processes/99"), 404, "not_found", contains: "99")
        assertError(s.get("/v1/sessions/\(sid)/processes/abc"), 400, "bad_request", contains: "pid")
        assertError(s.post("/v1/sessions/\(sid)/processes", #"{"comm": 5}"#), 400, "bad_request", contains: "comm")
    }

    // MARK: Inspection: vmas, maps, smaps, pages

    /// The libc loading sequence of the thread, then a few faults.
    private func loadLibc(_ s: ServerProcess, _ sid: String) throws {
        XCTAssertEqual(s.post("/v1/sessions/\(sid)/files", #"{"path": "/usr/lib/x86_64-linux-gnu/libc.so.6", "size": 1970000}"#).status, 201)
        XCTAssertEqual(try process(s, sid, comm: "cat"), 1)
        assertSyscall(syscall(s, sid, 1, "open", #"{"path": "/usr/lib/x86_64-linux-gnu/libc.so.6", "flags": "O_RDONLY|O_CLOEXEC"}"#), returns: 3)
        assertSyscall(syscall(s, sid, 1, "mmap", #"{"addr": null, "length": 1970000, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_DENYWRITE", "fd": 3, "offset": 0}"#),
                      returns: "0x7ffff7e1e000")
        for (addr, len, prot, off) in [("0x7ffff7e44000", 1396736, "PROT_READ|PROT_EXEC", "0x26000"),
                                       ("0x7ffff7f99000", 339968, "PROT_READ", "0x17b000"),
                                       ("0x7ffff7fec000", 24576, "PROT_READ|PROT_WRITE", "0x1ce000")] {
            let r = syscall(s, sid, 1, "mmap", #"{"addr": "\#(addr)", "length": \#(len), "prot": "\#(prot)", "flags": "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE", "fd": 3, "offset": "\#(off)"}"#)
            assertSyscall(r, returns: addr)
        }
        assertSyscall(syscall(s, sid, 1, "mmap", #"{"addr": "0x7ffff7ff2000", "length": 53072, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS", "fd": -1, "offset": 0}"#),
                      returns: "0x7ffff7ff2000")
        assertSyscall(syscall(s, sid, 1, "close", #"{"fd": 3}"#), returns: 0, strace: "close(3) = 0")
    }

    func testVmasMapsSmapsPages() throws {
        let s = try start()
        let sid = try session(s)
        try loadLibc(s, sid)
        let base = "/v1/sessions/\(sid)/processes/1"

        let vmas = s.get(base + "/vmas")
        XCTAssertEqual(vmas.status, 200, "\(vmas)")
        let list = vmas.json["vmas"].array
        XCTAssertEqual(list.compactMap { $0["start"].string },
                       ["0x7ffff7e1e000", "0x7ffff7e44000", "0x7ffff7f99000", "0x7ffff7fec000", "0x7ffff7ff2000"])
        XCTAssertEqual(list.compactMap { $0["perms"].string }, ["r--p", "r-xp", "r--p", "rw-p", "rw-p"])
        XCTAssertEqual(list.compactMap { $0["end"].string }.last, "0x7ffff7fff000", "53072 bytes round up to 13 pages")
        XCTAssertEqual(list[4]["pages"].int, 13)
        XCTAssertEqual(list[0]["file"]["path"].string, "/usr/lib/x86_64-linux-gnu/libc.so.6")
        XCTAssertEqual(list[0]["file"]["file_id"].string, "file1")
        XCTAssertTrue(list[4]["file"].isNull)
        XCTAssertEqual(list[3]["pgoff"].int, 0x1ce)
        XCTAssertTrue(list[3]["anon_vma"].isNull, "never written: no anon_vma yet")
        XCTAssertTrue(list[1]["flags"].array.compactMap(\.string).contains("VM_EXEC"))
        XCTAssertEqual(list[3]["lock"]["write_locked"].bool, false)
        XCTAssertEqual(list[3]["resident_pages"].int, 0)
        let proc = s.get(base)
        XCTAssertEqual(proc.json["vmas"].description, vmas.json["vmas"].description, "GET process embeds the same vmas")

        // Write the data segment and the anonymous tail, read the text.
        XCTAssertEqual(fault(s, sid, 1, #"{"address": "0x7ffff7fec010", "access": "write"}"#).json["outcome"].string, "handled")
        XCTAssertEqual(fault(s, sid, 1, #"{"address": "0x7ffff7ff3000", "access": "write"}"#).json["outcome"].string, "handled")
        XCTAssertEqual(fault(s, sid, 1, #"{"address": "0x7ffff7e44000", "access": "exec"}"#).json["outcome"].string, "handled")

        let maps = s.get(base + "/maps")
        XCTAssertEqual(maps.status, 200)
        XCTAssertTrue(maps.contentType.hasPrefix("text/plain"), maps.contentType)
        let lines = maps.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.last, "", "maps ends with a newline")
        let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
        // The kernel pads the path to column 73 (seq_setwidth 25 + 6*sizeof(void*) - 1, then one space).
        func line(_ head: String, _ path: String) -> String { path.isEmpty ? head + " " : head + String(repeating: " ", count: max(1, 73 - head.count)) + path }
        XCTAssertEqual(Array(lines.dropLast()), [
            line("7ffff7e1e000-7ffff7e44000 r--p 00000000 08:01 1", libc),
            line("7ffff7e44000-7ffff7f99000 r-xp 00026000 08:01 1", libc),
            line("7ffff7f99000-7ffff7fec000 r--p 0017b000 08:01 1", libc),
            line("7ffff7fec000-7ffff7ff2000 rw-p 001ce000 08:01 1", libc),
            line("7ffff7ff2000-7ffff7fff000 rw-p 00000000 00:00 0", ""),
        ], maps.text)

        let smaps = s.get(base + "/smaps")
        XCTAssertEqual(smaps.status, 200)
        XCTAssertTrue(smaps.contentType.hasPrefix("text/plain"), smaps.contentType)
        let blocks = smaps.text.components(separatedBy: "\n").filter { $0.range(of: #"^[0-9a-f]+-[0-9a-f]+ "#, options: .regularExpression) != nil }
        XCTAssertEqual(blocks, Array(lines.dropLast()), "smaps has one header per maps line")
        for field in ["Size:", "Rss:", "Anonymous:", "VmFlags:"] {
            XCTAssertEqual(smaps.text.components(separatedBy: "\n").filter { $0.hasPrefix(field) }.count, 5, "\(field) per VMA")
        }
        XCTAssertTrue(smaps.text.contains("VmFlags: rd ex mr mw me"), "text segment flags in kernel order:\n\(smaps.text)")
        XCTAssertTrue(smaps.text.contains("VmFlags: rd wr mr mw me ac"), smaps.text)
        // The anon tail: 52 kB, one page written.
        let tail = smaps.text.components(separatedBy: "7ffff7ff2000-7ffff7fff000").last ?? ""
        XCTAssertTrue(tail.contains("\nSize:                 52 kB"), tail)
        XCTAssertTrue(tail.contains("\nRss:                   4 kB"), tail)
        XCTAssertTrue(tail.contains("\nAnonymous:             4 kB"), tail)

        let pages = s.get(base + "/pages?start=0x7ffff7fec000&end=0x7ffff7fff000")
        XCTAssertEqual(pages.status, 200, "\(pages)")
        let p = pages.json["pages"].array
        XCTAssertEqual(p.compactMap { $0["address"].string }, ["0x7ffff7fec000", "0x7ffff7ff3000"])
        XCTAssertEqual(p[0]["pte"]["present"].bool, true)
        XCTAssertEqual(p[0]["pte"]["writable"].bool, true)
        XCTAssertEqual(p[0]["pte"]["dirty"].bool, true)
        XCTAssertEqual(p[0]["pte"]["guard"].bool, false)
        XCTAssertEqual(p[0]["folio"]["kind"].string, "anon", "CoW copy of the file page")
        XCTAssertEqual(p[0]["folio"]["anon"].bool, true)
        XCTAssertEqual(p[0]["folio"]["mapcount"].int, 1)
        XCTAssertEqual(p[0]["folio"]["anon_exclusive"].bool, true)
        XCTAssertNotNil(p[0]["folio"]["anon_vma"].string)
        XCTAssertEqual(p[1]["folio"]["kind"].string, "anon")
        // The exec fault mapped a file page of libc at index 0x26.
        let text = s.get(base + "/pages?start=0x7ffff7e44000&end=0x7ffff7e45000").json["pages"].array
        XCTAssertEqual(text.count, 1)
        XCTAssertEqual(text.first?["folio"]["kind"].string, "file")
        XCTAssertEqual(text.first?["folio"]["file"].string, libc)
        XCTAssertEqual(text.first?["folio"]["index"].int, 0x26)
        XCTAssertEqual(text.first?["pte"]["writable"].bool, false)
        // The exec fault mapped 16 pages around it (do_fault_around); integer bounds work like hex;
        // the whole space lists 2 + 16 pages; an empty range lists none.
        XCTAssertEqual(s.get(base + "/pages?start=0x7ffff7e44000&end=0x7ffff7f99000").json["pages"].count, 16)
        XCTAssertEqual(s.get(base + "/pages").json["pages"].count, 18)
        XCTAssertEqual(s.get(base + "/pages?start=\(0x7ffff7fec000)&end=\(0x7ffff7fed000)").json["pages"].count, 1)
        XCTAssertEqual(s.get(base + "/pages?start=0x1000&end=0x2000").json["pages"].count, 0)
        assertError(s.get(base + "/pages?start=xyz"), 400, "bad_request", contains: "start")
        assertError(s.get(base + "/pages?start=0x2000&end=0x1000"), 400, "bad_request")
        assertError(s.get("/v1/sessions/\(sid)/processes/7/maps"), 404, "not_found")
        assertError(s.get("/v1/sessions/\(sid)/processes/7/smaps"), 404, "not_found")
        assertError(s.get("/v1/sessions/\(sid)/processes/7/pages"), 404, "not_found")
    }

    // MARK: Syscalls

    func testOpenAndClose() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        _ = s.post("/v1/sessions/\(sid)/files", #"{"path": "/lib/ld.so", "size": 200000}"#)
        assertSyscall(syscall(s, sid, pid, "open", #"{"path": "/lib/ld.so", "flags": "O_RDONLY|O_CLOEXEC"}"#), returns: 3,
                      strace: #"open("/lib/ld.so", O_RDONLY|O_CLOEXEC) = 3"#)
        assertSyscall(syscall(s, sid, pid, "open", #"{"path": "/lib/ld.so", "flags": ["O_RDONLY"]}"#), returns: 4)
        assertSyscall(syscall(s, sid, pid, "open", #"{"path": "/nonexistent"}"#), returns: -2, errno: "ENOENT",
                      strace: #"open("/nonexistent", O_RDONLY) = -1 ENOENT (No such file or directory)"#)
        assertSyscall(syscall(s, sid, pid, "close", #"{"fd": 3}"#), returns: 0, strace: "close(3) = 0")
        assertSyscall(syscall(s, sid, pid, "close", #"{"fd": 3}"#), returns: -9, errno: "EBADF",
                      strace: "close(3) = -1 EBADF (Bad file descriptor)")
        assertSyscall(syscall(s, sid, pid, "open", #"{"path": "/lib/ld.so", "flags": 0}"#), returns: 3) // the lowest free fd is reused
        assertError(syscall(s, sid, pid, "open", #"{"path": "/lib/ld.so", "flags": "O_RDONLY|O_BOGUS"}"#), 400, "bad_request", contains: "O_BOGUS")
        assertError(syscall(s, sid, pid, "open", #"{"flags": "O_RDONLY"}"#), 400, "bad_request", contains: "path")
        assertError(syscall(s, sid, pid, "close", #"{"fd": "3"}"#), 400, "bad_request", contains: "fd")
        assertError(syscall(s, sid, pid, "close", "{}"), 400, "bad_request", contains: "fd")
    }

    func testMmapSuccessAndErrnoPaths() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        let ok = syscall(s, sid, pid, "mmap", #"{"addr": null, "length": 8192, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS", "fd": -1, "offset": 0}"#)
        assertSyscall(ok, returns: "0x7ffff7ffd000",
                      strace: "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7ffd000")
        XCTAssertEqual(ok.json["effects"]["vmas_created"].count, 1)
        XCTAssertEqual(ok.json["effects"]["vmas_created"][0]["start"].string, "0x7ffff7ffd000")
        XCTAssertEqual(ok.json["effects"]["vmas_created"][0]["end"].string, "0x7ffff7fff000")
        XCTAssertGreaterThan(ok.json["trace"].count, 0)
        XCTAssertNotNil(ok.json["trace"][0]["fn"].string)
        // The next anonymous mapping with the same flags merges with it (below it, top-down).
        let merged = syscall(s, sid, pid, "mmap", #"{"addr": 0, "length": 4096, "prot": ["PROT_READ", "PROT_WRITE"], "flags": 34}"#)
        assertSyscall(merged, returns: "0x7ffff7ffc000")
        XCTAssertEqual(merged.json["effects"]["merged"].string, "next", "\(merged)")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/\(pid)/vmas").json["vmas"].count, 1)

        // Failed simulated syscalls are 200 with the kernel's errno.
        let unaligned = syscall(s, sid, pid, "mmap", #"{"addr": "0x10001", "length": 4096, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}"#)
        assertSyscall(unaligned, returns: -22, errno: "EINVAL",
                      strace: "mmap(0x10001, 4096, PROT_READ, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0) = -1 EINVAL (Invalid argument)")
        XCTAssertEqual(unaligned.json["effects"]["vmas_created"].count, 0)
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": null, "length": 0, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS"}"#),
                      returns: -22, errno: "EINVAL")
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": null, "length": 4096, "prot": "PROT_READ", "flags": "MAP_PRIVATE", "fd": 9}"#),
                      returns: -9, errno: "EBADF")
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": null, "length": 4096, "prot": "PROT_READ", "flags": "MAP_ANONYMOUS"}"#),
                      returns: -22, errno: "EINVAL", strace: "mmap(NULL, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0) = -1 EINVAL (Invalid argument)")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/\(pid)/vmas").json["vmas"].count, 1, "failed mmaps map nothing")
        // MAP_FIXED_NOREPLACE over an existing mapping: EEXIST.
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": "0x7ffff7ffc000", "length": 4096, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE"}"#),
                      returns: -17, errno: "EEXIST")

        // HTTP errors: the request cannot be understood.
        assertError(syscall(s, sid, pid, "mmap", #"{"addr": null, "length": 4096, "prot": "PROT_READ|PROT_FOO", "flags": "MAP_PRIVATE|MAP_ANONYMOUS"}"#),
                    400, "bad_request", contains: "PROT_FOO")
        assertError(syscall(s, sid, pid, "mmap", #"{"addr": null, "length": 4096, "prot": "PROT_READ", "flags": ["MAP_PRIVATE", 7]}"#),
                    400, "bad_request", contains: "flags")
        assertError(syscall(s, sid, pid, "mmap", #"{"addr": null, "length": true, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS"}"#),
                    400, "bad_request", contains: "'length'")
        assertError(syscall(s, sid, pid, "mmap", #"{"addr": "nowhere", "length": 4096, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS"}"#),
                    400, "bad_request", contains: "addr")
        assertError(syscall(s, sid, pid, "mmap", #"{"addr": null, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS"}"#),
                    400, "bad_request", contains: "length")
    }

    func testMunmapMprotectMadvise() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        let vmasPath = "/v1/sessions/\(sid)/processes/\(pid)/vmas"
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": "0x7f0000000000", "length": 16384, \#(Self.anonRW)}"#), returns: "0x7f0000000000")

        // munmap of the second page splits the VMA in two.
        let un = syscall(s, sid, pid, "munmap", #"{"addr": "0x7f0000001000", "length": 4096}"#)
        assertSyscall(un, returns: 0, strace: "munmap(0x7f0000001000, 4096) = 0")
        XCTAssertEqual(un.json["effects"]["vmas_removed"].count, 1, "\(un)")
        XCTAssertEqual(s.get(vmasPath).json["vmas"].array.map { "\($0["start"].string ?? "")-\($0["end"].string ?? "")" },
                       ["0x7f0000000000-0x7f0000001000", "0x7f0000002000-0x7f0000004000"])
        assertSyscall(syscall(s, sid, pid, "munmap", #"{"addr": "0x7f0000000001", "length": 4096}"#), returns: -22, errno: "EINVAL")
        assertSyscall(syscall(s, sid, pid, "munmap", #"{"addr": "0x7f0000000000", "length": 0}"#), returns: -22, errno: "EINVAL")
        assertSyscall(syscall(s, sid, pid, "munmap", #"{"addr": "0x6f0000000000", "length": 4096}"#), returns: 0,
                      strace: "munmap(0x6f0000000000, 4096) = 0")

        // mprotect read-only on one page splits; then back to rw merges again.
        assertSyscall(syscall(s, sid, pid, "mprotect", #"{"addr": "0x7f0000002000", "length": 4096, "prot": "PROT_READ"}"#),
                      returns: 0, strace: "mprotect(0x7f0000002000, 4096, PROT_READ) = 0")
        XCTAssertEqual(s.get(vmasPath).json["vmas"].array.compactMap { $0["perms"].string }, ["rw-p", "r--p", "rw-p"])
        let back = syscall(s, sid, pid, "mprotect", #"{"addr": "0x7f0000002000", "length": 4096, "prot": 3}"#)
        assertSyscall(back, returns: 0, strace: "mprotect(0x7f0000002000, 4096, PROT_READ|PROT_WRITE) = 0")
        XCTAssertEqual(s.get(vmasPath).json["vmas"].array.compactMap { $0["perms"].string }, ["rw-p", "rw-p"])
        assertSyscall(syscall(s, sid, pid, "mprotect", #"{"addr": "0x7e0000000000", "length": 4096, "prot": "PROT_READ"}"#),
                      returns: -12, errno: "ENOMEM")
        assertSyscall(syscall(s, sid, pid, "mprotect", #"{"addr": "0x7f0000000800", "length": 4096, "prot": "PROT_READ"}"#),
                      returns: -22, errno: "EINVAL")
        assertError(syscall(s, sid, pid, "mprotect", #"{"addr": "0x7f0000002000", "length": 4096, "prot": "PROT_RAED"}"#),
                    400, "bad_request", contains: "PROT_RAED")

        // madvise: flags in smaps/vmas; unknown numeric advice is EINVAL; unknown names are 400.
        assertSyscall(syscall(s, sid, pid, "madvise", #"{"addr": "0x7f0000002000", "length": 8192, "advice": "MADV_DONTFORK"}"#),
                      returns: 0, strace: "madvise(0x7f0000002000, 8192, MADV_DONTFORK) = 0")
        let vm = s.get(vmasPath).json["vmas"].array
        XCTAssertTrue(vm[1]["flags"].array.compactMap(\.string).contains("VM_DONTCOPY"), "\(vm[1])")
        XCTAssertTrue(s.get("/v1/sessions/\(sid)/processes/\(pid)/smaps").text.contains(" dc"), "dc code in VmFlags")
        assertSyscall(syscall(s, sid, pid, "madvise", #"{"addr": "0x7f0000002000", "length": 8192, "advice": "MADV_DOFORK"}"#), returns: 0)
        XCTAssertFalse(s.get(vmasPath).json["vmas"][1]["flags"].array.compactMap(\.string).contains("VM_DONTCOPY"))
        assertSyscall(syscall(s, sid, pid, "madvise", #"{"addr": "0x7f0000002000", "length": 8192, "advice": 12345}"#),
                      returns: -22, errno: "EINVAL")
        assertSyscall(syscall(s, sid, pid, "madvise", #"{"addr": "0x7f0000002001", "length": 4096, "advice": "MADV_DONTNEED"}"#),
                      returns: -22, errno: "EINVAL")
        assertSyscall(syscall(s, sid, pid, "madvise", #"{"addr": "0x7e0000000000", "length": 4096, "advice": "MADV_DONTNEED"}"#),
                      returns: -12, errno: "ENOMEM")
        assertError(syscall(s, sid, pid, "madvise", #"{"addr": "0x7f0000002000", "length": 4096, "advice": "MADV_NOPE"}"#),
                    400, "bad_request", contains: "MADV_NOPE")
        // MADV_DONTNEED zaps a written page.
        XCTAssertEqual(fault(s, sid, pid, #"{"address": "0x7f0000003000", "access": "write"}"#).json["fault"].bool, true)
        let zap = syscall(s, sid, pid, "madvise", #"{"addr": "0x7f0000003000", "length": 4096, "advice": "MADV_DONTNEED"}"#)
        assertSyscall(zap, returns: 0)
        XCTAssertEqual(zap.json["effects"]["pages_zapped"].int, 1, "\(zap)")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/\(pid)/pages").json["pages"].count, 0)
    }

    func testMremapAndBrk() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": "0x7f0000000000", "length": 8192, \#(Self.anonRW)}"#), returns: "0x7f0000000000")
        // Grow in place, then move to a fixed address.
        assertSyscall(syscall(s, sid, pid, "mremap", #"{"old_address": "0x7f0000000000", "old_size": 8192, "new_size": 16384, "flags": "MREMAP_MAYMOVE"}"#),
                      returns: "0x7f0000000000", strace: "mremap(0x7f0000000000, 8192, 16384, MREMAP_MAYMOVE) = 0x7f0000000000")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/\(pid)/vmas").json["vmas"][0]["end"].string, "0x7f0000004000")
        XCTAssertEqual(fault(s, sid, pid, #"{"address": "0x7f0000000000", "access": "write"}"#).status, 200)
        assertSyscall(syscall(s, sid, pid, "mremap", #"{"old_address": "0x7f0000000000", "old_size": 16384, "new_size": 16384, "flags": "MREMAP_MAYMOVE|MREMAP_FIXED", "new_address": "0x7f1000000000"}"#),
                      returns: "0x7f1000000000")
        let moved = s.get("/v1/sessions/\(sid)/processes/\(pid)/vmas").json["vmas"].array
        XCTAssertEqual(moved.compactMap { $0["start"].string }, ["0x7f1000000000"])
        let pages = s.get("/v1/sessions/\(sid)/processes/\(pid)/pages").json["pages"].array
        XCTAssertEqual(pages.compactMap { $0["address"].string }, ["0x7f1000000000"], "the written page moved with the VMA")
        // Errno paths.
        assertSyscall(syscall(s, sid, pid, "mremap", #"{"old_address": "0x7f1000000001", "old_size": 4096, "new_size": 8192, "flags": "MREMAP_MAYMOVE"}"#),
                      returns: -22, errno: "EINVAL")
        assertSyscall(syscall(s, sid, pid, "mremap", #"{"old_address": "0x7f0000000000", "old_size": 4096, "new_size": 8192, "flags": 0}"#),
                      returns: -14, errno: "EFAULT")
        assertSyscall(syscall(s, sid, pid, "mremap", #"{"old_address": "0x7f1000000000", "old_size": 4096, "new_size": 8192, "flags": "MREMAP_FIXED", "new_address": "0x7f2000000000"}"#),
                      returns: -22, errno: "EINVAL")
        assertError(syscall(s, sid, pid, "mremap", #"{"old_address": "0x7f1000000000", "old_size": 4096, "new_size": 8192, "flags": "MREMAP_SOMETIMES"}"#),
                    400, "bad_request", contains: "MREMAP_SOMETIMES")

        // brk: query, grow (a [heap] VMA), a value below the start returns the current break.
        let cur = syscall(s, sid, pid, "brk", #"{"brk": null}"#)
        assertSyscall(cur, returns: "0x555555559000", strace: "brk(NULL) = 0x555555559000")
        let grown = syscall(s, sid, pid, "brk", #"{"brk": "0x55555557a000"}"#)
        assertSyscall(grown, returns: "0x55555557a000")
        let heap = s.get("/v1/sessions/\(sid)/processes/\(pid)/vmas").json["vmas"][0]
        XCTAssertEqual(heap["name"].string, "[heap]")
        XCTAssertEqual(heap["start"].string, "0x555555559000")
        XCTAssertEqual(heap["end"].string, "0x55555557a000")
        XCTAssertTrue(s.get("/v1/sessions/\(sid)/processes/\(pid)/maps").text.contains("[heap]"))
        assertSyscall(syscall(s, sid, pid, "brk", #"{"brk": "0x1000"}"#), returns: "0x55555557a000",
                      strace: "brk(0x1000) = 0x55555557a000")
        assertSyscall(syscall(s, sid, pid, "brk", #"{"brk": "0x555555559000"}"#), returns: "0x555555559000")
        XCTAssertNil(s.get("/v1/sessions/\(sid)/processes/\(pid)/vmas").json["vmas"].array.first { $0["name"].string == "[heap]" },
                     "shrinking to the start removes the heap")
        // Values near 2^64 (PAGE_ALIGN wraps, or the range cannot be mapped) leave the break
        // unchanged, as check_brk_limits() makes the kernel do: never a crash.
        for value in ["-1", #""0xfffffffffffff001""#, #""0xfffffffffffff000""#, #""0x800000000000""#] {
            assertSyscall(syscall(s, sid, pid, "brk", #"{"brk": \#(value)}"#), returns: "0x555555559000")
            guard s.isRunning else { return }
        }
        assertError(syscall(s, sid, pid, "brk", #"{"brk": [1]}"#), 400, "bad_request", contains: "brk")
    }

    func testForkAndExit() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid, comm: "parent")
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": "0x7f0000000000", "length": 16384, \#(Self.anonRW)}"#), returns: "0x7f0000000000")
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": "0x7f0000010000", "length": 4096, \#(Self.anonRW)}"#), returns: "0x7f0000010000")
        assertSyscall(syscall(s, sid, pid, "madvise", #"{"addr": "0x7f0000010000", "length": 4096, "advice": "MADV_DONTFORK"}"#), returns: 0)
        XCTAssertEqual(fault(s, sid, pid, #"{"address": "0x7f0000000000", "access": "write"}"#).json["folio"]["mapcount"].int, 1)

        let fork = syscall(s, sid, pid, "fork", "{}")
        assertSyscall(fork, returns: 2, strace: "fork() = 2")
        let effects = fork.json["effects"]["fork"].array
        XCTAssertEqual(effects.count, 2, "one entry per parent VMA: \(fork)")
        XCTAssertEqual(effects.compactMap { $0["copied"].bool }, [true, false], "VM_DONTCOPY is skipped")
        XCTAssertEqual(effects.first?["anon_vma"].string, "cloned")
        XCTAssertEqual(effects.first?["pages_write_protected"].int, 1)
        XCTAssertNotNil(effects.last?["why"].string)

        let child = s.get("/v1/sessions/\(sid)/processes/2")
        XCTAssertEqual(child.json["ppid"].int, 1)
        XCTAssertEqual(child.json["comm"].string, "parent")
        XCTAssertEqual(child.json["vmas"].array.compactMap { $0["start"].string }, ["0x7f0000000000"])
        let chain = child.json["vmas"][0]["anon_vma_chain"].array.compactMap(\.string)
        XCTAssertEqual(chain.count, 2, "child VMA is chained to its own anon_vma and the parent's: \(chain)")
        let forest = s.get("/v1/sessions/\(sid)/anon_vmas").json["anon_vmas"].array
        XCTAssertEqual(forest.count, 2)
        XCTAssertEqual(forest.compactMap { $0["id"].string }, ["av1", "av2"])
        XCTAssertEqual(forest[1]["parent"].string, "av1")
        XCTAssertEqual(forest[1]["root"].string, "av1")
        XCTAssertEqual(forest[0]["num_children"].int, 2, "av1 counts itself and av2")
        XCTAssertEqual(forest[0]["chains"].array.compactMap { $0["pid"].int }.sorted(), [1, 2])
        // The written page is now shared and write-protected in both.
        for p in [1, 2] {
            let page = s.get("/v1/sessions/\(sid)/processes/\(p)/pages?start=0x7f0000000000&end=0x7f0000001000").json["pages"][0]
            XCTAssertEqual(page["folio"]["mapcount"].int, 2, "pid \(p): \(page)")
            XCTAssertEqual(page["pte"]["writable"].bool, false, "pid \(p)")
        }
        let cow = fault(s, sid, 2, #"{"address": "0x7f0000000000", "access": "write"}"#)
        XCTAssertEqual(cow.json["handler"].string, "do_wp_page", "\(cow)")
        XCTAssertEqual(cow.json["folio"]["copied_from"].string, "f1")
        let stats = s.get("/v1/sessions/\(sid)/stats").json
        XCTAssertEqual(stats["anon_vma"]["fork_cloned"].int, 1)

        // exit: the process keeps its pid with state exited; its mm is gone; further calls are 409.
        let exit = syscall(s, sid, 2, "exit", #"{"status": 3}"#)
        assertSyscall(exit, returns: 0, strace: "exit_group(3) = ?")
        let dead = s.get("/v1/sessions/\(sid)/processes/2")
        XCTAssertEqual(dead.status, 200)
        XCTAssertEqual(dead.json["state"].string, "exited")
        XCTAssertEqual(dead.json["exit_status"].int, 3)
        XCTAssertEqual(dead.json["vmas"].count, 0)
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/anon_vmas").json["anon_vmas"].count, 1, "the child's anon_vma is freed")
        assertError(syscall(s, sid, 2, "mmap", #"{"addr": null, "length": 4096, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS"}"#),
                    409, "conflict", contains: "exited")
        assertError(syscall(s, sid, 2, "exit", "{}"), 409, "conflict")
        assertError(syscall(s, sid, 2, "fork", "{}"), 409, "conflict")
        assertError(fault(s, sid, 2, #"{"address": "0x7f0000000000"}"#), 409, "conflict")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/1").json["state"].string, "running")
        assertError(syscall(s, sid, 1, "exit", #"{"status": "zero"}"#), 400, "bad_request", contains: "status")
    }

    func testUnknownSyscallAndRoutes() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        assertError(syscall(s, sid, pid, "execve", "{}"), 404, "not_found", contains: "execve")
        assertError(syscall(s, sid, 42, "brk", "{}"), 404, "not_found", contains: "42")
        assertError(syscall(s, "00000000-0000-4000-8000-000000000000", 1, "brk", "{}"), 404, "not_found")
        assertError(s.get("/v1/nothing"), 404, "not_found")
        assertError(s.get("/v1/sessions/\(sid)/nothing"), 404, "not_found")
        assertError(s.get("/v1/sessions/\(sid)/processes/\(pid)/nothing"), 404, "not_found")
        assertError(s.request("PUT", "/v1/sessions/\(sid)/stats", body: Data("{}".utf8)), 404, "not_found")
        assertError(s.request("DELETE", "/v1/sessions/\(sid)/processes/\(pid)"), 404, "not_found")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/\(pid)").status, 200)
    }

    // MARK: Faults

    func testFaultPathsByKernelAndInject() throws {
        let s = try start()
        func setup(_ kernel: String) throws -> String {
            let sid = try session(s, #"{"kernel": "\#(kernel)"}"#)
            XCTAssertEqual(try process(s, sid), 1)
            assertSyscall(syscall(s, sid, 1, "mmap", #"{"addr": "0x7f0000000000", "length": 16384, \#(Self.anonRW)}"#), returns: "0x7f0000000000")
            return sid
        }
        // 6.18, contended mmap_lock on the first anonymous write: the trylock fails, retry under mmap_lock.
        let a = try setup("6.18")
        let r = fault(s, a, 1, #"{"address": "0x7f0000000010", "access": "write", "inject": {"mmap_lock_contended": true}}"#)
        XCTAssertEqual(r.status, 200, "\(r)")
        XCTAssertEqual(r.json["fault"].bool, true)
        XCTAssertEqual(r.json["address"].string, "0x7f0000000010")
        XCTAssertEqual(r.json["access"].string, "write")
        XCTAssertEqual(r.json["outcome"].string, "handled")
        XCTAssertTrue(r.json["si_code"].isNull)
        XCTAssertEqual(r.json["lock"]["code"].string, "ANON_VMA_TRYLOCK_FAILED", "\(r)")
        XCTAssertEqual(r.json["lock"]["stat"].string, "retry")
        XCTAssertEqual(r.json["lock"]["path"].string, "vma_lock_then_mmap_lock")
        XCTAssertEqual(r.json["lock"]["steps"][0]["fn"].string, "lock_vma_under_rcu")
        XCTAssertEqual(r.json["handler"].string, "do_anonymous_page")
        XCTAssertEqual(r.json["anon_vma"]["action"].string, "allocated")
        XCTAssertEqual(r.json["anon_vma"]["id"].string, "av1")
        XCTAssertEqual(r.json["pte"]["before"]["present"].bool, false)
        XCTAssertEqual(r.json["pte"]["after"]["present"].bool, true)
        XCTAssertEqual(r.json["pte"]["after"]["writable"].bool, true)
        XCTAssertEqual(r.json["folio"]["id"].string, "f1")
        XCTAssertEqual(r.json["folio"]["anon"].bool, true)
        XCTAssertEqual(r.json["vma"]["start"].string, "0x7f0000000000")
        // Present and writable now: no fault is taken.
        let again = fault(s, a, 1, #"{"address": "0x7f0000000020", "access": "read"}"#)
        XCTAssertEqual(again.json["fault"].bool, false, "\(again)")
        let stats = s.get("/v1/sessions/\(a)/stats").json
        XCTAssertEqual(stats["faults"]["total"].int, 1, "\(stats)")
        XCTAssertEqual(stats["faults"]["vma_lock"]["retry"].int, 1)
        XCTAssertEqual(stats["faults"]["mmap_lock"].int, 1)
        XCTAssertEqual(stats["faults"]["by_reason"]["ANON_VMA_TRYLOCK_FAILED"].int, 1)
        XCTAssertEqual(stats["faults"]["by_handler"]["do_anonymous_page"].int, 1)
        XCTAssertEqual(stats["anon_vma"]["allocated"].int, 1)
        XCTAssertEqual(stats["anon_vma"]["live"].int, 1)
        XCTAssertEqual(stats["vmas"]["live"].int, 1)

        // Same fault uncontended under each model.
        let expected: [(String, String, String?, String)] = [
            ("6.18", "vma_lock", "success", "VMA_OK_TRYLOCK"),
            ("6.4", "vma_lock_then_mmap_lock", "abort", "NO_ANON_VMA"),
            ("v3-patch", "vma_lock_then_mmap_lock", "abort", "NO_ANON_VMA"),
            ("6.3", "mmap_lock", nil, ""),
        ]
        for (kernel, path, stat, code) in expected {
            let sid = try setup(kernel)
            let f = fault(s, sid, 1, #"{"address": "0x7f0000000000", "access": "write"}"#)
            XCTAssertEqual(f.json["lock"]["path"].string, path, "\(kernel): \(f)")
            if let stat { XCTAssertEqual(f.json["lock"]["stat"].string, stat, kernel) } else { XCTAssertTrue(f.json["lock"]["stat"].isNull, kernel) }
            if !code.isEmpty { XCTAssertEqual(f.json["lock"]["code"].string, code, kernel) }
            XCTAssertEqual(f.json["anon_vma"]["action"].string, "allocated", kernel)
            // The second page reuses the anon_vma and, with per-VMA locks, stays on the VMA lock.
            let g = fault(s, sid, 1, #"{"address": "0x7f0000001000", "access": "write"}"#)
            XCTAssertEqual(g.json["anon_vma"]["action"].string, "present", "\(kernel): \(g)")
            XCTAssertEqual(g.json["lock"]["path"].string, kernel == "6.3" ? "mmap_lock" : "vma_lock", kernel)
        }

        // Access errors and bad requests.
        let segv = fault(s, a, 1, #"{"address": "0x1000", "access": "read"}"#)
        XCTAssertEqual(segv.json["outcome"].string, "SIGSEGV", "\(segv)")
        XCTAssertEqual(segv.json["si_code"].string, "SEGV_MAPERR")
        assertSyscall(syscall(s, a, 1, "mprotect", #"{"addr": "0x7f0000002000", "length": 4096, "prot": "PROT_READ"}"#), returns: 0)
        let accerr = fault(s, a, 1, #"{"address": "0x7f0000002000", "access": "write"}"#)
        XCTAssertEqual(accerr.json["outcome"].string, "SIGSEGV")
        XCTAssertEqual(accerr.json["si_code"].string, "SEGV_ACCERR")
        XCTAssertEqual(s.get("/v1/sessions/\(a)/stats").json["faults"]["sigsegv"].int, 2)
        assertError(fault(s, a, 1, #"{"address": "0x7f0000000000", "access": "poke"}"#), 400, "bad_request", contains: "access")
        assertError(fault(s, a, 1, #"{"access": "read"}"#), 400, "bad_request", contains: "address")
        assertError(fault(s, a, 1, #"{"address": "0x7f0000000000", "inject": {"mmap_lock_contended": 1}}"#), 400, "bad_request",
                    contains: "mmap_lock_contended")
        assertError(fault(s, a, 1, #"{"address": "0x7f0000000000", "inject": true}"#), 400, "bad_request", contains: "inject")
        assertError(fault(s, a, 9, #"{"address": "0x7f0000000000"}"#), 404, "not_found")
    }

    // MARK: Batches

    func testOpsBatchFullAndSummary() throws {
        let s = try start()
        let sid = try session(s)
        let ops = """
        {"ops": [
          {"op": "process", "comm": "batch"},
          {"op": "mmap", "pid": 1, "addr": "0x7f0000000000", "length": 16384, \(Self.anonRW)},
          {"op": "fault", "pid": 1, "address": "0x7f0000000000", "access": "write"},
          {"op": "touch", "pid": 1, "address": "0x7f0000001000", "pages": 2, "access": "write"},
          {"op": "mmap", "pid": 1, "addr": "0x10001", "length": 4096, \(Self.anonRW)},
          {"op": "munmap", "pid": 7, "addr": "0x7f0000000000", "length": 4096},
          {"op": "munmap", "pid": 1, "addr": "0x7f0000003000", "length": 4096}
        ]}
        """
        let full = s.post("/v1/sessions/\(sid)/ops", ops)
        XCTAssertEqual(full.status, 200, "\(full)")
        let results = full.json["results"].array
        XCTAssertEqual(results.count, 7)
        XCTAssertEqual(results[0]["pid"].int, 1)
        XCTAssertEqual(results[1]["return"].string, "0x7f0000000000")
        XCTAssertNotNil(results[1]["strace"].string, "full detail keeps strace")
        XCTAssertGreaterThan(results[1]["trace"].count, 0, "full detail keeps the trace")
        XCTAssertEqual(results[2]["lock"]["code"].string, "VMA_OK_TRYLOCK")
        XCTAssertEqual(results[3]["faults"].count, 2)
        XCTAssertEqual(results[4]["errno"].string, "EINVAL", "a failed syscall reports its errno in place")
        XCTAssertEqual(results[5]["error"]["code"].string, "not_found", "an op that refers to nothing reports its error in place")
        XCTAssertEqual(results[6]["return"].int, 0, "the rest still run")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/1/vmas").json["vmas"][0]["end"].string, "0x7f0000003000")
        let log = s.get("/v1/sessions/\(sid)/log").json["ops"].array
        XCTAssertEqual(log.compactMap { $0["op"].string }, ["process", "mmap", "fault", "touch", "mmap", "munmap"],
                       "the log has every applied op (not the one that referred to nothing)")

        let summary = s.post("/v1/sessions/\(sid)/ops", """
        {"detail": "summary", "ops": [
          {"op": "fault", "pid": 1, "address": "0x7f0000000000", "access": "read"},
          {"op": "mmap", "pid": 1, "addr": null, "length": 4096, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS"},
          {"op": "fault", "pid": 1, "address": "0x1000", "access": "read"},
          {"op": "fork", "pid": 1}
        ]}
        """)
        XCTAssertEqual(summary.status, 200, "\(summary)")
        let sr = summary.json["results"].array
        XCTAssertEqual(sr.count, 4)
        XCTAssertEqual(sr[0]["fault"].bool, false)
        XCTAssertEqual(sr[1]["syscall"].string, "mmap")
        XCTAssertNotNil(sr[1]["return"].string)
        XCTAssertTrue(sr[1]["errno"].isNull)
        XCTAssertFalse(sr[1]["trace"].exists, "summary drops traces: \(sr[1])")
        XCTAssertFalse(sr[1]["effects"].exists)
        XCTAssertEqual(sr[2]["outcome"].string, "SIGSEGV")
        XCTAssertFalse(sr[2]["trace"].exists)
        XCTAssertEqual(sr[3]["return"].int, 2)
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/log").json["ops"].count, 10)
        // Summary mode only drops detail: later full-mode requests still trace.
        XCTAssertGreaterThan(syscall(s, sid, 1, "brk", "{}").json["trace"].count, 0)
    }

    func testOpsBatchMalformedAppliesNothing() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": "0x7f0000000000", "length": 16384, \#(Self.anonRW)}"#), returns: "0x7f0000000000")
        let before = snapshot(s, sid, pids: [pid])
        let cases: [(String, String)] = [
            (#"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096}, {"op": "fault", "pid": 1, "address": "0x7f0000001000", "access": "sideways"}]}"#, "ops[1].access"),
            (#"{"ops": [{"op": "brk", "pid": 1}, {"op": "brk", "pid": 1}, {"op": "mprotect", "pid": 1, "addr": "0x7f0000000000", "length": 4096, "prot": "PROT_FOO"}]}"#, "ops[2].prot"),
            (#"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": "all"}]}"#, "ops[0].length"),
            (#"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096}, {"op": "teleport", "pid": 1}]}"#, "ops[1].op"),
            (#"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096}, {"pid": 1}]}"#, "ops[1].op"),
            (#"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096}, 5]}"#, "ops[1]"),
            (#"{"ops": [{"op": "munmap", "pid": "one", "addr": "0x7f0000000000", "length": 4096}]}"#, "ops[0].pid"),
            (#"{"ops": [{"op": "brk", "pid": 1}, {"op": "touch", "pid": 1, "address": -1, "pages": 2}]}"#, "ops[1].pages"),
            (#"{"ops": [], "detail": "verbose"}"#, "detail"),
            (#"{"ops": {"op": "brk"}}"#, "ops"),
            (#"{"operations": []}"#, "ops"),
        ]
        for (body, field) in cases {
            let r = s.post("/v1/sessions/\(sid)/ops", body)
            assertError(r, 400, "bad_request", contains: field)
        }
        XCTAssertEqual(snapshot(s, sid, pids: [pid]), before, "a rejected batch applies nothing")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/log").json["ops"].count, 2, "log length unchanged")
        // An empty batch is fine and applies nothing.
        XCTAssertEqual(s.post("/v1/sessions/\(sid)/ops", #"{"ops": []}"#).json["results"].count, 0)
        assertError(s.post("/v1/sessions/nope/ops", #"{"ops": []}"#), 404, "not_found")
    }

    // MARK: Log and events

    func testLogReplaysTheSession() throws {
        let s = try start()
        let sid = try session(s)
        _ = s.post("/v1/sessions/\(sid)/files", #"{"path": "/f", "size": 8192}"#)
        let pid = try process(s, sid, comm: "cat")
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": "0x7f0000000000", "length": 16384, \#(Self.anonRW)}"#), returns: "0x7f0000000000")
        _ = fault(s, sid, pid, #"{"address": "0x7f0000000000", "access": "write", "inject": {"mmap_lock_contended": true}}"#)
        assertSyscall(syscall(s, sid, pid, "fork", "{}"), returns: 2)
        _ = syscall(s, sid, pid, "mmap", #"{"addr": null, "length": 4096, "prot": "PROT_BAD", "flags": "MAP_PRIVATE"}"#) // 400: not logged

        let log = s.get("/v1/sessions/\(sid)/log")
        XCTAssertEqual(log.status, 200)
        let ops = log.json["ops"].array
        XCTAssertEqual(ops.compactMap { $0["op"].string }, ["file", "process", "mmap", "fault", "fork"])
        XCTAssertEqual(ops[2]["pid"].int, 1)
        XCTAssertEqual(ops[3]["inject"]["mmap_lock_contended"].bool, true)

        // The log is "the JSON that would replay it": replaying it as a batch into
        // a fresh session gives the same state.
        let replay = try session(s)
        let body = try JSONSerialization.data(withJSONObject: ["ops": log.json["ops"].value!])
        let r = s.request("POST", "/v1/sessions/\(replay)/ops", body: body)
        XCTAssertEqual(r.status, 200, "\(r)")
        for path in ["/anon_vmas", "/processes", "/processes/1/vmas", "/processes/2/vmas", "/processes/2/pages", "/files"] {
            XCTAssertEqual(s.get("/v1/sessions/\(replay)\(path)").text, s.get("/v1/sessions/\(sid)\(path)").text, path)
        }
        XCTAssertEqual(s.get("/v1/sessions/\(replay)/log").json.description, log.json.description)
    }

    func testEventsStreamLiveOperations() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        let conn = try s.connect(timeout: 10)
        defer { conn.close() }
        try conn.send("GET /v1/sessions/\(sid)/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        // The log so far (the process) arrives first.
        var got = conn.read(until: { $0.contains("\"seq\":1") && $0.contains("\n\n") }, timeout: 10)
        XCTAssertTrue(got.hasPrefix("HTTP/1.1 200"), got)
        XCTAssertTrue(got.lowercased().contains("content-type: text/event-stream"), got)
        XCTAssertTrue(got.contains("id: 1\n"), got)

        // An operation applied through another connection is pushed live.
        assertSyscall(syscall(s, sid, pid, "mmap", #"{"addr": "0x7f0000000000", "length": 4096, \#(Self.anonRW)}"#), returns: "0x7f0000000000")
        got = conn.read(until: { $0.contains("\"seq\":2") && $0.hasSuffix("\n\n") || $0.contains("\"seq\":2") && $0.contains("\n\n", after: "\"seq\":2") }, timeout: 10)
        XCTAssertTrue(got.contains("event: op\n"), got)
        XCTAssertTrue(got.contains("id: 2\n"), got)
        let dataLines = got.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") && $0.contains("\"seq\":2") }
        XCTAssertEqual(dataLines.count, 1, got)
        let event = JSONNode(try? JSONSerialization.jsonObject(with: Data(dataLines[0].dropFirst(6).utf8)))
        XCTAssertEqual(event["seq"].int, 2)
        XCTAssertEqual(event["op"]["op"].string, "mmap")
        XCTAssertEqual(event["result"]["return"].string, "0x7f0000000000")

        // A fault too, with its lock path.
        _ = fault(s, sid, pid, #"{"address": "0x7f0000000000", "access": "write"}"#)
        got = conn.read(until: { $0.contains("\"seq\":3") && $0.contains("\n\n", after: "\"seq\":3") }, timeout: 10)
        XCTAssertTrue(got.contains("VMA_OK_TRYLOCK"), got)

        // Last-Event-ID resumes after the given id.
        let resume = try s.connect(timeout: 10)
        defer { resume.close() }
        try resume.send("GET /v1/sessions/\(sid)/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 2\r\n\r\n")
        let r2 = resume.read(until: { $0.contains("\"seq\":3") && $0.contains("\n\n", after: "\"seq\":3") }, timeout: 10)
        XCTAssertTrue(r2.contains("id: 3\n"), r2)
        XCTAssertFalse(r2.contains("id: 1\n") || r2.contains("id: 2\n"), r2)

        // Deleting the session ends the stream (terminating chunk or close).
        XCTAssertEqual(s.delete("/v1/sessions/\(sid)").status, 204)
        let end = conn.read(until: { $0.hasSuffix("0\r\n\r\n") }, timeout: 10)
        XCTAssertTrue(end.hasSuffix("0\r\n\r\n"), "stream should end after DELETE: …\(end.suffix(200))")
        assertError(s.get("/v1/sessions/\(sid)/events"), 404, "not_found")
    }

    // MARK: HTTP errors and limits

    func testMalformedRequestsAre400() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        let p = "/v1/sessions/\(sid)/processes/\(pid)"
        for body in ["{", "{\"addr\": }", "not json", "{\"length\": 4096,}", "\u{FEFF}{}", "{\"a\": \"\\x\"}", "[", "\"str\"", "{\"a\":1}{"] {
            let r = s.post(p + "/syscalls/mmap", body)
            XCTAssertEqual(r.status, 400, "body \(body.debugDescription): \(r)")
            XCTAssertEqual(r.json["error"]["code"].string, "bad_request", "\(r)")
            XCTAssertNotNil(r.json["error"]["request_id"].string, "\(r)")
        }
        assertError(s.post(p + "/syscalls/mmap", "{"), 400, "bad_request", contains: "JSON")
        // Wrong types name the field.
        assertError(s.post(p + "/syscalls/munmap", #"{"addr": "0x7f0000000000", "length": [4096]}"#), 400, "bad_request", contains: "'length'")
        assertError(s.post(p + "/syscalls/munmap", #"{"addr": {"x": 1}, "length": 4096}"#), 400, "bad_request", contains: "'addr'")
        assertError(s.post(p + "/syscalls/madvise", #"{"addr": "0x7f0000000000", "length": 4096, "advice": null}"#), 400, "bad_request", contains: "advice")
        assertError(s.post(p + "/syscalls/mprotect", #"{"addr": "0x7f0000000000", "length": 4096, "prot": "PROT_READ|PROT_WRITE|PROT_EXCE"}"#),
                    400, "bad_request", contains: "PROT_EXCE")
        assertError(s.post(p + "/syscalls/mprotect", #"{"addr": "0x7f0000000000", "length": 4096, "prot": ["PROT_READ", "prot_write"]}"#),
                    400, "bad_request", contains: "prot")
        assertError(s.post(p + "/syscalls/fork", "[]"), 400, "bad_request")
        assertError(s.post(p + "/faults", "7"), 400, "bad_request")
        XCTAssertEqual(s.get("/v1/sessions/\(sid)/log").json["ops"].count, 1, "nothing but the process was applied")
    }

    func testFailedRequestChangesNothing() throws {
        let s = try start()
        let sid = try session(s)
        let pid = try process(s, sid)
        let setup = s.post("/v1/sessions/\(sid)/ops", """
        {"ops": [{"op": "mmap", "pid": 1, "addr": "0x7f0000000000", "length": 32768, \(Self.anonRW)},
                 {"op": "touch", "pid": 1, "address": "0x7f0000000000", "pages": 3, "access": "write"},
                 {"op": "fork", "pid": 1}]}
        """)
        XCTAssertEqual(setup.status, 200, "\(setup)")
        let before = snapshot(s, sid, pids: [1, 2])
        XCTAssertTrue(before[2].contains("av2"), "non-trivial state: \(before[2])")
        let p = "/v1/sessions/\(sid)/processes/\(pid)"
        assertError(s.post(p + "/syscalls/mprotect", #"{"addr": "0x7f0000000000", "length": 8192, "prot": "PROT_NONE|PROT_NOPE"}"#), 400, "bad_request")
        assertError(s.post(p + "/syscalls/munmap", #"{"addr": "0x7f0000000000", "length": -1.5}"#), 400, "bad_request")
        assertError(s.post(p + "/syscalls/munmap", #"{"addr": "0x7f0000000000""#), 400, "bad_request")
        assertError(s.post(p + "/faults", #"{"address": "0x7f0000005000", "access": "write", "mode": "hypervisor"}"#), 400, "bad_request")
        assertError(s.post(p + "/syscalls/munmap2", #"{"addr": "0x7f0000000000", "length": 4096}"#), 404, "not_found")
        assertError(s.post("/v1/sessions/\(sid)/processes/9/syscalls/munmap", #"{"addr": "0x7f0000000000", "length": 4096}"#), 404, "not_found")
        assertError(s.post("/v1/sessions/\(sid)/files", #"{"path": ["/x"], "size": 4096}"#), 400, "bad_request", contains: "path")
        assertError(s.post("/v1/sessions/\(sid)/ops", #"{"ops": [{"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096}, {"op": "fault", "pid": 1}]}"#),
                    400, "bad_request", contains: "ops[1].address")
        XCTAssertEqual(snapshot(s, sid, pids: [1, 2]), before, "failed requests left the session unchanged")
    }

    func testLimitsAre422() throws {
        let s = try start(["--max_sessions", "3", "--max-processes-per-session", "2", "--max_batch_ops", "5"])
        let a = try session(s)
        _ = try session(s)
        let c = try session(s)
        assertError(s.post("/v1/sessions", "{}"), 422, "limit_exceeded")
        XCTAssertEqual(s.get("/v1/sessions").json["sessions"].count, 3)
        XCTAssertEqual(s.delete("/v1/sessions/\(c)").status, 204)
        _ = try session(s)   // room again after a delete

        XCTAssertEqual(try process(s, a), 1)
        XCTAssertEqual(try process(s, a), 2)
        assertError(s.post("/v1/sessions/\(a)/processes", "{}"), 422, "limit_exceeded")
        assertError(syscall(s, a, 1, "fork", "{}"), 422, "limit_exceeded")
        XCTAssertEqual(s.get("/v1/sessions/\(a)/processes").json["processes"].count, 2)

        let five = Array(repeating: #"{"op": "brk", "pid": 1}"#, count: 5).joined(separator: ",")
        XCTAssertEqual(s.post("/v1/sessions/\(a)/ops", "{\"ops\": [\(five)]}").status, 200)
        let logBefore = s.get("/v1/sessions/\(a)/log").json["ops"].count
        assertError(s.post("/v1/sessions/\(a)/ops", "{\"ops\": [\(five), {\"op\": \"brk\", \"pid\": 1}]}"), 422, "limit_exceeded", contains: "6")
        XCTAssertEqual(s.get("/v1/sessions/\(a)/log").json["ops"].count, logBefore, "an over-limit batch applies nothing")
        // In a batch, the process limit is reported in place.
        let r = s.post("/v1/sessions/\(a)/ops", #"{"ops": [{"op": "process"}, {"op": "brk", "pid": 2}]}"#)
        XCTAssertEqual(r.json["results"][0]["error"]["code"].string, "limit_exceeded", "\(r)")
        XCTAssertNotNil(r.json["results"][1]["return"].string)
    }

    func testBodyOverLimitIs413() throws {
        let s = try start(["--max_body_bytes", "2048"])
        let small = #"{"name": "\#(String(repeating: "a", count: 1800))"}"#
        XCTAssertEqual(s.post("/v1/sessions", small).status, 201)
        let big = #"{"name": "\#(String(repeating: "a", count: 4000))"}"#
        let r = s.post("/v1/sessions", big)
        XCTAssertEqual(r.status, 413, "\(r)")
        XCTAssertEqual(r.json["error"]["code"].string, "too_large", "\(r)")
        // Announced by Content-Length, body never sent.
        let raw = try s.raw("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        XCTAssertEqual(raw.status, 413, "\(raw)")
        XCTAssertEqual(raw.json["error"]["code"].string, "too_large")
        // Chunked over the limit.
        let chunk = String(repeating: "b", count: 3000)
        let chunked = try s.raw("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\(String(chunk.utf8.count, radix: 16))\r\n\(chunk)\r\n0\r\n\r\n")
        XCTAssertEqual(chunked.status, 413, "\(chunked)")
        XCTAssertEqual(s.get("/v1/sessions").json["sessions"].count, 1, "nothing created by a 413")
        XCTAssertEqual(s.get("/healthz").status, 200)
    }

    // MARK: Service endpoints

    func testHealthz() throws {
        let s = try start()
        let r = s.get("/healthz")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.contentType, "application/json")
        XCTAssertEqual(r.json["status"].string, "ok")
        let head = try s.raw("HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", head: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertTrue(head.body.isEmpty)
        XCTAssertEqual(head.headers["content-length"], r.headers["content-length"])
    }

    func testMetricsCountRequestsSessionsAndFaults() throws {
        let s = try start()
        let a = try session(s)
        let b = try session(s, #"{"kernel": "6.4"}"#)
        _ = try session(s)
        assertError(s.post("/v1/sessions", #"{"kernel": "2.6"}"#), 400, "bad_request")
        for sid in [a, b] {
            XCTAssertEqual(try process(s, sid), 1)
            _ = s.post("/v1/sessions/\(sid)/ops", """
            {"detail": "summary", "ops": [{"op": "mmap", "pid": 1, "addr": "0x7f0000000000", "length": 16384, \(Self.anonRW)},
             {"op": "touch", "pid": 1, "address": "0x7f0000000000", "pages": 4, "access": "write"}]}
            """)
        }
        _ = fault(s, a, 1, #"{"address": "0x1000"}"#)
        XCTAssertEqual(s.delete("/v1/sessions/\(b)").status, 204)
        XCTAssertEqual(s.get("/v1/sessions/nope").status, 404)

        let m = s.get("/metrics")
        XCTAssertEqual(m.status, 200)
        XCTAssertTrue(m.contentType.hasPrefix("text/plain"), m.contentType)
        var values: [String: Double] = [:]
        for line in m.text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let sp = line.lastIndex(of: " "), let v = Double(line[line.index(after: sp)...]) else {
                XCTFail("not a Prometheus sample line: \(line)"); continue
            }
            values[String(line[..<sp])] = v
        }
        for name in ["mmsim_http_requests_total", "mmsim_http_request_duration_seconds", "mmsim_sessions_live", "mmsim_faults_total"] {
            XCTAssertTrue(m.text.contains("# TYPE \(name) "), "no TYPE line for \(name)")
        }
        XCTAssertEqual(values[#"mmsim_http_requests_total{route="/v1/sessions",status="201"}"#], 3, m.text)
        XCTAssertEqual(values[#"mmsim_http_requests_total{route="/v1/sessions",status="400"}"#] ??
                       values[#"mmsim_http_requests_total{route="error",status="400"}"#], 1, m.text)
        XCTAssertEqual(values[#"mmsim_http_requests_total{route="/v1/sessions/{sid}/ops",status="200"}"#], 2, m.text)
        XCTAssertEqual(values[#"mmsim_http_requests_total{route="/v1/sessions/{sid}",status="204"}"#], 1, m.text)
        XCTAssertEqual(values["mmsim_sessions_live"], 2, m.text)
        // Counted requests = histogram count = sum of the per-route counters; buckets are cumulative.
        let total = values.filter { $0.key.hasPrefix("mmsim_http_requests_total{") }.values.reduce(0, +)
        XCTAssertEqual(values["mmsim_http_request_duration_seconds_count"], total)
        XCTAssertEqual(values[#"mmsim_http_request_duration_seconds_bucket{le="+Inf"}"#], total)
        XCTAssertEqual(total, 11, "3 + 1 session creations, 2 processes, 2 batches, 1 fault, 1 delete, 1 404")
        let buckets = m.text.split(separator: "\n").filter { $0.hasPrefix("mmsim_http_request_duration_seconds_bucket") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
        XCTAssertEqual(buckets, buckets.sorted(), "cumulative buckets")
        // 6.18: first write VMA_OK_TRYLOCK + 3 × VMA_OK on the VMA lock; 6.4: NO_ANON_VMA then 3 × VMA_OK;
        // the SIGSEGV at 0x1000 goes to lock_mm_and_find_vma under 6.18 (no VMA).
        XCTAssertEqual(values[#"mmsim_faults_total{lock="vma_lock"}"#], 7, m.text)
        XCTAssertEqual(values[#"mmsim_faults_total{lock="mmap_lock"}"#], 2, m.text)
    }

    func testOpenAPIDocumentsEveryRoute() throws {
        let s = try start()
        let r = s.get("/openapi.json")
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.contentType.hasPrefix("application/json"))
        XCTAssertEqual(r.json["openapi"].string, "3.1.0")
        XCTAssertNotNil(r.json["info"]["title"].string)
        let paths = r.json["paths"]
        let expected: [(String, String)] = [
            ("/healthz", "get"), ("/metrics", "get"), ("/openapi.json", "get"), ("/v1/kernels", "get"),
            ("/v1/sessions", "post"), ("/v1/sessions", "get"), ("/v1/sessions/{sid}", "get"), ("/v1/sessions/{sid}", "delete"),
            ("/v1/sessions/{sid}/stats", "get"), ("/v1/sessions/{sid}/anon_vmas", "get"), ("/v1/sessions/{sid}/log", "get"),
            ("/v1/sessions/{sid}/events", "get"), ("/v1/sessions/{sid}/files", "post"), ("/v1/sessions/{sid}/files", "get"),
            ("/v1/sessions/{sid}/processes", "post"), ("/v1/sessions/{sid}/processes", "get"),
            ("/v1/sessions/{sid}/processes/{pid}", "get"), ("/v1/sessions/{sid}/processes/{pid}/vmas", "get"),
            ("/v1/sessions/{sid}/processes/{pid}/maps", "get"), ("/v1/sessions/{sid}/processes/{pid}/smaps", "get"),
            ("/v1/sessions/{sid}/processes/{pid}/pages", "get"),
            ("/v1/sessions/{sid}/processes/{pid}/syscalls/{name}", "post"),
            ("/v1/sessions/{sid}/processes/{pid}/faults", "post"), ("/v1/sessions/{sid}/ops", "post"),
            ("/v1/sessions/{sid}/replay", "post"), ("/v1/compare", "post"),
        ]
        for (path, method) in expected {
            let op = paths[path][method]
            XCTAssertTrue(op.exists, "\(method.uppercased()) \(path) missing from /openapi.json")
            XCTAssertTrue(op["responses"].count > 0, "\(method) \(path) has no responses")
            for name in ["sid", "pid", "name"] where path.contains("{\(name)}") {
                XCTAssertTrue(op["parameters"].array.contains { $0["name"].string == name && $0["in"].string == "path" },
                              "\(method) \(path) does not declare path parameter \(name)")
            }
        }
        // Every $ref resolves.
        let text = r.text
        var refs = Set<String>()
        var rest = Substring(text)
        while let range = rest.range(of: "\"$ref\":\"#/components/schemas/") {
            let tail = rest[range.upperBound...]
            if let end = tail.firstIndex(of: "\"") { refs.insert(String(tail[..<end])) }
            rest = tail
        }
        XCTAssertFalse(refs.isEmpty)
        for ref in refs { XCTAssertTrue(r.json["components"]["schemas"][ref].exists, "dangling $ref \(ref)") }
    }

    func testStaticFilesAndTraversal() throws {
        let s = try start()
        let index = s.get("/")
        XCTAssertEqual(index.status, 200)
        XCTAssertTrue(index.contentType.hasPrefix("text/html"), index.contentType)
        XCTAssertEqual(index.text, ServerProcess.indexHTML)
        XCTAssertEqual(s.get("/index.html").text, ServerProcess.indexHTML)
        let js = s.get("/app.js")
        XCTAssertEqual(js.status, 200)
        XCTAssertTrue(js.contentType.contains("javascript"), js.contentType)
        XCTAssertEqual(s.get("/missing.css").status, 404)
        XCTAssertEqual(s.request("POST", "/index.html", body: Data("{}".utf8)).status, 405)

        // A secret next to the public dir, and a symlink inside it pointing out.
        let secretName = s.publicDir.lastPathComponent + "-secret.txt"
        let secret = s.publicDir.deletingLastPathComponent().appendingPathComponent(secretName)
        try Data("TOP SECRET\n".utf8).write(to: secret)
        defer { try? FileManager.default.removeItem(at: secret) }
        try FileManager.default.createSymbolicLink(atPath: s.publicDir.appendingPathComponent("link.txt").path, withDestinationPath: secret.path)
        for path in ["/../etc/passwd", "/%2e%2e/etc/passwd", "/../\(secretName)", "/%2e%2e/\(secretName)",
                     "/%2E%2E/%2E%2E/etc/passwd", "/..%2f\(secretName)", "/%2e%2e%2f\(secretName)", "/./../\(secretName)",
                     "/link.txt", "/v1/../../\(secretName)", "/.%2e/\(secretName)", "//etc/passwd", "/..\\\(secretName)",
                     "/%252e%252e/\(secretName)", "/index.html%00.txt"] {
            let r = try s.raw("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            XCTAssertTrue([400, 404].contains(r.status), "\(path): \(r.statusLine)")
            XCTAssertFalse(r.text.contains("TOP SECRET") || r.text.contains("root:"), "\(path) leaked: \(r.text.prefix(200))")
        }
        for path in ["/../etc/passwd", "/%2e%2e/etc/passwd"] {
            XCTAssertEqual(try s.raw("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 404, path)
        }
    }

    // MARK: Determinism

    func testSameOpsGiveIdenticalState() throws {
        let s = try start()
        let workload = """
        {"ops": [
          {"op": "file", "path": "/usr/lib/libc.so.6", "size": 1970000},
          {"op": "process", "comm": "det"},
          {"op": "open", "pid": 1, "path": "/usr/lib/libc.so.6", "flags": "O_RDONLY"},
          {"op": "mmap", "pid": 1, "addr": null, "length": 1970000, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_DENYWRITE", "fd": 3, "offset": 0},
          {"op": "mmap", "pid": 1, "addr": null, "length": 65536, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS"},
          {"op": "mmap", "pid": 1, "addr": null, "length": 32768, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_SHARED|MAP_ANONYMOUS"},
          {"op": "brk", "pid": 1, "brk": "0x555555580000"},
          {"op": "touch", "pid": 1, "address": "0x555555559000", "pages": 3, "access": "write"},
          {"op": "fault", "pid": 1, "address": "0x7ffff7e1e000", "access": "read"},
          {"op": "fork", "pid": 1},
          {"op": "mprotect", "pid": 1, "addr": "0x555555559000", "length": 4096, "prot": "PROT_READ"},
          {"op": "fault", "pid": 2, "address": "0x555555559000", "access": "write"},
          {"op": "fault", "pid": 2, "address": "0x55555555c000", "access": "write", "inject": {"mmap_lock_contended": true}},
          {"op": "fork", "pid": 2},
          {"op": "munmap", "pid": 1, "addr": "0x55555555a000", "length": 4096},
          {"op": "exit", "pid": 3, "status": 0}
        ]}
        """
        let a = try session(s), b = try session(s)
        let ra = s.post("/v1/sessions/\(a)/ops", workload)
        let rb = s.post("/v1/sessions/\(b)/ops", workload)
        XCTAssertEqual(ra.status, 200, "\(ra)")
        XCTAssertEqual(ra.text, rb.text, "same results")
        XCTAssertFalse(ra.text.contains("\"error\""), "workload should apply cleanly: \(ra.text.prefix(2000))")
        let forest = s.get("/v1/sessions/\(a)/anon_vmas")
        XCTAssertGreaterThanOrEqual(forest.json["anon_vmas"].count, 2, "\(forest)")
        XCTAssertEqual(forest.text, s.get("/v1/sessions/\(b)/anon_vmas").text, "identical anon_vma forests, ids included")
        for pid in [1, 2, 3] {
            for view in ["vmas", "pages", "maps", "smaps"] {
                let x = s.get("/v1/sessions/\(a)/processes/\(pid)/\(view)")
                XCTAssertEqual(x.status, 200)
                XCTAssertEqual(x.text, s.get("/v1/sessions/\(b)/processes/\(pid)/\(view)").text, "pid \(pid) \(view)")
            }
        }
        XCTAssertGreaterThan(s.get("/v1/sessions/\(a)/processes/2/vmas").json["vmas"].count, 2)
        XCTAssertEqual(s.get("/v1/sessions/\(a)/stats").text, s.get("/v1/sessions/\(b)/stats").text)
        // The same ops one request at a time give the same state as the batch.
        let c = try session(s)
        let items = try XCTUnwrap(JSONNode(try JSONSerialization.jsonObject(with: Data(workload.utf8)))["ops"].value as? [Any])
        for item in items {
            let op = try XCTUnwrap(item as? [String: Any])
            let r = s.request("POST", "/v1/sessions/\(c)/ops", body: try JSONSerialization.data(withJSONObject: ["ops": [op]]))
            XCTAssertEqual(r.status, 200, "\(r)")
        }
        XCTAssertEqual(s.get("/v1/sessions/\(c)/anon_vmas").text, forest.text)
        XCTAssertEqual(s.get("/v1/sessions/\(c)/processes/2/vmas").text, s.get("/v1/sessions/\(a)/processes/2/vmas").text)
    }

    // MARK: Robustness

    func testKeepAliveAndConcurrentSessions() throws {
        let s = try start()
        // Many requests over URLSession's reused connections, several sessions in parallel.
        let sids = try (0..<4).map { _ in try session(s) }
        for sid in sids { XCTAssertEqual(try process(s, sid), 1) }
        DispatchQueue.concurrentPerform(iterations: sids.count) { i in
            for k in 0..<25 {
                let addr = 0x7f00_0000_0000 + k * 0x10000
                _ = s.post("/v1/sessions/\(sids[i])/processes/1/syscalls/mmap",
                           #"{"addr": \#(addr), "length": 4096, \#(Self.anonRW)}"#)
                _ = s.post("/v1/sessions/\(sids[i])/processes/1/faults", #"{"address": \#(addr), "access": "write"}"#)
            }
        }
        for sid in sids {
            XCTAssertEqual(s.get("/v1/sessions/\(sid)/processes/1/vmas").json["vmas"].count, 25)
            XCTAssertEqual(s.get("/v1/sessions/\(sid)/stats").json["faults"]["total"].int, 25)
        }
        XCTAssertEqual(Set(sids.map { s.get("/v1/sessions/\($0)/anon_vmas").text }).count, 1, "each session is deterministic")
        // Pipelined raw requests on one connection answer in order.
        let c = try s.connect()
        defer { c.close() }
        try c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/kernels HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/sessions/nope HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try c.readResponse().json["status"].string, "ok")
        XCTAssertEqual(try c.readResponse().json["default"].string, "6.18")
        XCTAssertEqual(try c.readResponse().status, 404)
    }
}

private extension String {
    /// Whether `needle` occurs after the first occurrence of `marker`.
    func contains(_ needle: String, after marker: String) -> Bool {
        guard let r = range(of: marker) else { return false }
        return self[r.upperBound...].contains(needle)
    }
}
