import Foundation

/// Field-by-field comparison of a simulator run with what the kernel did.
///
/// Every difference becomes one readable line. Private anonymous frames
/// (`F<n>`) are compared up to a consistent renaming: a bijection built over
/// the whole scenario, so the same simulator frame must always stand for the
/// same kernel frame and vice versa. Every other label (`ZERO`,
/// `<file>@<i>`, `shm<k>@<i>`) must be equal.
struct OracleComparison {
    private(set) var diffs: [String] = []
    private var simToKernel: [String: String] = [:]
    private var kernelToSim: [String: String] = [:]
    /// At most this many page differences per process and observation.
    var pageDiffLimit = 16

    static func isAnonLabel(_ s: String?) -> Bool {
        guard let s, s.hasPrefix("F"), s.count > 1 else { return false }
        return s.dropFirst().allSatisfy(\.isNumber)
    }

    static func compare(scenario: OracleScenario, expected: OracleExpected,
                        output: ScenarioRunner.Output, registrationOrder: [String]) -> [String] {
        var c = OracleComparison()
        c.compareSteps(scenario: scenario, expected: expected, output: output)
        c.compareObservations(expected: expected.observations, simulated: output.observations,
                              order: registrationOrder)
        return c.diffs
    }

    // MARK: steps

    static func describe(_ s: OracleStep) -> String {
        var parts: [String] = []
        if let p = s.proc { parts.append(p) }
        if let a = s.at { parts.append("at=\(a)\(s.byteOffset.map { "+\($0)B" } ?? "")") }
        if let n = s.lengthBytes { parts.append("len=\(n)B") } else if let n = s.pages, s.op != "fork" { parts.append("pages=\(n)") }
        if let p = s.prot { parts.append(p) }
        if let f = s.flags, !f.isEmpty { parts.append(f.joined(separator: "|")) }
        if let f = s.fd { parts.append("fd=\(f)") }
        if let f = s.fdRaw { parts.append("fd_raw=\(f)") }
        if let o = s.offsetPages { parts.append("off=\(o)p") }
        if let o = s.offsetBytes { parts.append("off+=\(o)B") }
        if let a = s.advice { parts.append(a) }
        if let a = s.access { parts.append(a) }
        if let n = s.newPages { parts.append("new_pages=\(n)") }
        if let n = s.newLengthBytes { parts.append("new_len=\(n)B") }
        if let n = s.newAt { parts.append("new_at=\(n)") }
        if let c = s.child { parts.append("child=\(c)") }
        if let f = s.file { parts.append("file=\(f)") }
        if let m = s.mode { parts.append("mode=\(m)") }
        return "\(s.op)(\(parts.joined(separator: " ")))"
    }

    private mutating func compareSteps(scenario: OracleScenario, expected: OracleExpected,
                                       output: ScenarioRunner.Output) {
        if expected.steps.count != output.steps.count {
            diffs.append("step count: kernel \(expected.steps.count), simulator \(output.steps.count)")
        }
        for (i, e) in expected.steps.enumerated() where i < output.steps.count {
            let step = i < scenario.steps.count ? Self.describe(scenario.steps[i]) : e.op
            if let h = output.harnessErrors[i] {
                diffs.append("step \(i) \(step): harness could not run it: \(h)")
                continue
            }
            let k = e.result, s = output.steps[i]
            var fields: [String] = []
            if k.ok != s.ok { fields.append("ok") }
            if k.errno != s.errno { fields.append("errno") }
            if k.at != s.at { fields.append("at") }
            if (k.outsideWindow ?? false) != (s.outsideWindow ?? false) { fields.append("outside_window") }
            if k.child != s.child { fields.append("child") }
            if k.signalledPages != s.signalledPages { fields.append("faults") }
            if !fields.isEmpty {
                diffs.append("step \(i) \(step): \(fields.joined(separator: ", ")) differ: kernel \(k.brief), simulator \(s.brief)")
            }
        }
    }

    // MARK: observations

    private mutating func compareObservations(expected: [Observation], simulated: [Observation], order: [String]) {
        if expected.count != simulated.count {
            diffs.append("observation count: kernel \(expected.count), simulator \(simulated.count)")
        }
        for (k, s) in zip(expected, simulated) {
            let where_ = "observe '\(k.label)'"
            // Processes: registration order first, then any the simulator does not know.
            var labels = order.filter { k.procs[$0] != nil || s.procs[$0] != nil }
            labels += k.procs.keys.filter { !labels.contains($0) }.sorted()
            for l in labels {
                switch (k.procs[l], s.procs[l]) {
                case let (kp?, sp?):
                    compareVMAs(kp.vmas, sp.vmas, at: "\(where_) \(l)")
                    comparePages(kp.pages, sp.pages, at: "\(where_) \(l)")
                case let (kp?, nil):
                    diffs.append("\(where_): process \(l) is alive on the kernel (\(kp.vmas.count) VMAs, \(kp.pages.count) pages) but not in the simulator")
                case let (nil, sp?):
                    diffs.append("\(where_): process \(l) is alive in the simulator (\(sp.vmas.count) VMAs, \(sp.pages.count) pages) but not on the kernel")
                case (nil, nil): break
                }
            }
        }
    }

    private mutating func compareVMAs(_ k: [ObservedVMA], _ s: [ObservedVMA], at where_: String) {
        if k == s { return }
        let starts = Set(k.map(\.start)).union(s.map(\.start)).sorted()
        var lines: [String] = []
        for st in starts {
            let kv = k.first { $0.start == st }, sv = s.first { $0.start == st }
            switch (kv, sv) {
            case let (kv?, sv?):
                var f: [String] = []
                if kv.end != sv.end { f.append("end \(kv.end) vs \(sv.end)") }
                if kv.perms != sv.perms { f.append("perms \(kv.perms) vs \(sv.perms)") }
                if kv.offsetPages != sv.offsetPages { f.append("offset_pages \(kv.offsetPages) vs \(sv.offsetPages)") }
                if kv.file != sv.file { f.append("file \(kv.file ?? "null") vs \(sv.file ?? "null")") }
                if kv.special != sv.special { f.append("special \(kv.special ?? "null") vs \(sv.special ?? "null")") }
                let kf = Set(kv.vmflags ?? []), sf = Set(sv.vmflags ?? [])
                if kf != sf {
                    let missing = kf.subtracting(sf).sorted(), extra = sf.subtracting(kf).sorted()
                    var d = "vmflags"
                    if !missing.isEmpty { d += " missing in simulator {\(missing.joined(separator: " "))}" }
                    if !extra.isEmpty { d += " extra in simulator {\(extra.joined(separator: " "))}" }
                    f.append(d)
                }
                if !f.isEmpty { lines.append("  VMA at \(st): kernel vs simulator: \(f.joined(separator: "; "))") }
            case let (kv?, nil):
                lines.append("  kernel only:    \(kv.brief)")
            case let (nil, sv?):
                lines.append("  simulator only: \(sv.brief)")
            case (nil, nil): break
            }
        }
        if lines.isEmpty { return }
        var d = "\(where_): VMAs differ\n" + lines.joined(separator: "\n")
        if !k.isEmpty && !s.isEmpty {
            d += "\n    kernel:    " + k.map(\.brief).joined(separator: "\n               ")
            d += "\n    simulator: " + s.map(\.brief).joined(separator: "\n               ")
        }
        diffs.append(d)
    }

    /// Whether kernel label `k` and simulator label `s` name the same frame,
    /// extending the F-label bijection if both are new.
    private mutating func sameFrame(_ k: String?, _ s: String?) -> (Bool, String?) {
        if Self.isAnonLabel(k) && Self.isAnonLabel(s), let k, let s {
            switch (simToKernel[s], kernelToSim[k]) {
            case (nil, nil):
                simToKernel[s] = k
                kernelToSim[k] = s
                return (true, nil)
            case let (mk, ms):
                if mk == k && ms == s { return (true, nil) }
                var why: [String] = []
                if let mk, mk != k { why.append("simulator \(s) stood for kernel \(mk) before") }
                if let ms, ms != s { why.append("kernel \(k) was simulator \(ms) before") }
                return (false, why.joined(separator: "; "))
            }
        }
        return (k == s, nil)
    }

    private mutating func comparePages(_ k: [ObservedPage], _ s: [ObservedPage], at where_: String) {
        let kb = Dictionary(k.map { ($0.page, $0) }, uniquingKeysWith: { a, _ in a })
        let sb = Dictionary(s.map { ($0.page, $0) }, uniquingKeysWith: { a, _ in a })
        var lines: [String] = []
        for p in Set(kb.keys).union(sb.keys).sorted() {
            switch (kb[p], sb[p]) {
            case let (kp?, sp?):
                var f: [String] = []
                let (same, why) = sameFrame(kp.frame, sp.frame)
                if !same {
                    f.append("frame \(kp.frame ?? "null") vs \(sp.frame ?? "null")\(why.map { " (\($0))" } ?? "")")
                }
                func cmp<T: Equatable>(_ name: String, _ a: T, _ b: T) { if a != b { f.append("\(name) \(a) vs \(b)") } }
                cmp("present", kp.present, sp.present)
                cmp("swapped", kp.swapped, sp.swapped)
                cmp("guard", kp.guard ?? false, sp.guard ?? false)
                cmp("zero_page", kp.zeroPage, sp.zeroPage)
                cmp("anon", kp.anon, sp.anon)
                cmp("mapcount", kp.mapcount, sp.mapcount)
                cmp("exclusive", kp.exclusive, sp.exclusive)
                cmp("anon_exclusive", kp.anonExclusive, sp.anonExclusive)
                cmp("file_or_shared_anon", kp.fileOrSharedAnon, sp.fileOrSharedAnon)
                cmp("large", kp.large, sp.large)
                if !f.isEmpty { lines.append("  page \(p): kernel vs simulator: \(f.joined(separator: "; "))") }
            case let (kp?, nil):
                lines.append("  page \(p): kernel \(kp.brief); simulator: not present")
            case let (nil, sp?):
                lines.append("  page \(p): kernel: not present; simulator \(sp.brief)")
            case (nil, nil): break
            }
        }
        if lines.isEmpty { return }
        let n = lines.count
        if n > pageDiffLimit {
            lines = Array(lines.prefix(pageDiffLimit)) + ["  … and \(n - pageDiffLimit) more page differences"]
        }
        diffs.append("\(where_): \(n) page(s) differ\n" + lines.joined(separator: "\n"))
    }
}
