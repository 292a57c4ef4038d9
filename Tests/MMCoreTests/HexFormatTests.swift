import XCTest
@testable import MMCore

/// `hex` and `hexRange` print exactly what `String(_:radix: 16)` prints, as the
/// API, the trace notes and /proc-style output rely on.
final class HexFormatTests: XCTestCase {
    func testHexMatchesStringRadix16() {
        var values: [UInt64] = [0, 1, 9, 10, 15, 16, 255, 256, 0x7f00_0000_0000, 0xffff_ffff_ffff_f000, .max]
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for shift in 0..<64 {
            values.append(1 << UInt64(shift))
            values.append((1 << UInt64(shift)) - 1)
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            values.append(x >> UInt64(shift))
        }
        for v in values {
            XCTAssertEqual(hex(v), "0x" + String(v, radix: 16))
            XCTAssertEqual(hexRange(v, ~v), "0x\(String(v, radix: 16))-0x\(String(~v, radix: 16))")
        }
    }
}
