import MMCore

/// A race scenario as a file, for `mmsim explore FILE.json`: the body of
/// `POST …/explore` plus the layout to start from and, optionally, the
/// kernel models to run it under (docs/API.md "Threads and interleavings").
///
/// ```json
/// {"setup": [{"op": "mmap", "addr": "0x7f0000001000", "length": 4096, "prot": "PROT_READ|PROT_WRITE",
///             "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}, …],
///  "threads": {"T1": [{"op": "fault", "address": "0x7f0000000000", "access": "write"}], "T2": […]},
///  "preemption_bound": 3, "kernels": ["v3-no-26", "v3-patch", "6.18"]}
/// ```
/// `setup` holds `ops` entries (their `pid` defaults to 1, the process the
/// file's threads share, which is created first); everything else is the
/// explore body, checked as strictly as over HTTP.
public struct ExploreFile {
    /// The models named in the file (empty: the caller decides).
    public let kernels: [KernelModel]
    let setup: [Op]
    let body: JSONValue

    /// Why a file cannot be run: the message names the field.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses and checks a file's bytes.
    public init(bytes: [UInt8]) throws(Invalid) {
        let value: JSONValue
        do { value = try JSONParser.parse(bytes) } catch {
            throw Invalid(description: "invalid JSON at byte \(error.offset): \(error.message)")
        }
        guard case let .object(members) = value else { throw Invalid(description: "the file must hold a JSON object") }
        var kernels: [KernelModel] = []
        var setup: [Op] = []
        var rest: [(String, JSONValue)] = []
        do throws(APIError) {
            for (key, v) in members {
                switch key {
                case "kernels":
                    guard case let .array(ids) = v else { throw .badRequest("field 'kernels' must be an array of kernel ids") }
                    for id in ids {
                        guard case let .string(s) = id, let k = KernelModel.named(s) else {
                            throw .badRequest("field 'kernels': unknown kernel \(id) (one of \(KernelModel.all.map(\.id).joined(separator: ", ")))")
                        }
                        kernels.append(k)
                    }
                case "setup":
                    guard case let .array(items) = v else { throw .badRequest("field 'setup' must be an array of ops") }
                    for (i, item) in items.enumerated() {
                        guard case var .object(m) = item else { throw .badRequest("field 'setup[\(i)]' must be an op object") }
                        if !m.contains(where: { $0.0 == "pid" }), case let .string(name)? = item["op"],
                           OpName(name)?.takesPid == true {
                            m.append(("pid", .int(1)))
                        }
                        setup.append(try Op.decode(.object(m), opIndex: i))
                    }
                default:
                    rest.append((key, v))
                }
            }
            if !rest.contains(where: { $0.0 == "pid" }) { rest.append(("pid", .int(1))) }
            _ = try ExploreRequest.decode(.object(rest), limits: Limits(), interleave: false)
        } catch {
            throw Invalid(description: error.message)
        }
        self.kernels = kernels
        self.setup = setup
        self.body = .object(rest)
    }

    /// One model's run: the exploration, or why the setup failed.
    public struct Run {
        public let kernel: KernelModel
        public let result: ExploreResult
        /// The answer as `POST …/explore` gives it.
        public var json: JSONValue { ExploreJSON.explore(result, kernel: kernel, mutant: mutant) }
        let mutant: Mutant?
    }

    /// Lays the setup out in a fresh simulation of `kernel` and explores.
    public func run(kernel: KernelModel) throws(Invalid) -> Run {
        let sim = Simulation(model: kernel, config: SimulationConfig(tracing: false))
        sim.createProcess(comm: "explore")
        do throws(APIError) {
            for (i, op) in setup.enumerated() {
                let r = try op.apply(to: sim, maxProcesses: Limits().maxProcessesPerSession, summary: true)
                if case let .syscallSummary(s) = r, let errno = s.errno {
                    throw .badRequest("field 'setup[\(i)]': the syscall failed with \(errno) under \(kernel.id)")
                }
            }
            let req = try ExploreRequest.decode(body, limits: Limits(), interleave: false)
            do throws(ExploreError) {
                let result = try sim.explore(pid: req.pid, programs: req.programs, options: req.options)
                return Run(kernel: kernel, result: result, mutant: req.options.mutant)
            } catch {
                throw MMSimApp.apiError(error)
            }
        } catch {
            throw Invalid(description: error.message)
        }
    }
}
