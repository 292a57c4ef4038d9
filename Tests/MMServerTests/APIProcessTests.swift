import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// API integration tests of a session's files and processes and the views
/// of a process's address space: vmas, /proc-style maps and smaps, pages.
final class APIProcessTests: APITestCase {
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
}

/// Guard markers over HTTP: a page-table entry with no page.
final class APIGuardPagesTests: APITestCase {
    //   V: 4 pages rw-p anon; MADV_GUARD_INSTALL on the second page (6.18, madvise_guard_install()).
    func testGuardMarkerIsAPageWithMapcountZero() throws {
        let s = try start()
        let sid = try session(s, #"{"kernel": "6.18"}"#)
        XCTAssertEqual(s.post("/v1/sessions/\(sid)/processes", "{}").status, 201)
        let base = "/v1/sessions/\(sid)/processes/1"
        let m = s.post(base + "/syscalls/mmap", #"{"addr": "0x7f0000000000", "length": 16384, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED", "fd": -1, "offset": 0}"#)
        XCTAssertEqual(m.status, 200, "\(m)")
        XCTAssertEqual(s.post(base + "/faults", #"{"address": "0x7f0000000000", "access": "write"}"#).status, 200)
        let g = s.post(base + "/syscalls/madvise", #"{"addr": "0x7f0000001000", "length": 4096, "advice": "MADV_GUARD_INSTALL"}"#)
        XCTAssertEqual(g.json["return"].int, 0, "\(g)")
        let pages = s.get(base + "/pages").json["pages"].array
        XCTAssertEqual(pages.compactMap { $0["address"].string }, ["0x7f0000000000", "0x7f0000001000"])
        XCTAssertEqual(pages[0]["guard"].bool, false)
        XCTAssertEqual(pages[0]["mapcount"].int, 1)
        XCTAssertEqual(pages[1]["guard"].bool, true)
        XCTAssertEqual(pages[1]["mapcount"].int, 0, "a guard marker maps no page (kpagecount has nothing to count)")
        XCTAssertEqual(pages[1]["pte"]["present"].bool, false)
        XCTAssertTrue(pages[1]["folio"].isNull, "no folio behind a guard marker")
    }
}
