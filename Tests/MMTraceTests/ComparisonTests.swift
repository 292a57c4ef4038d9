import XCTest
@testable import MMTrace
import MMCore

/// Comparisons run one workload per kernel model (docs/API.md /v1/compare).
final class ComparisonTests: XCTestCase {
    /// One anonymous mapping, written twice: the first write needs an
    /// anon_vma (docs/KERNEL-MODEL.md §9.3 row 3), the second does not (row 4 / 9).
    func workload(_ sim: Simulation) -> [FaultResult] {
        let p = sim.createProcess()
        let r = try! sim.syscall(pid: p.pid, .mmap(addr: 0x1000_0000_0000, length: 8192, prot: Linux.PROT_READ | Linux.PROT_WRITE,
                                                    flags: Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED, fd: -1, offset: 0))
        let a = UInt64(bitPattern: r.ret)
        return [try! sim.fault(pid: p.pid, address: a, access: .write),
                try! sim.fault(pid: p.pid, address: a + 4096, access: .write)]
    }

    func testColumnsDifferExactlyWhereTheModelsDo() {
        let c = Comparison.run(ComparisonColumn.grid(models: KernelModel.historic, options: ["eager_anon_vma"]), workload: workload)
        XCTAssertEqual(c.columns.map(\.column.label), ["6.3", "v3-patch", "6.4", "6.18", "6.3+eager_anon_vma",
                                                      "v3-patch+eager_anon_vma", "6.4+eager_anon_vma", "6.18+eager_anon_vma"])
        XCTAssertEqual(c.columns.map { $0.codes[0] },
                       ["LEGACY", "NO_ANON_VMA", "NO_ANON_VMA", "VMA_OK_TRYLOCK", "LEGACY", "VMA_OK", "VMA_OK", "VMA_OK"])
        XCTAssertEqual(c.columns.map { $0.codes[1] }, ["LEGACY", "VMA_OK", "VMA_OK", "VMA_OK", "LEGACY", "VMA_OK", "VMA_OK", "VMA_OK"])
        XCTAssertEqual(c.differences().map(\.index), [0, 1], "6.3 takes mmap_lock for both")
        let rows = Dictionary(uniqueKeysWithValues: c.rows.map { ($0.0, $0.1) })
        XCTAssertEqual(rows["handled under mmap_lock"], ["2", "1", "1", "0", "2", "0", "0", "0"])
        XCTAssertTrue(c.table().contains("v3-patch+eager_anon_vma"))
    }

    func testFormat3() {
        XCTAssertEqual(format3(0.5), "0.500")
        XCTAssertEqual(format3(1), "1.000")
        XCTAssertEqual(format3(0.0834), "0.083")
    }
}
