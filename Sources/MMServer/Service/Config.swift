import MMHTTP
import Foundation
import MMCore

/// Per-session and per-request limits (docs/API.md 422 `limit_exceeded`).
public struct Limits: Sendable, Equatable {
    public var maxSessions = 10_000
    public var maxProcessesPerSession = 1_000
    public var maxBatchOps = 100_000
    /// Operations one session's log may hold (0: no limit). The log is kept
    /// whole, since a session's state is the result of replaying it; at
    /// about 76 bytes per logged operation (measured) this bounds a
    /// session's log memory (2,000,000 ops ≈ 145 MiB).
    public var maxSessionOps = 2_000_000
    /// Idle sessions are deleted after this many seconds.
    public var sessionIdleSeconds: Double = 3600
    /// POST …/explore and …/interleave: threads per request, ops per thread,
    /// the preemption bound, complete schedules and wall time per search
    /// (a search cut by these answers `"bounded": true` and says which).
    public var maxExploreThreads = 6
    public var maxExploreOpsPerThread = 16
    public var maxExplorePreemptionBound = 6
    public var maxExploreSchedules = 1_000_000
    public var exploreTimeLimitSeconds: Double = 20
    /// Bytes of a raw trace streamed to POST …/replay (text/plain), parsed
    /// as it arrives and never held whole (docs/API.md "Replay").
    public var maxReplayBytes = 1 << 30
    /// Where session journals live (empty: sessions are not persisted).
    public var dataDir = "data"
    /// When journal writes are synced to disk.
    public var durability = Durability.everysec
    /// Page-table entries one session may hold (0: no limit; about 430
    /// bytes of server memory each, measured with fork copies).
    public var maxSessionPages = 1_000_000
    /// VMAs of one session's live processes (0: no limit).
    public var maxSessionVMAs = 262_144
    /// Live anon_vmas of one session (0: no limit).
    public var maxSessionAnonVMAs = 262_144
    /// Page-table entries of every session together (0: no limit).
    public var maxTotalPages = 4_000_000
    /// Live sessions created from one client address (0: no limit); more get 429.
    public var maxSessionsPerClient = 1_000
    /// Sessions one client address may create per minute, all at once after
    /// a quiet minute (0: no limit); more get 429 with `Retry-After`.
    public var sessionCreatesPerMinutePerClient = 600
    public init() {}
}

/// The server's configuration: `config/mmsim.json`, overridden by `MMSIM_*`
/// environment variables, overridden by command-line flags.
public struct ServerConfig: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var publicDir = "public"
    public var defaultKernel = KernelModel.default.id
    public var limits = Limits()
    public var maxHeaderBytes = 16 * 1024
    public var maxBodyBytes = 8 * 1024 * 1024
    public var readTimeoutSeconds: Double = 10
    public var bodyTimeoutSeconds: Double = 60
    public var idleTimeoutSeconds: Double = 30
    public var sendTimeoutSeconds: Double = 30
    public var maxConnections = 512
    public var maxConnectionsPerClient = 256
    /// Requests per second per client address (0: off, the default).
    public var requestsPerSecondPerClient: Double = 0
    public var requestBurstPerClient = 1_000
    /// HTTP event-loop threads; 0 means one per active processor.
    public var eventLoops = 0
    public var accessLog = true
    /// Enables `Authorization: Bearer <token>` for the full session listing
    /// and per-session metrics (empty: no caller can list other sessions).
    public var adminToken = ""
    /// Prefix of the session ids this instance creates (`<node_id>-<uuid>`),
    /// so a load balancer routes each session to its owner (docs/DEPLOY.md).
    public var nodeID = ""

    public init() {}

    /// Error in a config file, variable or flag.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// One key: its help line, how its value reads as text and how text sets it.
    struct Setting: Sendable {
        let key: String
        let help: String
        let text: @Sendable (ServerConfig) -> String
        let set: @Sendable (inout ServerConfig, String) throws(Invalid) -> Void

        static func string(_ key: String, _ help: String, _ p: WritableKeyPath<ServerConfig, String> & Sendable) -> Setting {
            Setting(key: key, help: help, text: { $0[keyPath: p] }, set: { c, t throws(Invalid) in c[keyPath: p] = t })
        }

        static func int(_ key: String, _ help: String, _ p: WritableKeyPath<ServerConfig, Int> & Sendable) -> Setting {
            Setting(key: key, help: help, text: { String($0[keyPath: p]) }, set: { c, t throws(Invalid) in
                c[keyPath: p] = try int(key, t)
            })
        }

        static func number(_ key: String, _ help: String, _ p: WritableKeyPath<ServerConfig, Double> & Sendable) -> Setting {
            Setting(key: key, help: help, text: { num($0[keyPath: p]) }, set: { c, t throws(Invalid) in
                guard let v = Double(t), v >= 0 else { throw Invalid(description: "\(key) must be a non-negative number, got '\(t)'") }
                c[keyPath: p] = v
            })
        }

        static func int(_ key: String, _ text: String) throws(Invalid) -> Int {
            guard let v = Int(text), v >= 0 else { throw Invalid(description: "\(key) must be a non-negative integer, got '\(text)'") }
            return v
        }

        static func num(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d) }
    }

    /// Every key as it appears in the JSON file, with a one-line description
    /// (`mmsim serve --help` lists them), its text form (what ``set(_:_:)``
    /// reads back) and how it is set; the variable is `MMSIM_` + the
    /// upper-cased key, the flag `--` + the key with dashes.
    static let table: [Setting] = [
        .string("host", "address to listen on", \.host),
        Setting(key: "port", help: "TCP port (0: any free one)", text: { String($0.port) }, set: { c, t throws(Invalid) in
            let p = try Setting.int("port", t)
            guard p <= 65535 else { throw Invalid(description: "port must be 0…65535") }
            c.port = p
        }),
        .string("public_dir", "the visualizer's files", \.publicDir),
        Setting(key: "default_kernel", help: "default session model", text: \.defaultKernel, set: { c, t throws(Invalid) in
            guard KernelModel.named(t) != nil else {
                throw Invalid(description: "default_kernel must be one of \(KernelModel.all.map(\.id).joined(separator: ", "))")
            }
            c.defaultKernel = t
        }),
        .int("max_sessions", "sessions held at once", \.limits.maxSessions),
        .int("max_processes_per_session", "processes in one session", \.limits.maxProcessesPerSession),
        .int("max_batch_ops", "operations in one batch", \.limits.maxBatchOps),
        .int("max_session_ops", "session log ops (0: none)", \.limits.maxSessionOps),
        .number("session_idle_seconds", "idle session expiry", \.limits.sessionIdleSeconds),
        .int("max_header_bytes", "request line and headers", \.maxHeaderBytes),
        .int("max_body_bytes", "request body", \.maxBodyBytes),
        .int("max_replay_bytes", "streamed replay body", \.limits.maxReplayBytes),
        .number("read_timeout_seconds", "to receive a request", \.readTimeoutSeconds),
        .number("idle_timeout_seconds", "keep-alive wait", \.idleTimeoutSeconds),
        .int("max_connections", "open connections", \.maxConnections),
        .int("event_loops", "event loops (0: per CPU)", \.eventLoops),
        Setting(key: "access_log", help: "a line per request on stdout", text: { String($0.accessLog) }, set: { c, t throws(Invalid) in
            guard let b = Bool(t) else { throw Invalid(description: "access_log must be true or false") }
            c.accessLog = b
        }),
        .int("max_explore_threads", "threads per explore", \.limits.maxExploreThreads),
        .int("max_explore_ops_per_thread", "ops per thread program", \.limits.maxExploreOpsPerThread),
        .int("max_explore_preemption_bound", "largest preemption_bound", \.limits.maxExplorePreemptionBound),
        .int("max_explore_schedules", "schedules per explore", \.limits.maxExploreSchedules),
        .number("explore_time_limit_seconds", "wall time per explore", \.limits.exploreTimeLimitSeconds),
        .string("admin_token", "token for the full listing", \.adminToken),
        Setting(key: "node_id", help: "session id prefix", text: \.nodeID, set: { c, t throws(Invalid) in
            guard t.utf8.allSatisfy({ c in (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }), t.utf8.count <= 16 else {
                throw Invalid(description: "node_id must be at most 16 lower-case letters and digits, got '\(t)'")
            }
            c.nodeID = t
        }),
        .number("body_timeout_seconds", "to receive a body", \.bodyTimeoutSeconds),
        .number("send_timeout_seconds", "to send an answer", \.sendTimeoutSeconds),
        .int("max_connections_per_client", "connections per address", \.maxConnectionsPerClient),
        .number("requests_per_second_per_client", "rate per address (0: off)", \.requestsPerSecondPerClient),
        .int("request_burst_per_client", "burst above that rate", \.requestBurstPerClient),
        .int("max_sessions_per_client", "live sessions per address", \.limits.maxSessionsPerClient),
        .int("session_creates_per_minute_per_client", "creates/min per address", \.limits.sessionCreatesPerMinutePerClient),
        .int("max_session_pages", "PTEs per session", \.limits.maxSessionPages),
        .int("max_session_vmas", "VMAs per session", \.limits.maxSessionVMAs),
        .int("max_session_anon_vmas", "anon_vmas per session", \.limits.maxSessionAnonVMAs),
        .int("max_total_pages", "PTEs of all sessions", \.limits.maxTotalPages),
        .string("data_dir", "journal folder, empty: off", \.limits.dataDir),
        Setting(key: "durability", help: "always, everysec or no", text: { $0.limits.durability.rawValue }, set: { c, t throws(Invalid) in
            guard let d = Durability(rawValue: t) else {
                throw Invalid(description: "durability must be one of always, everysec, no; got '\(t)'")
            }
            c.limits.durability = d
        }),
    ]

    /// The table by key.
    private static let byKey: [String: Setting] = Dictionary(uniqueKeysWithValues: table.map { ($0.key, $0) })

    /// Every key with its one-line description (`mmsim serve --help`).
    public static let settings: [(key: String, help: String)] = table.map { ($0.key, $0.help) }

    /// Keys as they appear in the JSON file.
    public static var keys: [String] { settings.map(\.key) }

    /// One key's value in its text form (what ``set(_:_:)`` reads back).
    public func text(_ key: String) -> String? { Self.byKey[key]?.text(self) }

    /// Sets one key from its text form.
    mutating func set(_ key: String, _ text: String) throws(Invalid) {
        guard let s = Self.byKey[key] else { throw Invalid(description: "unknown setting '\(key)'") }
        try s.set(&self, text)
    }

    /// Applies a JSON config file's members.
    mutating func apply(file path: String) throws(Invalid) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(description: "cannot read config file \(path)")
        }
        let value: JSONValue
        do { value = try JSONParser.parse(Array(data)) } catch {
            throw Invalid(description: "\(path): invalid JSON at byte \(error.offset): \(error.message)")
        }
        guard case let .object(members) = value else { throw Invalid(description: "\(path): must be a JSON object") }
        for (k, v) in members {
            let text: String
            switch v {
            case let .string(s): text = s
            case let .int(i): text = String(i)
            case let .double(d): text = String(d)
            case let .bool(b): text = String(b)
            default: throw Invalid(description: "\(path): \(k) must be a string, number or boolean")
            }
            try set(k, text)
        }
    }

    /// Loads defaults, then the config file (`--config`, `MMSIM_CONFIG`, or
    /// `defaultFile` if it exists), then `MMSIM_*` variables, then flags.
    public static func load(arguments: [String], environment: [String: String],
                            defaultFile: String = "config/mmsim.json") throws(Invalid) -> ServerConfig {
        var c = ServerConfig()
        var flags: [(String, String)] = []
        var configPath: String? = environment["MMSIM_CONFIG"]
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            guard arg.hasPrefix("--") else { throw Invalid(description: "unexpected argument '\(arg)'") }
            var key = String(arg.dropFirst(2))
            var value: String
            if let eq = key.firstIndex(of: "=") {
                value = String(key[key.index(after: eq)...])
                key = String(key[..<eq])
            } else {
                guard i + 1 < arguments.count else { throw Invalid(description: "\(arg) needs a value") }
                value = arguments[i + 1]
                i += 1
            }
            key = key.replacingOccurrences(of: "-", with: "_")
            if key == "public" { key = "public_dir" }
            if key == "config" { configPath = value } else { flags.append((key, value)) }
            i += 1
        }
        if let configPath {
            try c.apply(file: configPath)
        } else if FileManager.default.fileExists(atPath: defaultFile) {
            try c.apply(file: defaultFile)
        }
        for key in keys {
            if let v = environment["MMSIM_" + key.uppercased()] { try c.set(key, v) }
        }
        for (k, v) in flags { try c.set(k, v) }
        return c
    }
}
