import XCTest
import MMCore
@testable import MMServer
@testable import MMHTTP

/// The byte matchers of Keywords.swift answer what the String matching they
/// replace answers, for every valid name and for near misses.
final class KeywordsTests: XCTestCase {
    /// Each valid name, its prefixes, extensions, case changes and one-byte changes.
    func nearMisses(_ names: [String]) -> Set<String> {
        var out = Set(names)
        for name in names {
            let b = Array(name.utf8)
            out.insert(name.uppercased())
            out.insert(String(name.dropLast()))
            out.insert(String(name.dropFirst()))
            out.insert(name + "x")
            out.insert("x" + name)
            out.insert(name + "\0")
            for k in b.indices {
                for delta: UInt8 in [1, 0x20, 0xff] {
                    var c = b
                    c[k] = c[k] &+ delta
                    out.insert(String(decoding: c, as: UTF8.self))
                }
            }
        }
        out.insert("")
        return out
    }

    func bytes<T>(_ s: String, _ match: (UnsafeBufferPointer<UInt8>) -> T?) -> T? {
        Array(s.utf8).withUnsafeBufferPointer(match)
    }

    func testOpNamesMatchTheStringNames() {
        let expected: [String: OpName] = [
            "file": .file, "process": .process, "fault": .fault, "replay": .replay, "touch": .touch,
            "open": .open, "openat": .open, "close": .close, "mmap": .mmap, "munmap": .munmap,
            "mprotect": .mprotect, "madvise": .madvise, "mremap": .mremap, "brk": .brk,
            "fork": .fork, "clone": .fork, "vfork": .fork, "exit": .exit, "exit_group": .exit,
        ]
        // The syscalls among them are exactly the names an ops entry may give a syscall.
        XCTAssertEqual(Set(expected.filter { $0.value.isSyscall }.keys), Requests.opSyscallNames)
        let candidates = nearMisses(Array(expected.keys))
        XCTAssertGreaterThan(candidates.count, 400)
        for s in candidates {
            XCTAssertEqual(bytes(s, { OpName($0) }), expected[s], s)
            XCTAssertEqual(OpName(s), expected[s], s)
        }
    }

    func testAccessAndModeMatchRawValues() {
        for s in nearMisses(Access.allCases.map(\.rawValue) + ["user", "kernel"]) {
            XCTAssertEqual(bytes(s, Keywords.access), Access(rawValue: s), s)
            XCTAssertEqual(bytes(s, Keywords.faultMode), FaultMode(rawValue: s), s)
        }
    }

    /// The general path gives the same errors as before for `op`, `access` and `mode`.
    func testKeywordErrorsNameTheField() throws {
        func error(_ json: String) -> String? {
            do {
                _ = try Op.decode(try JSONParser.parse(Array(json.utf8)), opIndex: 2)
                return nil
            } catch {
                return (error as? APIError)?.message
            }
        }
        XCTAssertEqual(error(#"{"op": "mmapx", "pid": 1}"#), "field 'ops[2].op': unknown operation 'mmapx'")
        XCTAssertEqual(error(#"{"op": "Fault", "pid": 1}"#), "field 'ops[2].op': unknown operation 'Fault'")
        XCTAssertEqual(error(#"{"op": 3, "pid": 1}"#), "field 'ops[2].op' must be a string")
        XCTAssertEqual(error(#"{"op": null, "pid": 1}"#), "field 'ops[2].op' is required")
        XCTAssertEqual(error(#"{"pid": 1, "address": "0x1000", "op": "fault", "access": "wrote"}"#),
                       #"field 'ops[2].access' must be "read", "write" or "exec""#)
        XCTAssertEqual(error(#"{"pid": 1, "address": "0x1000", "op": "fault", "access": 1}"#),
                       "field 'ops[2].access' must be a string")
        XCTAssertEqual(error(#"{"pid": 1, "address": "0x1000", "op": "fault", "mode": "users"}"#),
                       #"field 'ops[2].mode' must be "user" or "kernel""#)
        XCTAssertNil(error(#"{"pid": 1, "address": "0x1000", "op": "fault", "access": null, "mode": null}"#))
    }
}
