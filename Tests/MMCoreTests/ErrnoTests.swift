import XCTest
@testable import MMCore

/// errno names and messages as strace prints them (include/uapi/asm-generic/errno-base.h).
final class ErrnoTests: XCTestCase {
    func testNamesRoundTripAndMatchTheKernelNumbers() {
        XCTAssertEqual(Errno.EINVAL.rawValue, 22)
        XCTAssertEqual(Errno.ENOMEM.rawValue, 12)
        XCTAssertEqual(Errno.EEXIST.rawValue, 17)
        for e in Errno.allCases {
            XCTAssertEqual(Errno(name: e.name), e)
            XCTAssertEqual("\(e)", e.name)
        }
        XCTAssertNil(Errno(name: "ENOTANERRNO"))
    }

    func testStraceRendersAFailedCallLikeStrace() {
        let line = StraceFormat.line(.munmap(addr: 0x1001, length: 4096), .error(.EINVAL))
        XCTAssertEqual(line, "munmap(0x1001, 4096) = -1 EINVAL (Invalid argument)")
    }
}
