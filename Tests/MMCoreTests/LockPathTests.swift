import XCTest
@testable import MMCore

/// §9.3: the lock path of every §9.2 row under every model, the injected
/// conditions of §4.1–4.2, and the CONFIG_PER_VMA_LOCK_STATS classes.
final class LockPathTests: XCTestCase {
    typealias W = FaultWorld
    static let models: [KernelModel] = [.v6_3, .v3Patch, .v6_4, .v6_18]

    /// One §9.3 row: state set up by `setup`, then the fault under test.
    struct Row {
        var name: String
        /// Builds the state; returns the page, the access, and whether the fault is spurious.
        var setup: (FaultWorld) -> (page: UInt64, access: Access, spurious: Bool)
        /// Expected code for M0, M1, M2, M3.
        var codes: [LockCode]
    }

    static func run(_ w: FaultWorld, _ page: UInt64, _ access: Access, spurious: Bool = false,
                    inject: FaultInjection = .none, mode: FaultMode = .user) -> FaultResult {
        if spurious {
            return w.sim.handleFault(w.p, address: W.at(page), access: access, mode: mode, inject: inject,
                                     gup: false, spurious: true)
        }
        return w.touch(page, access, inject: inject, mode: mode)
    }

    static func expectedPath(_ c: LockCode) -> LockPath {
        switch c {
        case .VMA_OK, .VMA_OK_TRYLOCK, .ACCESS_ERROR_SEGV: .vmaLock
        case .LEGACY, .KERNEL_MODE: .mmapLock
        default: .vmaLockThenMmapLock
        }
    }

    static func expectedStat(_ c: LockCode) -> LockStat? {
        switch c {
        case .VMA_OK, .VMA_OK_TRYLOCK, .ACCESS_ERROR_SEGV: .success
        case .LEGACY, .KERNEL_MODE, .ACCESS_ERROR: nil
        case .SWAP_RETRY, .ANON_VMA_TRYLOCK_FAILED, .NO_MAP_PAGES, .IO_RETRY: .retry
        default: .abort
        }
    }

    // State builders shared by the rows.
    static func anonNoAV(_ w: FaultWorld) { w.anon(16, 8) }
    static func anonAV(_ w: FaultWorld) { w.anon(16, 8); w.touch(23, .write) }
    static func privFile(_ w: FaultWorld, _ prot: String = "rw-") -> VMA {
        w.map(w.open(w.file("/lib", pages: 64)), 64, 32, pgoff: 0, prot)
    }

    static var rows: [Row] { [
        Row(name: "1 anon read, no av", setup: { anonNoAV($0); return (16, .read, false) },
            codes: [.LEGACY, .NO_ANON_VMA, .NO_ANON_VMA, .VMA_OK]),
        Row(name: "2 anon read, av", setup: { anonAV($0); return (16, .read, false) },
            codes: [.LEGACY, .VMA_OK, .VMA_OK, .VMA_OK]),
        Row(name: "3 anon write, no av", setup: { anonNoAV($0); return (16, .write, false) },
            codes: [.LEGACY, .NO_ANON_VMA, .NO_ANON_VMA, .VMA_OK_TRYLOCK]),
        Row(name: "4 anon write, av", setup: { anonAV($0); return (16, .write, false) },
            codes: [.LEGACY, .VMA_OK, .VMA_OK, .VMA_OK]),
        Row(name: "5 write on zero PTE, no av", setup: { anonNoAV($0); $0.touch(16); return (16, .write, false) },
            codes: [.LEGACY, .NO_ANON_VMA, .NO_ANON_VMA, .VMA_OK_TRYLOCK]),
        Row(name: "6 write on zero PTE, av", setup: { anonAV($0); $0.touch(16); return (16, .write, false) },
            codes: [.LEGACY, .VMA_OK, .VMA_OK, .VMA_OK]),
        Row(name: "7 write RO exclusive", setup: { w in
                anonAV(w); w.touch(16, .write); w.p.mm.pageTable[W.at(16) >> 12]?.writable = false
                return (16, .write, false) },
            codes: [.LEGACY, .VMA_OK, .VMA_OK, .VMA_OK]),
        Row(name: "8 write RO shared after fork", setup: { w in
                anonAV(w); w.touch(16, .write); _ = w.fork(); return (16, .write, false) },
            codes: [.LEGACY, .VMA_OK, .VMA_OK, .VMA_OK]),
        Row(name: "9 spurious write, anon av", setup: { anonAV($0); return (23, .write, true) },
            codes: [.LEGACY, .VMA_OK, .VMA_OK, .VMA_OK]),
        Row(name: "10 spurious read, anon without av", setup: { w in
                anonNoAV(w); w.touch(16); return (16, .read, true) },
            codes: [.LEGACY, .NO_ANON_VMA, .NO_ANON_VMA, .VMA_OK]),
        Row(name: "10 spurious read, file", setup: { w in
                _ = privFile(w, "r--"); w.touch(64); return (64, .read, true) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_OK]),
        Row(name: "11 file private read", setup: { _ = privFile($0, "r--"); return (64, .read, false) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_OK]),
        Row(name: "12 file private write, no av", setup: { _ = privFile($0); return (64, .write, false) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_OK_TRYLOCK]),
        Row(name: "13 file private write, av", setup: { w in
                _ = privFile(w); w.touch(90, .write); return (64, .write, false) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_OK]),
        Row(name: "14 write RO page-cache, no av", setup: { w in
                _ = privFile(w); w.touch(64); return (64, .write, false) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_OK_TRYLOCK]),
        Row(name: "15 write RO page-cache, av", setup: { w in
                _ = privFile(w); w.touch(64); w.touch(90, .write); return (64, .write, false) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_OK]),
        Row(name: "16 shared file read", setup: { w in
                w.map(w.open(w.file("/s", pages: 8), Linux.O_RDWR), 64, 8, pgoff: 0, "rw-", shared: true)
                return (64, .read, false) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_OK]),
        Row(name: "17 shared file write", setup: { w in
                w.map(w.open(w.file("/s", pages: 8), Linux.O_RDWR), 64, 8, pgoff: 0, "rw-", shared: true)
                return (64, .write, false) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_OK]),
        Row(name: "18 shared file write on RO", setup: { w in
                w.map(w.open(w.file("/s", pages: 8), Linux.O_RDWR), 64, 8, pgoff: 0, "rw-", shared: true)
                w.touch(64); return (64, .write, false) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_OK]),
        Row(name: "19 shmem read", setup: { $0.shmem(64, 4); return (64, .read, false) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_OK]),
        Row(name: "20 shmem write", setup: { $0.shmem(64, 4); return (64, .write, false) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_OK]),
        Row(name: "21 write to r-- anon with av", setup: { w in
                w.anon(16, 4, "r--"); _ = w.sim.anonVMAPrepare(w.p, w.p.mm.vmas.first!); return (16, .write, false) },
            codes: [.LEGACY, .ACCESS_ERROR, .ACCESS_ERROR, .ACCESS_ERROR_SEGV]),
        Row(name: "21 write to r-- anon without av", setup: { w in w.anon(16, 4, "r--"); return (16, .write, false) },
            codes: [.LEGACY, .NO_ANON_VMA, .NO_ANON_VMA, .ACCESS_ERROR_SEGV]),
        Row(name: "21 write to r-- file", setup: { _ = privFile($0, "r--"); return (64, .write, false) },
            codes: [.LEGACY, .NOT_ANON, .NOT_ANON, .ACCESS_ERROR_SEGV]),
        Row(name: "23 below a growsdown stack", setup: { w in
                w.anon(300, 1, extra: .GROWSDOWN); return (299, .write, false) },
            codes: [.LEGACY, .NO_VMA, .NO_VMA, .NO_VMA]),
        Row(name: "24 gap", setup: { anonAV($0); return (40, .read, false) },
            codes: [.LEGACY, .NO_VMA, .NO_VMA, .NO_VMA]),
        Row(name: "uffd-armed anon with av", setup: { w in
                w.anon(16, 4, extra: .UFFD_MISSING); w.touch(19, .write); return (16, .write, false) },
            codes: [.LEGACY, .UFFD_ARMED, .UFFD_ARMED, .VMA_OK]),
        Row(name: "non-present marker PTE (swap row)", setup: { w in
                anonAV(w); w.p.mm.pageTable[W.at(16) >> 12] = .guardPTE; return (16, .read, false) },
            codes: [.LEGACY, .SWAP_RETRY, .SWAP_RETRY, .VMA_OK]),
    ] }

    /// Every row × model of §9.3: code, path and stat class.
    func testEveryRowUnderEveryModel() {
        for row in Self.rows {
            for (i, model) in Self.models.enumerated() {
                let w = W(model)
                let (page, access, spurious) = row.setup(w)
                let r = Self.run(w, page, access, spurious: spurious)
                let want = row.codes[i]
                let ctx = "row \(row.name) under \(model.id)"
                XCTAssertTrue(r.fault, ctx)
                XCTAssertEqual(r.lock?.code, want, ctx)
                XCTAssertEqual(r.lock?.path, Self.expectedPath(want), ctx)
                XCTAssertEqual(r.lock?.stat, Self.expectedStat(want), ctx)
            }
        }
    }

    // Row 22 — exec on a RW non-exec anon page: the first fault is a read fault
    // (row 1), the second an access error on a present PTE.
    func testRow22TwoFaultsPerModel() {
        let first: [LockCode] = [.LEGACY, .NO_ANON_VMA, .NO_ANON_VMA, .VMA_OK]
        let second: [LockCode] = [.LEGACY, .NO_ANON_VMA, .NO_ANON_VMA, .ACCESS_ERROR_SEGV]
        for (i, model) in Self.models.enumerated() {
            let w = W(model)
            w.anon(16, 2)
            let r = w.touch(16, .exec)
            XCTAssertEqual(r.lock?.code, first[i], model.id)
            XCTAssertEqual(r.secondFault.first?.lock?.code, second[i], model.id)
            XCTAssertEqual(r.secondFault.first?.siCode, .SEGV_ACCERR)
        }
        // With an anon_vma, M1/M2 lock the VMA, see the access error and fall back.
        let w = W(.v6_4)
        w.anon(16, 2)
        w.touch(17, .write)
        let r = w.touch(16, .exec)
        XCTAssertEqual(r.lock?.code, .VMA_OK)
        XCTAssertEqual(r.secondFault.first?.lock?.code, .ACCESS_ERROR)
        XCTAssertEqual(r.secondFault.first?.lock?.path, .vmaLockThenMmapLock)
        XCTAssertNil(r.secondFault.first?.lock?.stat, "6.4 counts no VMA-lock event for access errors")
    }

    // The patch's claim: "only the first fault" falls back. After the fallback
    // prepared the anon_vma under mmap_read_lock, the next fault qualifies.
    func testM1M2OnlyTheFirstWriteFallsBack() {
        for model in [KernelModel.v3Patch, .v6_4] {
            let w = W(model)
            w.anon(16, 4)
            XCTAssertEqual(w.touch(16, .write).lock?.code, .NO_ANON_VMA)
            XCTAssertEqual(w.touch(17, .write).lock?.code, .VMA_OK)
            XCTAssertEqual(w.touch(18).lock?.code, .VMA_OK)
        }
    }

    // Injected write lock: every per-VMA model falls back — but M1/M2 test
    // anon-ness and anon_vma *before* vma_start_read(), so those reasons win.
    func testInjectedVMAWriteLocked() {
        let inj = FaultInjection(vmaWriteLocked: true)
        let anonWant: [LockCode] = [.LEGACY, .VMA_WRITE_LOCKED, .VMA_WRITE_LOCKED, .VMA_WRITE_LOCKED]
        let fileWant: [LockCode] = [.LEGACY, .NOT_ANON, .NOT_ANON, .VMA_WRITE_LOCKED]
        for (i, model) in Self.models.enumerated() {
            let w = W(model)
            Self.anonAV(w)
            let r = w.touch(16, .write, inject: inj)
            XCTAssertEqual(r.lock?.code, anonWant[i], model.id)
            XCTAssertEqual(r.outcome, .handled)
            _ = Self.privFile(w, "r--")
            XCTAssertEqual(w.touch(64, inject: inj).lock?.code, fileWant[i], model.id)
        }
        // The real write-lock state: a VMA write-locked in the current period.
        let w = W()
        Self.anonAV(w)
        let v = w.p.mm.vmas.first!
        w.sim.vmaStartWrite(w.p.mm, v)
        XCTAssertEqual(w.touch(16, .write).lock?.code, .VMA_WRITE_LOCKED)
        w.sim.mmapWriteUnlock(w.p.mm)
        XCTAssertEqual(w.touch(17, .write).lock?.code, .VMA_OK, "mmap_write_unlock advanced mm_lock_seq")
    }

    // Kernel-mode faults (e.g. inside read()) never try the VMA lock.
    func testKernelModeFault() {
        for (i, model) in Self.models.enumerated() {
            let w = W(model)
            Self.anonAV(w)
            let r = w.touch(16, .write, mode: .kernel)
            XCTAssertEqual(r.lock?.code, i == 0 ? .LEGACY : .KERNEL_MODE)
            XCTAssertEqual(r.lock?.path, .mmapLock)
            XCTAssertNil(r.lock?.stat)
        }
    }

    // mmapLockContended: 6.18's mmap_read_trylock fails → RETRY, redone under
    // mmap_lock where __anon_vma_prepare runs (rows 3, 5, 12, 14).
    func testTrylockFailureFallsBack() {
        let inj = FaultInjection(mmapLockContended: true)
        let setups: [(FaultWorld) -> (UInt64, Access)] = [
            { Self.anonNoAV($0); return (16, .write) },
            { Self.anonNoAV($0); $0.touch(16); return (16, .write) },
            { _ = Self.privFile($0); return (64, .write) },
            { _ = Self.privFile($0); $0.touch(64); return (64, .write) },
        ]
        for setup in setups {
            let w = W()
            let (page, access) = setup(w)
            let r = w.touch(page, access, inject: inj)
            XCTAssertEqual(r.lock?.code, .ANON_VMA_TRYLOCK_FAILED)
            XCTAssertEqual(r.lock?.stat, .retry)
            XCTAssertEqual(r.lock?.path, .vmaLockThenMmapLock)
            XCTAssertEqual(r.lock?.steps.map(\.fn), ["lock_vma_under_rcu", "mmap_read_trylock", "handle_mm_fault",
                                                     "mmap_read_trylock", "lock_mm_and_find_vma"])
            XCTAssertEqual(r.outcome, .handled)
            XCTAssertEqual(r.anonVMA.action, .allocated, "prepared under mmap_read_lock after the retry")
            XCTAssertEqual(w.folio(page)?.kind, .anon)
        }
        // Contention changes nothing where no anon_vma is needed, or in M0.
        let w = W()
        Self.anonAV(w)
        XCTAssertEqual(w.touch(16, .write, inject: inj).lock?.code, .VMA_OK)
        let w0 = W(.v6_3)
        Self.anonNoAV(w0)
        XCTAssertEqual(w0.touch(16, .write, inject: inj).lock?.code, .LEGACY)
    }

    // pageCacheMiss: I/O with the lock dropped → RETRY|MAJOR → FAULT_FLAG_TRIED.
    func testPageCacheMissRetries() {
        let inj = FaultInjection(pageCacheMiss: true)
        let w = W()
        _ = Self.privFile(w, "r--")
        let r = w.touch(70, inject: inj)
        XCTAssertEqual(r.lock?.code, .IO_RETRY)
        XCTAssertEqual(r.lock?.stat, .retry)
        XCTAssertEqual(r.outcome, .handled)
        XCTAssertNotNil(w.pte(70))
        XCTAssertNotNil(w.pte(64), "fault-around mapped the cached neighbours in the first attempt")
        // Row 12 with a miss: the anon_vma was prepared (trylock) before ->fault asked for I/O.
        let w12 = W()
        let v = Self.privFile(w12)
        let r12 = w12.touch(64, .write, inject: inj)
        XCTAssertEqual(r12.lock?.code, .IO_RETRY)
        XCTAssertEqual(r12.anonVMA.action, .allocated)
        XCTAssertNotNil(v.anonVMA)
        // M0: still LEGACY; the retry shows in the steps.
        let w0 = W(.v6_3)
        _ = Self.privFile(w0, "r--")
        let r0 = w0.touch(64, inject: inj)
        XCTAssertEqual(r0.lock?.code, .LEGACY)
        XCTAssertEqual(r0.lock?.steps.filter { $0.result == "retry" }.count, 1)
        XCTAssertEqual(r0.outcome, .handled)
        // shmem holes need no I/O.
        let ws = W()
        ws.shmem(64, 2)
        XCTAssertEqual(ws.touch(64, inject: inj).lock?.code, .VMA_OK)
    }

    // [vdso]/[vvar]: no ->map_pages → RETRY under the VMA lock (NO_MAP_PAGES).
    func testSpecialMappingNoMapPages() {
        let want: [LockCode] = [.LEGACY, .NOT_ANON, .NOT_ANON, .NO_MAP_PAGES]
        for (i, model) in Self.models.enumerated() {
            let w = W(model)
            w.special("[vvar]", 500, 4)
            let r = w.touch(500)
            XCTAssertEqual(r.lock?.code, want[i], model.id)
            XCTAssertEqual(r.outcome, .handled)
            XCTAssertNotNil(w.pte(500))
        }
    }

    // VMA_LOCK_MISS: the lookup is retried; the miss and the final class both count.
    func testDetachedDuringLookupIsMiss() {
        for model in [KernelModel.v6_4, .v6_18] {
            let w = W(model)
            Self.anonAV(w)
            let before = w.sim.stats.faults
            let r = w.touch(16, .write, inject: FaultInjection(vmaDetachedDuringLookup: true))
            XCTAssertEqual(r.lock?.code, .VMA_OK)
            XCTAssertEqual(r.lock?.stat, .success)
            XCTAssertEqual(r.lock?.steps.first?.result, "miss")
            XCTAssertEqual(w.sim.stats.faults.vmaLockMiss - before.vmaLockMiss, 1)
            XCTAssertEqual(w.sim.stats.faults.vmaLockSuccess - before.vmaLockSuccess, 1)
        }
    }

    // VMA_RECYCLED exists only with 6.15+ SLAB_TYPESAFE_BY_RCU VMAs; RANGE_CHANGED everywhere.
    func testRecycledAndRangeChanged() {
        let w = W()
        Self.anonAV(w)
        XCTAssertEqual(w.touch(16, inject: FaultInjection(vmaRecycled: true)).lock?.code, .VMA_RECYCLED)
        XCTAssertEqual(w.touch(17, inject: FaultInjection(vmaRangeChanged: true)).lock?.code, .RANGE_CHANGED)
        let w2 = W(.v6_4)
        Self.anonAV(w2)
        XCTAssertEqual(w2.touch(16, inject: FaultInjection(vmaRecycled: true)).lock?.code, .VMA_OK)
        XCTAssertEqual(w2.touch(17, inject: FaultInjection(vmaRangeChanged: true)).lock?.code, .RANGE_CHANGED)
    }

    // Stack growth: under mmap_write_lock (then downgraded) in 6.18, under the
    // read lock in 6.3/6.4.0.
    func testStackExpansionLocking() {
        let w = W()
        w.anon(300, 1, extra: .GROWSDOWN)
        let r = w.touch(299, .write)
        XCTAssertEqual(r.lock?.steps.map(\.fn), ["lock_vma_under_rcu", "mmap_write_lock", "mmap_write_downgrade"])
        let w2 = W(.v6_4)
        w2.anon(300, 1, extra: .GROWSDOWN)
        XCTAssertEqual(w2.touch(299, .write).lock?.steps.map(\.fn), ["lock_vma_under_rcu", "expand_stack", "find_vma"])
    }

    // Options (§8.4): skip_mergeable_for_file needs no trylock for file CoW;
    // eager_anon_vma makes M1/M2 rows 3 and 5 VMA_OK.
    func testOptionsChangeLockPaths() {
        let w = W(.v6_18, options: ModelOptions(skipMergeableForFile: true))
        _ = Self.privFile(w)
        let r = w.touch(64, .write, inject: FaultInjection(mmapLockContended: true))
        XCTAssertEqual(r.lock?.code, .VMA_OK, "row 12 without find_mergeable_anon_vma needs no mmap_lock")
        XCTAssertEqual(r.anonVMA.action, .allocated)
        for model in [KernelModel.v3Patch, .v6_4] {
            let w = W(model, options: ModelOptions(eagerAnonVMA: true))
            let v = w.anon(16, 4)
            w.sim.eagerAnonVMAIfNeeded(w.p, v)
            XCTAssertEqual(w.touch(16, .write).lock?.code, .VMA_OK)
            XCTAssertEqual(w.touch(17).lock?.code, .VMA_OK)
        }
    }

    // Counters follow the stat classes.
    func testStatCounters() {
        let w = W()
        Self.anonNoAV(w)
        w.touch(16, .write)                                                      // success (trylock)
        w.touch(40)                                                              // abort (NO_VMA) + SIGSEGV
        w.touch(17, .write, inject: FaultInjection(vmaWriteLocked: true))        // abort
        _ = Self.privFile(w, "r--")
        w.touch(64, inject: FaultInjection(pageCacheMiss: true))                  // retry
        let f = w.sim.statsSnapshot().faults
        XCTAssertEqual(f.total, 4)
        XCTAssertEqual(f.vmaLockSuccess, 1)
        XCTAssertEqual(f.vmaLockAbort, 2)
        XCTAssertEqual(f.vmaLockRetry, 1)
        XCTAssertEqual(f.mmapLock, 3)
        XCTAssertEqual(f.sigsegv, 1)
        XCTAssertEqual(f.byReason["VMA_OK_TRYLOCK"], 1)
        XCTAssertEqual(f.byReason["IO_RETRY"], 1)
    }
}
