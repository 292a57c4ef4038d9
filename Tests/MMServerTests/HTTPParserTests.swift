import XCTest
@testable import MMServer
@testable import MMHTTP

/// Decoder tests modelled on swift-nio's HTTPDecoderTest / HTTPDecoderLengthTest.
final class HTTPParserTests: XCTestCase {
    // MARK: Helpers

    private func parseAll(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) throws -> [HTTPRequest] {
        var parser = HTTPParser(limits: limits)
        parser.feed(Array(text.utf8))
        var requests: [HTTPRequest] = []
        while let request = try parser.nextRequest() { requests.append(request) }
        return requests
    }

    private func parseOne(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> HTTPRequest {
        let requests = try parseAll(text)
        XCTAssertEqual(requests.count, 1, file: file, line: line)
        return try XCTUnwrap(requests.first, file: file, line: line)
    }

    private func assertError(_ text: String, _ expected: HTTPParserError,
                             limits: HTTPParserLimits = HTTPParserLimits(),
                             file: StaticString = #filePath, line: UInt = #line) {
        var parser = HTTPParser(limits: limits)
        parser.feed(Array(text.utf8))
        do {
            while try parser.nextRequest() != nil {}
            XCTFail("expected \(expected) for \(text.debugDescription)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, "for \(text.debugDescription)", file: file, line: line)
        }
    }

    // MARK: Request line and headers

    func testSimpleGet() throws {
        let request = try parseOne("GET /api/v1/x?a=1 HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n")
        XCTAssertEqual(request.method, .get)
        XCTAssertEqual(request.path, "/api/v1/x")
        XCTAssertEqual(request.query, "a=1")
        XCTAssertEqual(request.target, "/api/v1/x?a=1")
        XCTAssertEqual(request.version, .http1_1)
        XCTAssertEqual(request.headers["host"], "example")
        XCTAssertEqual(request.headers.count, 2)
        XCTAssertTrue(request.body.isEmpty)
        XCTAssertTrue(request.keepAlive)
    }

    func testQueryItemsArePercentDecoded() throws {
        let request = try parseOne("GET /p?a=1&b=hello%20world&c=x+y&d&e=%zz&%C3%A9=%E2%9C%93 HTTP/1.1\r\n\r\n")
        XCTAssertEqual(request.queryItems, [
            HTTPQueryItem(name: "a", value: "1"), HTTPQueryItem(name: "b", value: "hello world"),
            HTTPQueryItem(name: "c", value: "x y"), HTTPQueryItem(name: "d", value: ""),
            HTTPQueryItem(name: "e", value: "%zz"), HTTPQueryItem(name: "é", value: "✓"),
        ])
        XCTAssertEqual(request.queryValue("b"), "hello world")
        XCTAssertNil(request.queryValue("zzz"))
        XCTAssertEqual(try parseOne("GET /a%20b/c HTTP/1.1\r\n\r\n").decodedPath, "/a b/c")
        XCTAssertNil(try parseOne("GET /a%2 HTTP/1.1\r\n\r\n").decodedPath)
    }

    func testHeadersKeepOrderAndLookUpCaseInsensitively() throws {
        let request = try parseOne("GET / HTTP/1.1\r\nX-A: 1\r\nx-b:2\r\nX-A:  3  \r\nEmpty:\r\n\r\n")
        XCTAssertEqual(request.headers.fields.map(\.name), ["X-A", "x-b", "X-A", "Empty"])
        XCTAssertEqual(request.headers["x-a"], "1")
        XCTAssertEqual(request.headers.values(for: "X-a"), ["1", "3"])
        XCTAssertEqual(request.headers["X-B"], "2")
        XCTAssertEqual(request.headers["empty"], "")
        XCTAssertNil(request.headers["missing"])
    }

    func testKeepAliveRules() throws {
        XCTAssertTrue(try parseOne("GET / HTTP/1.1\r\n\r\n").keepAlive)
        XCTAssertFalse(try parseOne("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keepAlive)
        XCTAssertFalse(try parseOne("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n").keepAlive)
        XCTAssertFalse(try parseOne("GET / HTTP/1.0\r\n\r\n").keepAlive)
        XCTAssertTrue(try parseOne("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAlive)
        XCTAssertEqual(try parseOne("GET / HTTP/1.0\r\n\r\n").version, .http1_0)
    }

    func testOtherTargetForms() throws {
        let absolute = try parseOne("GET http://example.com:8080/a/b?c=d HTTP/1.1\r\n\r\n")
        XCTAssertEqual(absolute.path, "/a/b")
        XCTAssertEqual(absolute.query, "c=d")
        XCTAssertEqual(try parseOne("GET http://example.com HTTP/1.1\r\n\r\n").path, "/")
        XCTAssertEqual(try parseOne("OPTIONS * HTTP/1.1\r\n\r\n").path, "*")
    }

    func testLeadingEmptyLinesAndBareLineFeedsAreTolerated() throws {
        let request = try parseOne("\r\n\nGET /x HTTP/1.1\nHost: h\n\n")
        XCTAssertEqual(request.path, "/x")
        XCTAssertEqual(request.headers["Host"], "h")
    }

    func testMalformedRequestLines() {
        let bad = ["GET\r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 x\r\n\r\n",
                   "G@T / HTTP/1.1\r\n\r\n", "GET / HTTP/1.x\r\n\r\n", "GET / http/1.1\r\n\r\n",
                   "GET /a b HTTP/1.1\r\n\r\n", "GET noslash HTTP/1.1\r\n\r\n", "GET * HTTP/1.1\r\n\r\n",
                   "GET /\u{7f} HTTP/1.1\r\n\r\n", "GET /#frag HTTP/1.1\r\n\r\n", "GET /é HTTP/1.1\r\n\r\n",
                   " GET / HTTP/1.1\r\n\r\n", "GET / HTTP/11\r\n\r\n", "GET /\r HTTP/1.1\r\n\r\n"]
        for text in bad { assertError(text, .invalidRequestLine) }
        for text in ["GET / HTTP/2.0\r\n\r\n", "GET / HTTP/1.2\r\n\r\n", "GET / HTTP/0.9\r\n\r\n"] {
            assertError(text, .unsupportedVersion)
        }
        XCTAssertEqual(HTTPParserError.unsupportedVersion.status.code, 505)
        XCTAssertEqual(HTTPParserError.invalidRequestLine.status.code, 400)
    }

    func testMalformedHeaders() {
        let bad = ["Host : x", " folded: x", "\tfolded", "NoColon", "Bad\u{1}: x", "X: a\u{0}b",
                   ": empty", "X: a\rb", "Sp ace: x", "X: \u{7f}"]
        for header in bad { assertError("GET / HTTP/1.1\r\n\(header)\r\n\r\n", .invalidHeader) }
        // obs-fold continuation after a valid field
        assertError("GET / HTTP/1.1\r\nX: a\r\n  b\r\n\r\n", .invalidHeader)
    }

    // MARK: Content-Length (HTTPDecoderLengthTest)

    func testContentLengthBody() throws {
        let request = try parseOne("POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
        XCTAssertEqual(request.method, .post)
        XCTAssertEqual(request.body, Array("hello".utf8))
        XCTAssertTrue(try parseOne("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").body.isEmpty)
    }

    func testInvalidContentLength() {
        for value in ["-1", "abc", "1.5", "", "+5", "0x10", "5 5", "١"] {
            assertError("POST / HTTP/1.1\r\nContent-Length: \(value)\r\n\r\n", .invalidContentLength)
        }
        assertError("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", .bodyTooLarge)
    }

    func testDuplicateContentLength() throws {
        let same = try parseOne("POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc")
        XCTAssertEqual(same.body, Array("abc".utf8))
        XCTAssertEqual(try parseOne("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc").body.count, 3)
        assertError("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", .conflictingContentLength)
        assertError("POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\nabcd", .conflictingContentLength)
        assertError("POST / HTTP/1.1\r\nContent-Length: 3,\r\n\r\nabc", .invalidContentLength)
    }

    // MARK: Transfer-Encoding

    func testChunkedBodyWithExtensionsAndTrailers() throws {
        let text = "POST /c HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n1 ; ext\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\nY: u\r\n\r\n"
        let request = try parseOne(text)
        XCTAssertEqual(String(decoding: request.body, as: UTF8.self), "hello 0123456789")
        XCTAssertNil(request.headers["X-Trailer"])
        XCTAssertEqual(try parseOne("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").body, [])
    }

    func testTransferEncodingErrors() {
        assertError("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", .contentLengthWithTransferEncoding)
        assertError("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n", .contentLengthWithTransferEncoding)
        assertError("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", .unsupportedTransferEncoding)
        assertError("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferEncoding)
        assertError("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", .invalidTransferEncoding)
        assertError("POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", .invalidTransferEncoding)
        assertError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .invalidTransferEncoding)
        XCTAssertEqual(HTTPParserError.unsupportedTransferEncoding.status.code, 501)
        XCTAssertEqual(HTTPParserError.contentLengthWithTransferEncoding.status.code, 400)
    }

    func testMalformedChunks() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        for body in ["zz\r\n", "\r\n", "5\r\nhelloX\r\n", "5\nhello\r\n0\r\n\r\n", "5 x\r\nhello\r\n",
                     "5;\u{1}\r\nhello\r\n", "-5\r\n", "0\r\nbad trailer\r\n\r\n"] {
            assertError(head + body, body.hasSuffix("bad trailer\r\n\r\n") ? .invalidHeader : .invalidChunkedEncoding)
        }
        assertError(head + "FFFFFFFFFFFFFFFFFFFF\r\n", .bodyTooLarge)
    }

    // MARK: Limits

    func testHeaderLimit() throws {
        let limits = HTTPParserLimits(maxHeaderBytes: 100, maxBodyBytes: 10)
        let filler = String(repeating: "a", count: 60)
        assertError("GET / HTTP/1.1\r\nX: \(filler)\r\nY: \(filler)\r\n\r\n", .headersTooLarge, limits: limits)
        // No terminator yet, but already over the limit: fail without waiting for more bytes.
        assertError("GET / HTTP/1.1\r\nX: \(filler)\(filler)", .headersTooLarge, limits: limits)
        assertError("GET /\(filler)\(filler) HTTP/1.1\r\n\r\n", .uriTooLong, limits: limits)
        // Exactly at the limit passes: 16 + 82 + 2 = 100 bytes.
        let exact = "GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 77) + "\r\n\r\n"
        XCTAssertEqual(exact.utf8.count, 100)
        XCTAssertEqual(try parseAll(exact, limits: limits).count, 1)
        XCTAssertEqual(HTTPParserError.headersTooLarge.status.code, 431)
        XCTAssertEqual(HTTPParserError.uriTooLong.status.code, 414)
    }

    func testBodyLimit() throws {
        let limits = HTTPParserLimits(maxHeaderBytes: 1024, maxBodyBytes: 10)
        // Rejected from the head alone, before any body byte arrives.
        assertError("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", .bodyTooLarge, limits: limits)
        XCTAssertEqual(try parseAll("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits).count, 1)
        let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n"
        assertError(chunked, .bodyTooLarge, limits: limits)
        assertError("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \(String(repeating: "t", count: 2000))\r\n\r\n",
                    .headersTooLarge, limits: limits)
        XCTAssertEqual(HTTPParserError.bodyTooLarge.status.code, 413)
        XCTAssertEqual(HTTPParserError.bodyTooLarge.code, "too_large")
    }

    // MARK: Incremental input

    func testEverySplitPointAndByteAtATime() throws {
        let samples = [
            "GET /a?b=c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "POST /p HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world",
            "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n3\r\nefg\r\n0\r\nT: v\r\n\r\n",
        ]
        for sample in samples {
            let bytes = Array(sample.utf8)
            let expected = try parseOne(sample)
            for split in 0...bytes.count {
                var parser = HTTPParser()
                parser.feed(Array(bytes[..<split]))
                var got = try parser.nextRequest()
                if split < bytes.count {
                    XCTAssertNil(got, "complete too early at split \(split)")
                    XCTAssertEqual(parser.hasPartialRequest, split > 0)
                    parser.feed(Array(bytes[split...]))
                    got = try parser.nextRequest()
                }
                let request = try XCTUnwrap(got, "split \(split) of \(sample.debugDescription)")
                XCTAssertEqual(request.path, expected.path)
                XCTAssertEqual(request.body, expected.body)
                XCTAssertEqual(request.headers.fields.map(\.value), expected.headers.fields.map(\.value))
                XCTAssertFalse(parser.hasPartialRequest)
            }
            var parser = HTTPParser()
            var requests: [HTTPRequest] = []
            for byte in bytes {
                parser.feed([byte])
                while let request = try parser.nextRequest() { requests.append(request) }
            }
            XCTAssertEqual(requests.count, 1)
            XCTAssertEqual(requests.first?.body, expected.body)
        }
    }

    func testPipelinedRequestsInOneChunk() throws {
        let text = "GET /1 HTTP/1.1\r\n\r\n"
            + "POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
            + "POST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
            + "HEAD /4 HTTP/1.1\r\n\r\n"
            + "GET /5 HTTP/1.1\r\nHo"
        var parser = HTTPParser()
        parser.feed(Array(text.utf8))
        var requests: [HTTPRequest] = []
        while let request = try parser.nextRequest() { requests.append(request) }
        XCTAssertEqual(requests.map(\.path), ["/1", "/2", "/3", "/4"])
        XCTAssertEqual(requests.map { String(decoding: $0.body, as: UTF8.self) }, ["", "abc", "de", ""])
        XCTAssertTrue(parser.hasPartialRequest)
        parser.feed(Array("st: y\r\n\r\n".utf8))
        XCTAssertEqual(try parser.nextRequest()?.headers["host"], "y")
        XCTAssertNil(try parser.nextRequest())
    }

    func testEarlyCloseMidBodyAndMidHead() throws {
        var parser = HTTPParser()
        parser.feed(Array("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc".utf8))
        XCTAssertNil(try parser.nextRequest())
        XCTAssertThrowsError(try parser.finish()) { XCTAssertEqual($0 as? HTTPParserError, .unexpectedEOF) }

        var head = HTTPParser()
        head.feed(Array("GET / HTTP/1.1\r\nHost".utf8))
        XCTAssertNil(try head.nextRequest())
        XCTAssertThrowsError(try head.finish())

        var clean = HTTPParser()
        clean.feed(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        XCTAssertNotNil(try clean.nextRequest())
        XCTAssertNoThrow(try clean.finish())
    }

    func testExpectContinueIsReportedOnceBeforeTheBody() throws {
        var parser = HTTPParser()
        parser.feed(Array("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8))
        XCTAssertNil(try parser.nextRequest())
        XCTAssertTrue(parser.takeContinueRequest())
        XCTAssertFalse(parser.takeContinueRequest())
        parser.feed(Array("ok".utf8))
        XCTAssertEqual(try parser.nextRequest()?.body, Array("ok".utf8))
        parser.feed(Array("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n".utf8))
        XCTAssertNil(try parser.nextRequest())
        XCTAssertFalse(parser.takeContinueRequest())
    }

    func testErrorsAreSticky() {
        var parser = HTTPParser()
        parser.feed(Array("BAD\r\n\r\n".utf8))
        XCTAssertThrowsError(try parser.nextRequest())
        parser.feed(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        XCTAssertThrowsError(try parser.nextRequest()) { XCTAssertEqual($0 as? HTTPParserError, .invalidRequestLine) }
    }

    func testLargeBodyAcrossManyFeeds() throws {
        let body = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var parser = HTTPParser()
        parser.feed(Array("POST / HTTP/1.1\r\nContent-Length: \(body.count)\r\n\r\n".utf8))
        var offset = 0
        var got: HTTPRequest?
        while offset < body.count {
            let end = min(body.count, offset + 7_919)
            parser.feed(Array(body[offset..<end]))
            offset = end
            if let request = try parser.nextRequest() { got = request }
        }
        XCTAssertEqual(got?.body, body)
    }
}
