import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// API integration tests of the simulated syscalls (open, close, mmap,
/// munmap, mprotect, madvise, mremap, brk, fork, exit) with their errno
/// paths, and of page faults under each kernel model, with `inject`.
final class APISyscallTests: APITestCase {
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
        // A path that exists under another method: 405 with the methods it takes.
        let put = s.request("PUT", "/v1/sessions/\(sid)/stats", body: Data("{}".utf8))
        assertError(put, 405, "method_not_allowed")
        XCTAssertEqual(put.headers["allow"], "GET, HEAD")
        let delete = s.request("DELETE", "/v1/sessions/\(sid)/processes/\(pid)")
        assertError(delete, 405, "method_not_allowed")
        XCTAssertEqual(delete.headers["allow"], "GET, HEAD")
        let get = s.get("/v1/sessions/\(sid)/ops")
        assertError(get, 405, "method_not_allowed")
        XCTAssertEqual(get.headers["allow"], "POST")
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
}
