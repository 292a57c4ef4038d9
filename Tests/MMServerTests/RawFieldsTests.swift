import XCTest
import MMCore
@testable import MMServer
@testable import MMHTTP

/// The byte-level fast paths (RawFields, BatchBody) decode exactly what the
/// general path (JSONParser + Args + Op.decode) decodes, and decline
/// everything else — checked on hand-written bodies and on random mutations.
final class RawFieldsTests: XCTestCase {
    let app: MMSimApp = {
        var config = ServerConfig()
        config.limits.dataDir = ""  // in-process: nothing persisted in the checkout
        return MMSimApp(config: config)
    }()

    /// The general decoding of a batch body: its ops as JSON and the mode, or the error.
    func general(_ body: String) -> Result<([JSONValue], Bool), APIError> {
        do throws(APIError) {
            let v: JSONValue
            do { v = try JSONParser.parse(Array(body.utf8)) } catch { throw .badRequest("malformed") }
            let (ops, summary) = try app.decodeBatch(v)
            return .success((ops.map(\.json), summary))
        } catch {
            return .failure(error)
        }
    }

    /// Checks that the fast path agrees with the general one; returns whether it decoded.
    @discardableResult
    func check(_ body: String, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        guard let fast = BatchBody.decode(Array(body.utf8), maxOps: app.config.limits.maxBatchOps) else { return false }
        switch general(body) {
        case let .success((ops, summary)):
            XCTAssertEqual(fast.ops.map(\.json), ops, body, file: file, line: line)
            XCTAssertEqual(fast.summary, summary, body, file: file, line: line)
        case let .failure(e):
            XCTFail("fast path accepted what the general path rejects (\(e.message)): \(body)", file: file, line: line)
        }
        return true
    }

    static let ops = [
        #"{"op": "mmap", "pid": 1, "addr": "0x7e0000000000", "length": 16384, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}"#,
        #"{"op":"fault","pid":1,"address":"0x7E0000001000","access":"write"}"#,
        #"{"pid": 2, "op": "fault", "address": 140737488351232, "access": "exec", "mode": "kernel"}"#,
        #"{"op": "munmap", "pid": 1, "addr": "0x7e0000000000", "length": "0x4000"}"#,
        #"{"op": "mprotect", "pid": 1, "addr": "0x1000", "length": 4096, "prot": 1}"#,
        #"{"op": "madvise", "pid": 1, "addr": "0x1000", "length": 4096, "advice": "MADV_DONTNEED"}"#,
        #"{"op": "mremap", "pid": 1, "old_address": "0x1000", "old_size": 4096, "new_size": 8192, "flags": "MREMAP_MAYMOVE"}"#,
        #"{"op": "mmap", "pid": 1, "length": 4096, "prot": "PROT_READ", "flags": "MAP_SHARED", "fd": 3, "offset": "0"}"#,
        #"{"op": "mmap", "pid": 1, "length": 4096, "prot": " PROT_READ | PROT_EXEC ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS", "fd": -1}"#,
        #"{"op": "brk", "pid": 1, "brk": "0x555555560000"}"#,
        #"{"op": "fork", "pid": 1}"#, #"{"op": "clone", "pid": 1}"#, #"{"op": "exit_group", "pid": 2, "status": 3}"#,
        #"{"op": "close", "pid": 1, "fd": 3}"#, #"{"op": "openat", "pid": 1, "path": "/lib/libc.so.6", "flags": "O_RDONLY"}"#,
        #"{"op": "touch", "pid": 1, "address": "0x7e0000000000", "pages": 3, "access": "write"}"#,
        #"{"op": "fault", "pid": 1, "address": "0x1000", "address": "0x2000"}"#,
        #"{"op": "process", "comm": "x"}"#, #"{"op": "file", "path": "/f", "size": 4096}"#,
        #"{"op": "fault", "pid": 1, "address": "0x1000", "inject": {"mmap_lock_contended": true}}"#,
        #"{"op": "fault", "pid": 1, "address": "0x1000", "access": "jump"}"#,
        #"{"op": "fault", "pid": 1, "address": "0x1000", "access": null}"#,
        #"{"op": "mmap", "pid": 1, "length": 4096, "prot": "PROT_BOGUS", "flags": "MAP_PRIVATE"}"#,
        #"{"op": "munmap", "pid": 1, "addr": "4096", "length": 4096}"#,
        #"{"op": "munmap", "pid": "1", "addr": "0x1000", "length": 4096}"#,
        #"{"op": "munmap", "pid": 1.0, "addr": "0x1000", "length": 4096}"#,
        #"{"op": "nosuch", "pid": 1}"#, #"{"pid": 1}"#, #"{}"#, #"[]"#, "3",
    ]

    func testHandWrittenBatches() {
        var decoded = 0
        for op in Self.ops {
            for detail in [#""detail": "summary", "#, #""detail":"full","#, "", #""detail": null, "#, #""detail": "x", "#] {
                if check("{\(detail)\"ops\": [\(op)]}") { decoded += 1 }
                if check(" {\"ops\":[\(op),\(op)] ,\(detail.dropLast(2).isEmpty ? "\"x\":1" : String(detail.dropLast(2)))}\n") { decoded += 1 }
            }
        }
        XCTAssertGreaterThan(decoded, 30, "the fast path takes the common shapes")
        XCTAssertTrue(check(#"{"detail": "summary", "ops": [\#(Self.ops[0]), \#(Self.ops[1]), \#(Self.ops[3])]}"#))
        XCTAssertTrue(check(#"{"ops": []}"#))
        for declined in [#"{"ops": [], "ops": []}"#, #"{"ops": {}}"#, #"{"ops": [] "#, #"{"ops": []} x"#, #"{"ops": [1]}"#,
                         #"{"ops": [{"op": "fork", "pid": 01}]}"#, #"{"ops": [{"op": "fork", "pid": 1e0}]}"#,
                         #"{"ops": [{"op": "fork", "pid": 1234567890123456789}]}"#, #"{"o\u0070s": []}"#, ""] {
            XCTAssertNil(BatchBody.decode(Array(declined.utf8), maxOps: 100), declined)
        }
        XCTAssertNil(BatchBody.decode(Array(#"{"ops": [{"op": "fork", "pid": 1}, {"op": "fork", "pid": 1}]}"#.utf8), maxOps: 1),
                     "over the limit: the general path reports it")
    }

    func testRandomMutationsNeverDecodeDifferently() {
        let base = Array(#"{"detail": "summary", "ops": [\#(Self.ops[0]), \#(Self.ops[1]), \#(Self.ops[2]), \#(Self.ops[3]), \#(Self.ops[9])]}"#.utf8)
        let alphabet = Array(#"{}[]":, 0123456789-.eExaf"\ntrulsPROT_|MAPpidopaddressfaultmmap"#.utf8)
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: rng >> 33)
        }
        var decoded = 0
        for _ in 0..<4000 {
            var b = base
            for _ in 0..<(1 + next() % 3) {
                let at = next() % b.count
                switch next() % 3 {
                case 0: b[at] = alphabet[next() % alphabet.count]
                case 1: b.remove(at: at)
                default: b.insert(alphabet[next() % alphabet.count], at: at)
                }
            }
            if check(String(decoding: b, as: UTF8.self)) { decoded += 1 }
        }
        XCTAssertGreaterThan(decoded, 100)
    }

    func testByteCountMatchesANaiveCount() {
        var rng: UInt64 = 42
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1000, 4080, 4096, 5000, 8200] {
            let bytes: [UInt8] = (0..<length).map { _ in
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                return [UInt8(ascii: "{"), 0x7b ^ 0x80, 0, 0xff, UInt8(ascii: "a")][Int(rng >> 60) % 5]
            }
            let n = bytes.withUnsafeBufferPointer { BatchBody.count(UInt8(ascii: "{"), in: $0) }
            XCTAssertEqual(n, bytes.filter { $0 == UInt8(ascii: "{") }.count, "length \(length)")
        }
    }

    /// `plainString` (eight bytes at a time) stops exactly where a byte-by-byte scan would.
    func testPlainStringMatchesAByteScan() {
        for special: UInt8 in [UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff] {
            for at in 0..<20 {
                for length in [at + 1, at + 3, at + 12] {
                    var bytes = [UInt8(ascii: "\"")] + [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[1 + at] = special
                    bytes.append(UInt8(ascii: "\""))
                    var expected: Range<Int>? = nil
                    for k in 1..<bytes.count {
                        let c = bytes[k]
                        if c == UInt8(ascii: "\"") { expected = 1..<k; break }
                        if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { break }
                    }
                    var used: UInt64 = 0
                    let got = bytes.withUnsafeBufferPointer { b -> Range<Int>? in
                        withUnsafeMutablePointer(to: &used) { u in
                            var s = RawJSONScanner(b, used: u)
                            return s.plainString()
                        }
                    }
                    XCTAssertEqual(got, expected, "byte \(special) at \(at), length \(length)")
                }
            }
        }
    }

    /// `FlagTable.parseNames` answers `parse` wherever it answers.
    func testFlagNamesFromBytesMatchParse() {
        for text in ["PROT_READ|PROT_WRITE", " PROT_READ |\tPROT_EXEC ", "PROT_READ|", "|", "", "PROT_NONE",
                     "PROT_READ|0x10", "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED", "MAP_ANON|MAP_FILE", "prot_read"] {
            for table in [Linux.protNames, Linux.mapNames] {
                let fast = Array(text.utf8).withUnsafeBufferPointer { table.parseNames($0) }
                if let fast { XCTAssertEqual(fast, try? table.parse(text), text) }
            }
        }
        XCTAssertEqual(Array("PROT_READ|PROT_WRITE".utf8).withUnsafeBufferPointer { Linux.protNames.parseNames($0) },
                       Linux.PROT_READ | Linux.PROT_WRITE)
    }

    func testFaultBodiesDecodeLikeArgs() throws {
        for body in [#"{"address":"0x7f0000000000","access":"read"}"#, #" { "access" : "write" , "address" : 4096 } "#,
                     #"{"address":"0x1000","mode":"kernel","access":"exec","pid":7,"op":"x"}"#,
                     #"{"address":"0x1000","inject":{}}"#, #"{"address":"1000"}"#, #"{"access":"read"}"#,
                     #"{"address":"0x1000","access":"READ"}"#, #"{"address":"0x1000"} {}"#, #"[]"#, ""] {
            // As POST …/faults decodes: strict, so "pid" and "op" are unknown keys there.
            let fast = RawFields.decode(Array(body.utf8)) { (f: RawFields) throws(APIError) in
                let op = try Op.decode(.fault, pid: 1, f)
                try f.finish()
                return op
            }
            let slow: Op?
            if let v = try? JSONParser.parse(Array(body.utf8)), let a = try? Args(v, schema: Schemas.fault) {
                slow = try? Op.decode(.fault, pid: 1, a)
            } else {
                slow = nil
            }
            if let fast {
                let s = try XCTUnwrap(slow, body)
                XCTAssertEqual(fast.json, s.json, body)
            }
        }
        XCTAssertNil(RawFields.decode(Array(#"{"address":"0x1000","pid":7}"#.utf8)) { (f: RawFields) throws(APIError) in
            let op = try Op.decode(.fault, pid: 1, f)
            try f.finish()
            return op
        }, "a member no accessor reads declines the fast path")
        XCTAssertNotNil(RawFields.decode(Array(#"{"address":"0x7f0000000000","access":"read"}"#.utf8), Requests.fault))
    }

    /// `RawFields.prefix` packs the first eight bytes like a byte loop, and
    /// short keys at the end of a body (no eight-byte load) are found too.
    func testKeyPrefixMatchesAByteLoop() {
        let bytes = Array("abcdefghijkl".utf8)
        for n in 0...bytes.count {
            var naive: UInt64 = 0
            for j in 0..<min(8, n) { naive |= UInt64(bytes[j]) << (8 * j) }
            XCTAssertEqual(bytes.withUnsafeBufferPointer { RawFields.prefix(UnsafeBufferPointer(rebasing: $0[..<n])) }, naive, "\(n)")
        }
        XCTAssertEqual(RawFields.decode(Array(#"{"pid":7}"#.utf8)) { f throws(APIError) in try f.int("pid") }, 7)
        XCTAssertEqual(RawFields.decode(Array(#"{"pi":7,"pid":8}"#.utf8)) { f throws(APIError) in try f.int("pid") }, 8)
        XCTAssertEqual(RawFields.decode(Array(#"{"old_addressx":1,"old_address":2}"#.utf8)) { f throws(APIError) in
            try f.int("old_address")
        }, 2)
    }
}
