import XCTest
@testable import MMServer

/// Which Content-Type values make a body stream (MMSimApp.isStreamableType,
/// asked for every request with a body): the media type before any `;`,
/// spaces and tabs trimmed, case ignored, is text/plain or
/// application/octet-stream; the byte comparison gives what the String
/// formula (split, trim, lowercase) gives, for ASCII and other values.
final class StreamableTypeTests: XCTestCase {
    func formula(_ v: String) -> Bool {
        let type = v.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        return type == "text/plain" || type == "application/octet-stream"
    }

    func testStreamableTypes() {
        for v in ["text/plain", "TEXT/Plain", " text/plain ; charset=utf-8", "\ttext/plain\t", ";text/plain",
                  ";;application/octet-stream;x", "Application/Octet-Stream"] {
            XCTAssertTrue(MMSimApp.isStreamableType(v), v)
            XCTAssertEqual(MMSimApp.isStreamableType(v), formula(v), v)
        }
    }

    func testOtherTypes() {
        for v in ["", ";", "application/json", "text/plain2", "text/plai", "text /plain", "text\u{0F}plain",
                  "application\roctet-stream", "text/plain\n", "\u{0B}text/plain", " ; text/plain",
                  "text/plain\u{00A0}", "\u{00A0}text/plain", "te\u{0301}xt/plain", "text/pla\u{0130}n", "\u{212A}"] {
            XCTAssertEqual(MMSimApp.isStreamableType(v), formula(v), v.debugDescription)
        }
        XCTAssertFalse(MMSimApp.isStreamableType("application/json; charset=utf-8"))
    }
}
