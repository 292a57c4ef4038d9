import Foundation
import XCTest
import MMCore
@testable import MMServer

/// The journal writer in-process (Sessions/Journal.swift): the checksum fed
/// in pieces equals the one-shot checksum of the concatenation (a batch
/// record is hashed without being copied), queued records reach the file in
/// queue order once flushed and only then (per request, or for every
/// journal at once by a JournalRound), and a batch record reads back as the
/// body it was given.
final class JournalTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "mmsim-journal-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
        super.tearDown()
    }

    func testChecksumInPiecesEqualsOneShot() {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 100, 1000] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let whole = Checksum.of(bytes)
            for _ in 0..<20 {
                var cuts = [0, length]
                for _ in 0..<3 { cuts.append(Int.random(in: 0...length, using: &rng)) }
                cuts.sort()
                var c = Checksum(length: length)
                for k in 0..<(cuts.count - 1) { c.add(Array(bytes[cuts[k]..<cuts[k + 1]])) }
                XCTAssertEqual(c.value, whole, "length \(length), cuts \(cuts)")
            }
        }
        // and it depends on every byte and on the length
        XCTAssertNotEqual(Checksum.of([1, 2, 3]), Checksum.of([1, 2, 4]))
        XCTAssertNotEqual(Checksum.of([0]), Checksum.of([0, 0]))
    }

    func testQueuedRecordsAreWrittenInOrderOnFlushOnly() throws {
        let path = dir + "/s.journal"
        let j = try XCTUnwrap(SessionJournal.create(path: path, header: .object([("kernel", .string("6.18"))]),
                                                    durability: .no, report: { _ in }))
        XCTAssertEqual(SessionJournal.read(path: path)?.records.count, 1, "the header is written at once")
        let body = Array(#"{"ops":[{"op":"process","comm":"a"}]}"#.utf8)
        j.enqueue(.ops([.process(comm: "x"), .process(comm: "y")]))
        j.enqueue(SessionJournal.batchRecord(body, failed: [3, 5]))
        XCTAssertTrue(j.hasPending)
        XCTAssertEqual(SessionJournal.read(path: path)?.records.count, 1, "queued, not yet written")
        j.flush()
        XCTAssertFalse(j.hasPending)
        let read = try XCTUnwrap(SessionJournal.read(path: path))
        XCTAssertEqual(read.goodLength, read.fileLength)
        XCTAssertEqual(read.records.count, 4)
        XCTAssertEqual(JSONWriter.encode(read.records[1]), JSONWriter.encode(Op.process(comm: "x").json))
        XCTAssertEqual(JSONWriter.encode(read.records[2]), JSONWriter.encode(Op.process(comm: "y").json))
        let batch = read.records[3]
        XCTAssertEqual(JSONWriter.encode(batch), Array(#"{"failed":[3,5],"batch":{"ops":[{"op":"process","comm":"a"}]}}"#.utf8))
    }

    func testConcurrentFlushesKeepQueueOrder() throws {
        let path = dir + "/c.journal"
        let j = try XCTUnwrap(SessionJournal.create(path: path, header: .object([]), durability: .no, report: { _ in }))
        final class Counter: @unchecked Sendable { var next = 0; let lock = NSLock() }
        let c = Counter()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<250 {
                // as Session.locked: queue under one lock (log order), write after releasing it
                c.lock.lock()
                j.enqueue(.ops([.process(comm: "p\(c.next)")]))
                c.next += 1
                c.lock.unlock()
                j.flush()
            }
        }
        let read = try XCTUnwrap(SessionJournal.read(path: path))
        XCTAssertEqual(read.records.count, 1001)
        for (k, r) in read.records.dropFirst().enumerated() {
            XCTAssertEqual(JSONWriter.encode(r), JSONWriter.encode(Op.process(comm: "p\(k)").json))
        }
    }

    func testARoundWritesEveryJournalQueuedSinceTheLast() throws {
        let round = JournalRound()
        let paths = [dir + "/r1.journal", dir + "/r2.journal"]
        let journals = try paths.map { p in
            try XCTUnwrap(SessionJournal.create(path: p, header: .object([]), durability: .no, round: round, report: { _ in }))
        }
        for (k, j) in journals.enumerated() {
            j.enqueue(.ops([.process(comm: "a\(k)")]))
            j.enqueue(.ops([.process(comm: "b\(k)")]))
        }
        XCTAssertEqual(paths.map { SessionJournal.read(path: $0)?.records.count }, [1, 1], "not written before the round")
        round.flush()
        XCTAssertEqual(paths.map { SessionJournal.read(path: $0)?.records.count }, [3, 3])
        journals[1].enqueue(.ops([.process(comm: "c")]))
        round.flush()
        XCTAssertEqual(paths.map { SessionJournal.read(path: $0)?.records.count }, [3, 4], "only what was queued since")
        round.flush()
        XCTAssertEqual(paths.map { SessionJournal.read(path: $0)?.records.count }, [3, 4], "nothing twice")
    }

    func testAFaultRecordIsTheBytesOfItsJSON() {
        var injected = FaultInjection()
        injected[keyPath: FaultInjection.switches[0].keyPath] = true
        let ops: [Op] = [
            .fault(pid: 1, tid: nil, address: 0x7f00_0000_1000, access: .write, mode: .user, inject: FaultInjection()),
            .fault(pid: 12, tid: 13, address: 0, access: .read, mode: .kernel, inject: FaultInjection()),
            .fault(pid: 2, tid: nil, address: UInt64.max, access: .exec, mode: .user, inject: injected),
            .process(comm: "x"),
        ]
        for op in ops {
            XCTAssertEqual(String(decoding: SessionJournal.payload(op), as: UTF8.self),
                           String(decoding: JSONWriter.encode(op.json), as: UTF8.self))
        }
    }
}
