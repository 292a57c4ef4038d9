import XCTest
@testable import MMHTTP

/// HTTPParser's streamed bodies (HTTPStreamingHandler): the head comes out
/// alone, the body in pieces as it is fed, under the route's own limit, and
/// the next pipelined request after it.
final class StreamedBodyParserTests: XCTestCase {
    /// A parser streaming the bodies of POST /stream up to `limit` bytes.
    private func parser(limit: Int = 100) -> HTTPParser {
        var p = HTTPParser(limits: HTTPParserLimits(maxBodyBytes: 10))
        p.streamedBodyLimit = { $0.path == "/stream" ? limit : nil }
        return p
    }

    /// Feeds `pieces` one at a time; the body bytes decoded and whether it ended.
    private func drain(_ p: inout HTTPParser, _ pieces: [String]) throws -> (body: String, ended: Bool) {
        var body: [UInt8] = []
        var ended = false
        for piece in pieces {
            p.feed(Array(piece.utf8))
            loop: while true {
                switch try p.nextBodyBytes() {
                case .data(let b): body += b
                case .needMore: break loop
                case .end: ended = true; break loop
                }
            }
            if ended { break }
        }
        return (String(decoding: body, as: UTF8.self), ended)
    }

    func testContentLengthBodyComesInPiecesAfterTheHeadThenTheNextRequest() throws {
        var p = parser()
        p.feed(Array("POST /stream?format=perf HTTP/1.1\r\nContent-Length: 26\r\n\r\nabcdefghij".utf8))
        let head = try XCTUnwrap(try p.nextRequest())
        XCTAssertTrue(head.bodyIsStreamed)
        XCTAssertEqual(head.queryValue("format"), "perf")
        XCTAssertEqual(head.body, [], "the body is not collected")
        XCTAssertNil(try p.nextRequest(), "no request while the body streams")
        let (body, ended) = try drain(&p, ["", "klmnop", "qrstuvwxyzGET /next HTTP/1.1\r\n\r\n"])
        XCTAssertEqual(body, "abcdefghijklmnopqrstuvwxyz", "26 bytes: over the collected limit of 10, under the streamed 100")
        XCTAssertTrue(ended)
        XCTAssertEqual(try p.nextBodyBytes(), .end)
        let next = try XCTUnwrap(try p.nextRequest())
        XCTAssertEqual(next.path, "/next")
        XCTAssertFalse(next.bodyIsStreamed)
    }

    func testChunkedBodyIsDechunkedAsItArrives() throws {
        var p = parser()
        p.feed(Array("POST /stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        XCTAssertTrue(try XCTUnwrap(try p.nextRequest()).bodyIsStreamed)
        let (body, ended) = try drain(&p, ["5\r\nhel", "lo\r\n6\r\n wor", "ld\r\n0\r\n", "\r\n"])
        XCTAssertEqual(body, "hello world")
        XCTAssertTrue(ended)
    }

    func testOtherRoutesAreCollectedUnderTheUsualLimit() throws {
        var p = parser()
        p.feed(Array("POST /other HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello".utf8))
        let r = try XCTUnwrap(try p.nextRequest())
        XCTAssertFalse(r.bodyIsStreamed)
        XCTAssertEqual(r.body, Array("hello".utf8))
        p.feed(Array("POST /other HTTP/1.1\r\nContent-Length: 11\r\n\r\n".utf8))
        XCTAssertThrowsError(try p.nextRequest()) { XCTAssertEqual($0 as? HTTPParserError, .bodyTooLarge) }
    }

    func testTheStreamedLimitHolds() throws {
        var p = parser(limit: 8)
        p.feed(Array("POST /stream HTTP/1.1\r\nContent-Length: 9\r\n\r\n".utf8))
        XCTAssertThrowsError(try p.nextRequest()) { XCTAssertEqual($0 as? HTTPParserError, .bodyTooLarge) }
        var q = parser(limit: 8)
        q.feed(Array("POST /stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        _ = try q.nextRequest()
        XCTAssertThrowsError(try drain(&q, ["5\r\nhello\r\n", "4\r\nmore\r\n"])) {
            XCTAssertEqual($0 as? HTTPParserError, .bodyTooLarge, "5 + 4 bytes > 8")
        }
    }
}
