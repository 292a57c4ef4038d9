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

    /// Every key as it appears in the JSON file, with a one-line description
    /// (`mmsim serve --help` lists them); the variable is `MMSIM_` + the
    /// upper-cased key, the flag `--` + the key with dashes.
    public static let settings: [(key: String, help: String)] = [
        ("host", "address to listen on"),
        ("port", "TCP port (0: any free one)"),
        ("public_dir", "the visualizer's files"),
        ("default_kernel", "default session model"),
        ("max_sessions", "sessions held at once"),
        ("max_processes_per_session", "processes in one session"),
        ("max_batch_ops", "operations in one batch"),
        ("max_session_ops", "session log ops (0: none)"),
        ("session_idle_seconds", "idle session expiry"),
        ("max_header_bytes", "request line and headers"),
        ("max_body_bytes", "request body"),
        ("max_replay_bytes", "streamed replay body"),
        ("read_timeout_seconds", "to receive a request"),
        ("idle_timeout_seconds", "keep-alive wait"),
        ("max_connections", "open connections"),
        ("event_loops", "event loops (0: per CPU)"),
        ("access_log", "a line per request on stdout"),
        ("max_explore_threads", "threads per explore"),
        ("max_explore_ops_per_thread", "ops per thread program"),
        ("max_explore_preemption_bound", "largest preemption_bound"),
        ("max_explore_schedules", "schedules per explore"),
        ("explore_time_limit_seconds", "wall time per explore"),
        ("admin_token", "token for the full listing"),
        ("node_id", "session id prefix"),
        ("body_timeout_seconds", "to receive a body"),
        ("send_timeout_seconds", "to send an answer"),
        ("max_connections_per_client", "connections per address"),
        ("requests_per_second_per_client", "rate per address (0: off)"),
        ("request_burst_per_client", "burst above that rate"),
        ("max_sessions_per_client", "live sessions per address"),
        ("session_creates_per_minute_per_client", "creates/min per address"),
        ("max_session_pages", "PTEs per session"),
        ("max_session_vmas", "VMAs per session"),
        ("max_session_anon_vmas", "anon_vmas per session"),
        ("max_total_pages", "PTEs of all sessions"),
        ("data_dir", "journal folder, empty: off"),
        ("durability", "always, everysec or no"),
    ]

    /// Keys as they appear in the JSON file.
    public static var keys: [String] { settings.map(\.key) }

    /// One key's value in its text form (what ``set(_:_:)`` reads back).
    public func text(_ key: String) -> String? {
        func num(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d) }
        return switch key {
        case "host": host
        case "port": String(port)
        case "public_dir": publicDir
        case "default_kernel": defaultKernel
        case "max_sessions": String(limits.maxSessions)
        case "max_processes_per_session": String(limits.maxProcessesPerSession)
        case "max_batch_ops": String(limits.maxBatchOps)
        case "max_session_ops": String(limits.maxSessionOps)
        case "session_idle_seconds": num(limits.sessionIdleSeconds)
        case "max_header_bytes": String(maxHeaderBytes)
        case "max_body_bytes": String(maxBodyBytes)
        case "max_replay_bytes": String(limits.maxReplayBytes)
        case "read_timeout_seconds": num(readTimeoutSeconds)
        case "idle_timeout_seconds": num(idleTimeoutSeconds)
        case "max_connections": String(maxConnections)
        case "event_loops": String(eventLoops)
        case "access_log": String(accessLog)
        case "max_explore_threads": String(limits.maxExploreThreads)
        case "max_explore_ops_per_thread": String(limits.maxExploreOpsPerThread)
        case "max_explore_preemption_bound": String(limits.maxExplorePreemptionBound)
        case "max_explore_schedules": String(limits.maxExploreSchedules)
        case "explore_time_limit_seconds": num(limits.exploreTimeLimitSeconds)
        case "admin_token": adminToken
        case "node_id": nodeID
        case "body_timeout_seconds": num(bodyTimeoutSeconds)
        case "send_timeout_seconds": num(sendTimeoutSeconds)
        case "max_connections_per_client": String(maxConnectionsPerClient)
        case "requests_per_second_per_client": num(requestsPerSecondPerClient)
        case "request_burst_per_client": String(requestBurstPerClient)
        case "max_sessions_per_client": String(limits.maxSessionsPerClient)
        case "session_creates_per_minute_per_client": String(limits.sessionCreatesPerMinutePerClient)
        case "max_session_pages": String(limits.maxSessionPages)
        case "max_session_vmas": String(limits.maxSessionVMAs)
        case "max_session_anon_vmas": String(limits.maxSessionAnonVMAs)
        case "max_total_pages": String(limits.maxTotalPages)
        case "data_dir": limits.dataDir
        case "durability": limits.durability.rawValue
        default: nil
        }
    }

    /// Sets one key from its text form.
    mutating func set(_ key: String, _ text: String) throws(Invalid) {
        func int() throws(Invalid) -> Int {
            guard let v = Int(text), v >= 0 else { throw Invalid(description: "\(key) must be a non-negative integer, got '\(text)'") }
            return v
        }
        func dbl() throws(Invalid) -> Double {
            guard let v = Double(text), v >= 0 else { throw Invalid(description: "\(key) must be a non-negative number, got '\(text)'") }
            return v
        }
        switch key {
        case "host": host = text
        case "port":
            let p = try int()
            guard p <= 65535 else { throw Invalid(description: "port must be 0…65535") }
            port = p
        case "public_dir": publicDir = text
        case "default_kernel":
            guard KernelModel.named(text) != nil else {
                throw Invalid(description: "default_kernel must be one of \(KernelModel.all.map(\.id).joined(separator: ", "))")
            }
            defaultKernel = text
        case "max_sessions": limits.maxSessions = try int()
        case "max_processes_per_session": limits.maxProcessesPerSession = try int()
        case "max_batch_ops": limits.maxBatchOps = try int()
        case "max_session_ops": limits.maxSessionOps = try int()
        case "session_idle_seconds": limits.sessionIdleSeconds = try dbl()
        case "max_explore_threads": limits.maxExploreThreads = try int()
        case "max_explore_ops_per_thread": limits.maxExploreOpsPerThread = try int()
        case "max_explore_preemption_bound": limits.maxExplorePreemptionBound = try int()
        case "max_explore_schedules": limits.maxExploreSchedules = try int()
        case "explore_time_limit_seconds": limits.exploreTimeLimitSeconds = try dbl()
        case "max_header_bytes": maxHeaderBytes = try int()
        case "max_body_bytes": maxBodyBytes = try int()
        case "max_replay_bytes": limits.maxReplayBytes = try int()
        case "read_timeout_seconds": readTimeoutSeconds = try dbl()
        case "idle_timeout_seconds": idleTimeoutSeconds = try dbl()
        case "max_connections": maxConnections = try int()
        case "body_timeout_seconds": bodyTimeoutSeconds = try dbl()
        case "send_timeout_seconds": sendTimeoutSeconds = try dbl()
        case "max_connections_per_client": maxConnectionsPerClient = try int()
        case "requests_per_second_per_client": requestsPerSecondPerClient = try dbl()
        case "request_burst_per_client": requestBurstPerClient = try int()
        case "max_sessions_per_client": limits.maxSessionsPerClient = try int()
        case "max_session_pages": limits.maxSessionPages = try int()
        case "max_session_vmas": limits.maxSessionVMAs = try int()
        case "max_session_anon_vmas": limits.maxSessionAnonVMAs = try int()
        case "max_total_pages": limits.maxTotalPages = try int()
        case "data_dir": limits.dataDir = text
        case "durability":
            guard let d = Durability(rawValue: text) else {
                throw Invalid(description: "durability must be one of always, everysec, no; got '\(text)'")
            }
            limits.durability = d
        case "session_creates_per_minute_per_client": limits.sessionCreatesPerMinutePerClient = try int()
        case "event_loops": eventLoops = try int()
        case "access_log":
            guard let b = Bool(text) else { throw Invalid(description: "access_log must be true or false") }
            accessLog = b
        case "admin_token": adminToken = text
        case "node_id":
            guard text.utf8.allSatisfy({ c in (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }), text.utf8.count <= 16 else {
                throw Invalid(description: "node_id must be at most 16 lower-case letters and digits, got '\(text)'")
            }
            nodeID = text
        default: throw Invalid(description: "unknown setting '\(key)'")
        }
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
