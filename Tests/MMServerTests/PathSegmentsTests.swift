import XCTest
@testable import MMServer
@testable import MMHTTP

/// PathSegments splits like `split(separator: "/")` on Characters.
final class PathSegmentsTests: XCTestCase {
    func testSegmentsMatchCharacterSplit() {
        for path in ["", "/", "//", "/v1", "/v1/sessions/abc/processes/1/faults", "//a//b/", "a/b", "/é/x",
                     "/a/\u{301}b/c", "/ü/\u{1F600}/z", "/v1/sessions/x y"] {
            let expected = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            let s = PathSegments(path)
            XCTAssertEqual(s.count, expected.count, path)
            XCTAssertEqual((0..<s.count).map { String(s[$0]) }, expected, path)
            XCTAssertEqual((0..<s.count).map { s.string($0) }, expected, path)
            XCTAssertEqual(s.firstName, expected.first, path)
            XCTAssertEqual(s.dropFirst().joined(separator: "/"), expected.dropFirst().joined(separator: "/"), path)
            XCTAssertEqual(s.dropFirst(2).firstName, expected.dropFirst(2).first, path)
        }
    }
}
