import Foundation
import XCTest
@testable import MMServer
@testable import MMHTTP

/// docs/API.md and /openapi.json describe the same routes: every
/// operation of the document has a `### \`METHOD /path\`` section in
/// API.md and every such section is an operation of the document.
final class APIDocTests: XCTestCase {
    static let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/API.md")

    func testAPIDocAndOpenAPIListTheSameRoutes() throws {
        let text = try String(contentsOf: Self.doc, encoding: .utf8)
        var documented = Set<String>()
        for line in text.split(separator: "\n") where line.hasPrefix("### `") {
            documented.insert(String(line.dropFirst(5).prefix { $0 != "`" }))
        }
        guard case let .object(paths)? = try JSONParser.parse(OpenAPI.document)["paths"] else { return XCTFail("no paths") }
        var served = Set<String>()
        for (path, ops) in paths {
            guard case let .object(methods) = ops else { continue }
            for (method, _) in methods { served.insert("\(method.uppercased()) \(path)") }
        }
        XCTAssertEqual(served.count, RouteTable.all.count)
        XCTAssertEqual(documented.subtracting(served).sorted(), [], "sections in API.md without a route")
        XCTAssertEqual(served.subtracting(documented).sorted(), [], "routes missing from API.md")
    }

    /// Every closed set of names a request takes is an enum of the document.
    func testOpenAPIEnumsCoverTheClosedSets() throws {
        let text = String(decoding: OpenAPI.document, as: UTF8.self)
        for name in Schemas.kernelIDs + Schemas.optionNames + Schemas.injectionNames + ["MAP_FIXED", "PROT_EXEC", "MADV_DONTNEED",
                     "MREMAP_MAYMOVE", "O_CLOEXEC", "exit_group", "summary", "kernel", "exec", "perf", "method_not_allowed"] {
            XCTAssertTrue(text.contains("\"\(name)\""), "\(name) is not in /openapi.json")
        }
        let doc = try JSONParser.parse(OpenAPI.document)
        XCTAssertEqual(doc["components"]?["schemas"]?["Op_mmap"]?["required"],
                       .array(["op", "pid", "length", "prot", "flags"].map { .string($0) }))
        XCTAssertEqual(doc["components"]?["schemas"]?["Fault"]?["additionalProperties"], .bool(false))
        for route in RouteTable.all {
            guard case let .string(s)? = doc["paths"]?[route.pattern]?[route.method.rawValue.lowercased()]?["summary"] else {
                return XCTFail("\(route.pattern) has no summary")
            }
            XCTAssertEqual(s, route.summary)
        }
    }
}
