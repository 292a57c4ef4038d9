import XCTest
@testable import MMCore

/// A templated `TraceNote` renders exactly what the string interpolation it
/// replaces printed (the API's trace notes must not change).
final class TraceNoteTests: XCTestCase {
    func testTemplateMatchesInterpolation() {
        let values: [UInt64] = [0, 1, 9, 10, 99, 100, 4_294_967_297, 0x7f00_0000_0000, UInt64(Int64.max), .max]
        for a in values {
            for b in values.reversed() {
                let n = TraceNote("%x-%x: no reusable neighbour, allocated root av%d", a, b, a ^ b)
                XCTAssertEqual(n.text, "\(hexRange(a, b)): no reusable neighbour, allocated root av\(a ^ b)")
                XCTAssertNil(n.givenText)
                XCTAssertLessThanOrEqual(n.text.utf8.count, n.maxUTF8Count)
            }
        }
        XCTAssertEqual(TraceNote("f%d: av%d → av%d; 100%", 1, 2, 3).text, "f1: av2 → av3; 100%")
        XCTAssertEqual(TraceNote("plain").text, "plain")
    }

    func testStepsCompareAndEncodeAsText() throws {
        let a = TraceStep("lock_vma_under_rcu", TraceNote("%x-%x read-locked", 0x1000, 0x2000))
        let b = TraceStep(fn: "lock_vma_under_rcu", note: "0x1000-0x2000 read-locked")
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.fn, "lock_vma_under_rcu")
        XCTAssertEqual(a.withFnUTF8 { Array($0) }, Array("lock_vma_under_rcu".utf8))
        XCTAssertEqual(try JSONDecoder().decode(TraceStep.self, from: JSONEncoder().encode(a)), b)
    }
}
