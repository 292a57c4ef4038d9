import Foundation

// Models of the live-kernel oracle's two file formats (documented in the
// oracle's README.md, next to run_kernel.py, which records them):
//
//   scenarios/NAME.json  what to do (ops on page offsets from WINDOW)
//   expected/NAME.json   what the real 6.18 kernel did (step results and
//                        observations of smaps/pagemap/kpageflags/kpagecount)
//
// The simulator side of the conformance test produces the same `StepResult`
// and `ProcObservation` values, so the comparison is value against value.

/// A scenario: files to create, then steps run by processes p0, c1, ….
struct OracleScenario: Decodable {
    var name: String
    var description: String
    var windowPages: Int
    var files: [OracleFile]
    var steps: [OracleStep]

    enum CodingKeys: String, CodingKey { case name, description, windowPages, files, steps }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decode(String.self, forKey: .description)
        windowPages = try c.decodeIfPresent(Int.self, forKey: .windowPages) ?? 4096
        files = try c.decodeIfPresent([OracleFile].self, forKey: .files) ?? []
        steps = try c.decode([OracleStep].self, forKey: .steps)
    }
}

/// A scenario file, created fresh (every page cached) before the steps run.
struct OracleFile: Decodable {
    var name: String
    var pages: Int?
    /// A size that need not be a whole number of pages; overrides `pages`.
    var sizeBytes: UInt64?
    /// false only chmods the file 0444 (root bypasses it on the kernel).
    var writable: Bool?

    var size: UInt64 { sizeBytes ?? UInt64(pages ?? 1) * 4096 }
}

/// One step. Which fields matter depends on `op`; see the README's table.
struct OracleStep: Decodable {
    var op: String
    var proc: String?
    // open / close
    var fd: String?
    var file: String?
    var mode: String?
    // address ranges (page offsets from WINDOW; lengths in pages)
    var at: Int?
    var pages: Int?
    var prot: String?
    var flags: [String]?
    var offsetPages: UInt64?
    var advice: String?
    var newAt: Int?
    var newPages: Int?
    var access: String?
    // fork / observe
    var child: String?
    var label: String?
    // bad-input extras
    var byteOffset: Int64?
    var lengthBytes: UInt64?
    var fdRaw: Int?
    var offsetBytes: UInt64?
    var newLengthBytes: UInt64?
    var expectErrno: String?

    var procLabel: String { proc ?? "p0" }
}

// MARK: expected/NAME.json

/// What the kernel did in one scenario.
struct OracleExpected: Decodable {
    var name: String
    var description: String
    var kernel: String
    var windowBase: String
    var windowPages: Int
    var pageSize: Int
    var steps: [ExpectedStep]
    var observations: [Observation]
}

struct ExpectedStep: Decodable {
    var index: Int
    var op: String
    var proc: String?
    var label: String?
    var result: StepResult
}

/// A step's result, as the kernel runner reports it.
struct StepResult: Codable, Equatable {
    var ok: Bool
    /// An errno name ("EINVAL"), or "SIGSEGV"/"SIGBUS" for a touch that faulted.
    var errno: String?
    /// mmap/mremap: page offset of the returned address.
    var at: Int?
    /// mmap/mremap: the address is outside the window.
    var outsideWindow: Bool?
    /// fork: the child's label.
    var child: String?
    /// touch: pages whose access faulted (or, on the kernel, was predicted to).
    var faults: [TouchFault]?
    var expectedErrno: String?
    var asExpected: Bool?

    init(ok: Bool, errno: String? = nil, at: Int? = nil, outsideWindow: Bool? = nil,
         child: String? = nil, faults: [TouchFault]? = nil) {
        self.ok = ok
        self.errno = errno
        self.at = at
        self.outsideWindow = outsideWindow
        self.child = child
        self.faults = faults
    }

    /// The signals of faulted pages ("19:SIGBUS"), ignoring the kernel runner's
    /// "predicted but succeeded" notes.
    var signalledPages: [String] {
        (faults ?? []).compactMap { f in f.signal.map { "\(f.page):\($0)" } }
    }

    /// A compact rendering for diffs.
    var brief: String {
        var s = ok ? "ok" : "failed"
        if let e = errno { s += " \(e)" }
        if let a = at { s += " at=\(a)" }
        if outsideWindow == true { s += " outside_window" }
        if let c = child { s += " child=\(c)" }
        if !signalledPages.isEmpty { s += " faults=[\(signalledPages.joined(separator: ","))]" }
        return s
    }
}

struct TouchFault: Codable, Equatable {
    var page: Int
    var signal: String?
    var note: String?
}

/// One `observe` step: every live process's window.
struct Observation: Codable {
    var label: String
    /// By process label. (The JSON object is in registration order; the
    /// comparison does not depend on it.)
    var procs: [String: ProcObservation]
}

struct ProcObservation: Codable, Equatable {
    var vmas: [ObservedVMA]
    var pages: [ObservedPage]
}

/// A VMA overlapping the window, as smaps shows it.
struct ObservedVMA: Codable, Equatable {
    var start: Int
    var end: Int
    var perms: String
    var offsetPages: Int
    var file: String?
    var special: String?
    var vmflags: [String]?

    var brief: String {
        var s = "[\(start),\(end)) \(perms) off=\(offsetPages)"
        if let f = file { s += " file=\(f)" }
        if let sp = special { s += " special=\(sp)" }
        s += " {\((vmflags ?? []).joined(separator: " "))}"
        return s
    }
}

/// A window page that pagemap reports as present, swapped or guard.
struct ObservedPage: Codable, Equatable {
    var page: Int
    var present: Bool
    var swapped: Bool
    var zeroPage: Bool
    var anon: Bool
    var exclusive: Bool
    var mapcount: Int
    var frame: String?
    var fileOrSharedAnon: Bool
    var anonExclusive: Bool
    var large: Bool
    var `guard`: Bool?

    var brief: String {
        var s = frame ?? "no frame"
        if !present { s += " !present" }
        if swapped { s += " swapped" }
        if `guard` == true { s += " guard" }
        if present {
            s += " mc=\(mapcount)"
            if exclusive { s += " excl" }
            if anon { s += " anon" }
            if anonExclusive { s += " AE" }
            if zeroPage { s += " zero" }
            if fileOrSharedAnon { s += " file" }
        }
        return s
    }
}

// MARK: loading

enum OracleFixtures {
    /// Tests/MMCoreTests/Fixtures/oracle, found from this source file.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()      // Oracle/
        .deletingLastPathComponent()      // MMCoreTests/
        .appendingPathComponent("Fixtures/oracle", isDirectory: true)

    /// "shared" (the 32 scenarios of shared/oracle) or "local" (recorded for this package).
    static func directory(_ set: String) -> URL { root.appendingPathComponent(set, isDirectory: true) }

    static func names(_ set: String) -> [String] {
        let dir = directory(set).appendingPathComponent("scenarios")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }

    static func scenario(_ set: String, _ name: String) throws -> OracleScenario {
        let url = directory(set).appendingPathComponent("scenarios/\(name).json")
        return try decoder().decode(OracleScenario.self, from: Data(contentsOf: url))
    }

    static func expected(_ set: String, _ name: String) throws -> OracleExpected {
        let url = directory(set).appendingPathComponent("expected/\(name).json")
        return try decoder().decode(OracleExpected.self, from: Data(contentsOf: url))
    }
}
