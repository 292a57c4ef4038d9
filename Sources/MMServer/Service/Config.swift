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

    /// Keys as they appear in the JSON file; env vars are `MMSIM_` + upper-cased key.
    static let keys = ["host", "port", "public_dir", "default_kernel", "max_sessions", "max_processes_per_session",
                       "max_batch_ops", "max_session_ops", "session_idle_seconds", "max_header_bytes", "max_body_bytes",
                       "read_timeout_seconds", "idle_timeout_seconds", "max_connections", "event_loops",
                       "access_log", "admin_token", "node_id", "body_timeout_seconds", "send_timeout_seconds",
                       "max_connections_per_client", "requests_per_second_per_client", "request_burst_per_client",
                       "max_sessions_per_client", "session_creates_per_minute_per_client", "max_session_pages",
                       "max_session_vmas", "max_session_anon_vmas", "max_total_pages", "data_dir", "durability"]

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
        case "max_header_bytes": maxHeaderBytes = try int()
        case "max_body_bytes": maxBodyBytes = try int()
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

    /// Loads defaults, then the config file (`--config`, or `config/mmsim.json`
    /// if it exists), then `MMSIM_*` variables, then flags.
    public static func load(arguments: [String], environment: [String: String]) throws(Invalid) -> ServerConfig {
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
        } else if FileManager.default.fileExists(atPath: "config/mmsim.json") {
            try c.apply(file: "config/mmsim.json")
        }
        for key in keys {
            if let v = environment["MMSIM_" + key.uppercased()] { try c.set(key, v) }
        }
        for (k, v) in flags { try c.set(k, v) }
        return c
    }
}
