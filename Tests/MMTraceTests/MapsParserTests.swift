import Foundation
import XCTest
@testable import MMTrace
import MMCore

final class MapsParserTests: XCTestCase {
    func testFileMapping() {
        XCTAssertEqual(MapsParser.parseLine("7f5585f8d000-7f55860e3000 r-xp 00026000 fe:00 333151                     /usr/lib/x86_64-linux-gnu/libc.so.6"),
                       MapsEntry(start: 0x7f55_85f8_d000, end: 0x7f55_860e_3000, read: true, write: false, exec: true, shared: false,
                                 offset: 0x26000, devMajor: 0xfe, devMinor: 0, inode: 333_151,
                                 path: "/usr/lib/x86_64-linux-gnu/libc.so.6", kind: .file))
    }

    func testAnonymousAndPseudoMappings() {
        let text = """
        55b89bfd7000-55b89bff8000 rw-p 00000000 00:00 0                          [heap]
        7f5585ee3000-7f5585f05000 rw-p 00000000 00:00 0 
        7f5586155000-7f5586159000 r--p 00000000 00:00 0                          [vvar]
        7f5586159000-7f558615b000 r--p 00000000 00:00 0                          [vvar_vclock]
        7f558615b000-7f558615d000 r-xp 00000000 00:00 0                          [vdso]
        7ffef9052000-7ffef9073000 rw-p 00000000 00:00 0                          [stack]
        ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
        7f0000000000-7f0000001000 rw-p 00000000 00:00 0                          [anon:my arena]
        7f0000001000-7f0000002000 r-xp 00000000 00:00 0                          [uprobes]
        """
        let entries = try? MapsParser.parse(text)
        XCTAssertEqual(entries?.map(\.kind), [.heap, .anonymous, .vvar, .vvar, .vdso, .stack, .vsyscall, .anonymous, .pseudo])
        XCTAssertEqual(entries?.map(\.path), ["[heap]", "", "[vvar]", "[vvar_vclock]", "[vdso]", "[stack]", "[vsyscall]",
                                              "[anon:my arena]", "[uprobes]"])
        XCTAssertEqual(entries?.last?.prot, Linux.PROT_READ | Linux.PROT_EXEC)
        XCTAssertEqual(entries?[6].start, 0xffff_ffff_ff60_0000)
        XCTAssertEqual(entries?[6].prot, Linux.PROT_EXEC)
        XCTAssertEqual(entries?[1].length, 0x22000)
    }

    func testDeletedSharedMappingWithSpacesInThePath() {
        let e = MapsParser.parseLine("7f2906524000-7f2906526000 rw-s 00000000 fe:00 16220550                   /tmp/mmsim test dbk4tm94 (deleted)")
        XCTAssertEqual(e?.path, "/tmp/mmsim test dbk4tm94")
        XCTAssertEqual(e?.deleted, true)
        XCTAssertEqual(e?.shared, true)
        XCTAssertEqual(e?.write, true)
        XCTAssertEqual(e?.inode, 16_220_550)
        XCTAssertEqual(e?.kind, .file)
        XCTAssertEqual(MapsParser.parseLine("7f29063bb000-7f29063be000 rw-s 00000000 00:01 15364 /dev/zero (deleted)")?.devMinor, 1)
    }

    func testMalformedLinesThrowWithTheirLineNumber() {
        XCTAssertNil(MapsParser.parseLine("7f29063bb000 rw-s 00000000 00:01 15364"))
        XCTAssertNil(MapsParser.parseLine("7f29063bb000-7f29063be000 rwzs 00000000 00:01 15364"))
        XCTAssertNil(MapsParser.parseLine("7f29063be000-7f29063bb000 rw-s 00000000 00:01 15364"))
        XCTAssertThrowsError(try MapsParser.parse("55b89bfd7000-55b89bff8000 rw-p 00000000 00:00 0\n\nnot a mapping\n")) { error in
            XCTAssertEqual(error as? MapsParseError, MapsParseError(line: 3, text: "not a mapping", reason: "bad start address"))
        }
        XCTAssertEqual(try MapsParser.parse("\n \n"), [])
    }

    /// Real /proc/self/maps files.
    func testRealFixtures() throws {
        let cat = try MapsParser.parse(try ReplayFixtures.text("maps/cat-self.txt"))
        XCTAssertEqual(cat.count, 38)
        XCTAssertEqual(cat.first, MapsEntry(start: 0x55b8_854e_5000, end: 0x55b8_854e_7000, read: true, write: false, exec: false,
                                            shared: false, offset: 0, devMajor: 0xfe, devMinor: 0, inode: 253_911,
                                            path: "/usr/bin/cat", kind: .file))
        XCTAssertEqual(cat.filter { $0.kind == .anonymous }.count, 4)
        XCTAssertEqual(cat.filter { $0.path == "/usr/lib/x86_64-linux-gnu/libc.so.6" }.map(\.offset),
                       [0, 0x26000, 0x17c000, 0x1cf000, 0x1d3000])
        XCTAssertTrue(zip(cat, cat.dropFirst()).allSatisfy { $0.end <= $1.start })

        let py = try MapsParser.parse(try ReplayFixtures.text("maps/python-deleted.txt"))
        XCTAssertEqual(py.count, 112)
        XCTAssertEqual(py.filter(\.deleted).map(\.path), ["/dev/zero", "/tmp/mmsim test dbk4tm94"])
        XCTAssertEqual(py.filter { $0.kind != .file && $0.kind != .anonymous }.map(\.path),
                       ["[heap]", "[vvar]", "[vvar_vclock]", "[vdso]", "[stack]", "[vsyscall]"])
    }
}
