import Foundation
import XCTest
@testable import MMCore

final class StraceParserTests: XCTestCase {
    func testDump() throws {
        guard let path = ProcessInfo.processInfo.environment["REPLAY_DUMP"] else { return }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let perf = ProcessInfo.processInfo.environment["REPLAY_PERF"] != nil
        let events = perf ? PerfScriptParser.parse(text) : StraceParser.parse(text)
        var hist: [String: Int] = [:]
        for e in events {
            switch e.kind {
            case .skipped(let r, _): hist[r, default: 0] += 1
                if ProcessInfo.processInfo.environment["REPLAY_ALL"] != nil { print(e.line, e.pid ?? -1, r) }
            default: print(e.line, e.pid ?? -1, e.tgid ?? -1, e.time ?? -1, e.duration ?? -1, e.kind)
            }
        }
        for (k, v) in hist.sorted(by: { $0.value > $1.value }) { print("SKIP \(v) \(k)") }
        let lines = Set(events.map(\.line))
        let nonBlank = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().filter { !$0.element.trimmingCharacters(in: .whitespaces).isEmpty }.map { $0.offset + 1 }
        print("MISSING LINES:", nonBlank.filter { !lines.contains($0) })
    }
}
