import XCTest
@testable import MMCore

/// FlagTable.parse (the byte-level path for ASCII text) gives the values and
/// errors of the Character-level definition: split at "|", trim spaces and
/// tabs, then a name, the zero name, or a number.
final class FlagTableTests: XCTestCase {
    /// The reference definition.
    func reference(_ table: FlagTable, _ text: String) -> Result<UInt64, FlagParseError> {
        var result: UInt64 = 0
        for raw in text.split(separator: "|", omittingEmptySubsequences: false) {
            var sub = raw[...]
            while let c = sub.first, c == " " || c == "\t" { sub = sub.dropFirst() }
            while let c = sub.last, c == " " || c == "\t" { sub = sub.dropLast() }
            let token = String(sub)
            if let v = table.value(of: token) { result |= v; continue }
            if token == table.zeroName { continue }
            if let v = FlagTable.parseNumber(token) { result |= v; continue }
            return .failure(FlagParseError(token: token))
        }
        return .success(result)
    }

    func testParseMatchesTheDefinition() {
        let texts = ["PROT_READ|PROT_WRITE", " PROT_READ | PROT_EXEC\t", "PROT_NONE", "", "|", "PROT_READ|", "0x3", "7", "-1",
                     "PROT_BOGUS", "prot_read", "PROT_READ|0x10|PROT_WRITE", "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED",
                     "MAP_SHARED", "0", "MAP_SHARED_VALIDATE|MAP_POPULATE", "MAP_ANON", "O_RDWR|O_CREAT", "O_RDONLY",
                     "MADV_DONTNEED", "MREMAP_MAYMOVE|MREMAP_FIXED", "PROT_READ|PROT_WRITÉ", "PROT_READ|\u{301}PROT_WRITE",
                     "PROT_READ\r\n|PROT_WRITE", "0o17", "017", " ", "PROT_READ||PROT_WRITE"]
        let tables = [Linux.protNames, Linux.mapNames, Linux.openNames, Linux.madvNames, Linux.mremapNames]
        for table in tables {
            for text in texts {
                let got: Result<UInt64, FlagParseError>
                do { got = .success(try table.parse(text)) } catch { got = .failure(error) }
                switch (got, reference(table, text)) {
                case let (.success(a), .success(b)): XCTAssertEqual(a, b, text)
                case let (.failure(a), .failure(b)): XCTAssertEqual(a.token, b.token, text)
                default: XCTFail("\(text): \(got) vs \(reference(table, text))")
                }
            }
        }
    }
}
