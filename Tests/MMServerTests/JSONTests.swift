import XCTest
@testable import MMServer
@testable import MMHTTP

/// The JSON codec of the API (RFC 8259): what it accepts, what it rejects
/// with a byte offset, and that encoding round-trips.
final class JSONTests: XCTestCase {
    func parse(_ s: String) throws -> JSONValue { try JSONParser.parse(Array(s.utf8)) }

    func testScalarsObjectsAndArrays() throws {
        XCTAssertEqual(try parse(#"{"a": 1, "b": [true, false, null], "c": -2.5e3, "d": "x"}"#),
                       .object([("a", .int(1)), ("b", .array([.bool(true), .bool(false), .null])),
                                ("c", .double(-2500)), ("d", .string("x"))]))
        XCTAssertEqual(try parse("  18446744073709551615 "), .double(18446744073709551616), "too big for Int64 → double (2^64, the nearest Double)")
        XCTAssertEqual(try parse("-9223372036854775808"), .int(Int64.min))
    }

    func testStringEscapesAndSurrogatePairs() throws {
        XCTAssertEqual(try parse(#""a\"b\\c\/\n\t\u00e9\ud83d\ude00""#), .string("a\"b\\c/\n\té😀"))
    }

    func testObjectMemberLookupKeepsOrder() throws {
        let v = try parse(#"{"z": 1, "a": 2}"#)
        XCTAssertEqual(v["a"], .int(2))
        XCTAssertNil(v["missing"])
        XCTAssertEqual(String(decoding: JSONWriter.encode(v), as: UTF8.self), #"{"z":1,"a":2}"#)
    }

    func testMalformedInputIsRejectedWithAnOffset() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"unterminated", "\"\\x\"", "tru", "{} {}",
                    "\"\\ud800\"", "\"a\u{01}\"", "[" + String(repeating: "[", count: 100) + String(repeating: "]", count: 101)] {
            XCTAssertThrowsError(try parse(bad), "accepted \(bad.prefix(20))") { e in
                XCTAssertGreaterThanOrEqual((e as? JSONSyntaxError)?.offset ?? -1, 0)
            }
        }
    }

    func testWriterEscapesControlCharactersAndRoundTrips() throws {
        let v: JSONValue = .object([("s", .string("q\"\\\n\u{01}é")), ("n", .int(-3)), ("d", .double(0.5)),
                                    ("a", .array([.null, .bool(true)]))])
        let text = String(decoding: JSONWriter.encode(v), as: UTF8.self)
        XCTAssertTrue(text.contains("\\u0001"))
        XCTAssertEqual(try parse(text), v)
    }
}

/// Configuration precedence: defaults < config file < MMSIM_* < flags.
final class ConfigTests: XCTestCase {
    func testPrecedenceAndValidation() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-config-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("c.json")
        try Data(#"{"port": 9000, "max_sessions": 5, "default_kernel": "6.4"}"#.utf8).write(to: file)
        let c = try ServerConfig.load(arguments: ["--config", file.path, "--port", "0"],
                                      environment: ["MMSIM_MAX_SESSIONS": "7"])
        XCTAssertEqual(c.port, 0, "flag beats file")
        XCTAssertEqual(c.limits.maxSessions, 7, "environment beats file")
        XCTAssertEqual(c.defaultKernel, "6.4", "file beats default")
        XCTAssertEqual(c.host, "127.0.0.1", "embedded default")
        XCTAssertThrowsError(try ServerConfig.load(arguments: ["--port", "70000"], environment: [:]))
        XCTAssertThrowsError(try ServerConfig.load(arguments: ["--default-kernel", "7.0"], environment: [:]))
        XCTAssertThrowsError(try ServerConfig.load(arguments: ["--bogus", "1"], environment: [:]))
        XCTAssertEqual(try ServerConfig.load(arguments: ["--max-batch-ops=3"], environment: [:]).limits.maxBatchOps, 3)
        XCTAssertEqual(try ServerConfig.load(arguments: [], environment: ["MMSIM_EVENT_LOOPS": "3"]).eventLoops, 3)
        XCTAssertThrowsError(try ServerConfig.load(arguments: ["--event-loops", "-1"], environment: [:]))
    }

    func testShippedConfigFileMatchesTheEmbeddedDefaults() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var fromFile = ServerConfig()
        try fromFile.apply(file: root.appendingPathComponent("config/mmsim.json").path)
        XCTAssertEqual(fromFile, ServerConfig())
    }
}
