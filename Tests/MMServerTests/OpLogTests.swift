import XCTest
@testable import MMServer
@testable import MMHTTP

/// OpLog (chunks of ops) reads back exactly like one flat array.
final class OpLogTests: XCTestCase {
    func comm(_ op: Op) -> String {
        if case let .process(c) = op { return c }
        return "?"
    }

    func testSinglesAndBatchesReadBackInOrder() {
        var log = OpLog()
        var flat: [String] = []
        var k = 0
        for size in [1, 1, 3, 64, 1, 200, 63, 1000, 1, 1, 65, 0, 2] {
            var batch: [Op] = []
            if size % 2 == 0 { batch.reserveCapacity(size * 3) }  // some with spare capacity
            for _ in 0..<size { batch.append(.process(comm: "\(k)")); flat.append("\(k)"); k += 1 }
            if size == 1 { log.append(batch[0]) } else { log.append(contentsOf: batch) }
        }
        XCTAssertEqual(log.count, flat.count)
        XCTAssertEqual(log.map(comm), flat)
        for i in 0..<flat.count { XCTAssertEqual(comm(log[i]), flat[i]) }
        XCTAssertEqual(log.enumerated().map { "\($0):\(comm($1))" }, flat.enumerated().map { "\($0):\($1)" })
    }
}
