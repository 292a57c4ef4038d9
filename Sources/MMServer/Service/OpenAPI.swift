import MMHTTP
import Foundation

/// The OpenAPI 3.1 document of the API, built from one table of routes.
enum OpenAPI {
    struct Route {
        let method: String, path: String, summary: String
        var body: String? = nil
        var status = "200"
        var contentType = "application/json"
    }

    static let routes: [Route] = [
        Route(method: "get", path: "/healthz", summary: "Liveness: {\"status\": \"ok\"}"),
        Route(method: "get", path: "/metrics", summary: "Prometheus metrics", contentType: "text/plain"),
        Route(method: "get", path: "/openapi.json", summary: "This document"),
        Route(method: "get", path: "/v1/kernels", summary: "Kernel models a session can use"),
        Route(method: "post", path: "/v1/sessions", summary: "Create a session", body: "SessionCreate", status: "201"),
        Route(method: "get", path: "/v1/sessions", summary: "List sessions"),
        Route(method: "get", path: "/v1/sessions/{sid}", summary: "A session with its processes"),
        Route(method: "delete", path: "/v1/sessions/{sid}", summary: "Delete a session", status: "204"),
        Route(method: "get", path: "/v1/sessions/{sid}/stats", summary: "Fault, anon_vma and VMA counters"),
        Route(method: "get", path: "/v1/sessions/{sid}/anon_vmas", summary: "The anon_vma forest"),
        Route(method: "get", path: "/v1/sessions/{sid}/log", summary: "Every operation applied, replayable"),
        Route(method: "get", path: "/v1/sessions/{sid}/events", summary: "Operations as Server-Sent Events", contentType: "text/event-stream"),
        Route(method: "post", path: "/v1/sessions/{sid}/files", summary: "Create a file (inode)", body: "FileCreate", status: "201"),
        Route(method: "get", path: "/v1/sessions/{sid}/files", summary: "The session's files"),
        Route(method: "post", path: "/v1/sessions/{sid}/processes", summary: "Create a process", body: "ProcessCreate", status: "201"),
        Route(method: "get", path: "/v1/sessions/{sid}/processes", summary: "The session's processes"),
        Route(method: "get", path: "/v1/sessions/{sid}/processes/{pid}", summary: "A process with its VMAs"),
        Route(method: "get", path: "/v1/sessions/{sid}/processes/{pid}/vmas", summary: "VMAs in address order"),
        Route(method: "get", path: "/v1/sessions/{sid}/processes/{pid}/maps", summary: "/proc/PID/maps", contentType: "text/plain"),
        Route(method: "get", path: "/v1/sessions/{sid}/processes/{pid}/smaps", summary: "/proc/PID/smaps", contentType: "text/plain"),
        Route(method: "get", path: "/v1/sessions/{sid}/processes/{pid}/pages", summary: "Page-table entries of a range (query start, end)"),
        Route(method: "post", path: "/v1/sessions/{sid}/processes/{pid}/syscalls/{name}", summary: "Run a syscall (open, close, mmap, munmap, mprotect, madvise, mremap, brk, fork, exit)", body: "SyscallArgs"),
        Route(method: "post", path: "/v1/sessions/{sid}/processes/{pid}/faults", summary: "Touch an address: simulate a page fault", body: "Fault"),
        Route(method: "post", path: "/v1/sessions/{sid}/ops", summary: "Apply a batch of operations", body: "Ops"),
        Route(method: "post", path: "/v1/sessions/{sid}/replay", summary: "Replay strace / perf script / maps text", body: "Replay"),
        Route(method: "post", path: "/v1/compare", summary: "Run one workload under several kernel models", body: "Compare"),
    ]

    static func obj(_ m: [(String, JSONValue)]) -> JSONValue { .object(m) }
    static func props(_ names: [(String, String)]) -> JSONValue {
        obj(names.map { ($0.0, obj([("type", .string($0.1))])) })
    }

    static let schemas: JSONValue = obj([
        ("Error", obj([("type", .string("object")), ("properties", obj([("error", obj([("type", .string("object")),
            ("properties", props([("code", "string"), ("message", "string"), ("request_id", "string")]))]))]))])),
        ("SessionCreate", obj([("type", .string("object")), ("properties", obj([
            ("kernel", obj([("type", .string("string")), ("enum", .array(["6.3", "v3-patch", "6.4", "6.18"].map { .string($0) }))])),
            ("options", obj([("type", .string("object")), ("properties", props([("eager_anon_vma", "boolean"), ("skip_mergeable_for_file", "boolean")]))])),
            ("name", obj([("type", .string("string"))])),
        ]))])),
        ("FileCreate", obj([("type", .string("object")), ("required", .array([.string("path"), .string("size")])),
                            ("properties", props([("path", "string"), ("size", "integer"), ("mode", "string")]))])),
        ("ProcessCreate", obj([("type", .string("object")), ("properties", props([("comm", "string")]))])),
        ("SyscallArgs", obj([("type", .string("object")), ("description", .string("Arguments named as in the man page; addresses as 0x strings or integers; prot/flags/advice as strace names, arrays of names or numbers.")),
                             ("additionalProperties", .bool(true))])),
        ("Fault", obj([("type", .string("object")), ("required", .array([.string("address")])), ("properties", obj([
            ("address", obj([("type", .array([.string("string"), .string("integer")]))])),
            ("access", obj([("type", .string("string")), ("enum", .array([.string("read"), .string("write"), .string("exec")]))])),
            ("mode", obj([("type", .string("string")), ("enum", .array([.string("user"), .string("kernel")]))])),
            ("inject", obj([("type", .string("object")), ("properties", props([("mmap_lock_contended", "boolean"), ("vma_write_locked", "boolean"), ("page_cache_miss", "boolean")]))])),
        ]))])),
        ("Ops", obj([("type", .string("object")), ("required", .array([.string("ops")])), ("properties", obj([
            ("ops", obj([("type", .string("array")), ("items", obj([("type", .string("object")), ("required", .array([.string("op")]))]))])),
            ("detail", obj([("type", .string("string")), ("enum", .array([.string("full"), .string("summary")]))])),
        ]))])),
        ("Replay", obj([("type", .string("object")), ("required", .array([.string("format"), .string("text")])),
                        ("properties", props([("format", "string"), ("text", "string"), ("pid", "integer"), ("faults", "string")]))])),
        ("Compare", obj([("type", .string("object")), ("properties", obj([
            ("kernels", obj([("type", .string("array")), ("items", obj([("type", .string("string"))]))])),
            ("options", obj([("type", .string("array")), ("items", obj([("type", .string("string"))]))])),
            ("ops", obj([("type", .string("array")), ("items", obj([("type", .string("object"))]))])),
            ("strace", obj([("type", .string("string"))])),
        ]))])),
    ])

    static func parameters(_ path: String) -> JSONValue {
        var out: [JSONValue] = []
        for name in ["sid", "pid", "name"] where path.contains("{\(name)}") {
            out.append(obj([("name", .string(name)), ("in", .string("path")), ("required", .bool(true)),
                            ("schema", obj([("type", .string(name == "pid" ? "integer" : "string"))]))]))
        }
        return .array(out)
    }

    static func operation(_ r: Route) -> JSONValue {
        var content: JSONValue = obj([(r.contentType, obj([("schema", obj([("type", .string(r.contentType == "application/json" ? "object" : "string"))]))]))])
        if r.status == "204" { content = .null }
        var resp: [(String, JSONValue)] = [("description", .string(r.summary))]
        if content != .null { resp.append(("content", content)) }
        var m: [(String, JSONValue)] = [
            ("summary", .string(r.summary)),
            ("operationId", .string(r.method + r.path.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: ""))),
            ("parameters", parameters(r.path)),
            ("responses", obj([(r.status, obj(resp)),
                               ("4XX", obj([("description", .string("Request error")), ("content", obj([("application/json", obj([("schema", obj([("$ref", .string("#/components/schemas/Error"))]))]))]))]))])),
        ]
        if let b = r.body {
            m.append(("requestBody", obj([("required", .bool(true)), ("content", obj([("application/json", obj([("schema", obj([("$ref", .string("#/components/schemas/\(b)"))]))]))]))])))
        }
        return obj(m)
    }

    /// The encoded document.
    static let document: [UInt8] = {
        var paths: [(String, JSONValue)] = []
        for r in routes {
            if let i = paths.firstIndex(where: { $0.0 == r.path }), case let .object(ops) = paths[i].1 {
                paths[i].1 = .object(ops + [(r.method, operation(r))])
            } else {
                paths.append((r.path, obj([(r.method, operation(r))])))
            }
        }
        return JSONWriter.encode(obj([
            ("openapi", .string("3.1.0")),
            ("info", obj([("title", .string("mmsim")), ("version", .string("1")),
                          ("description", .string("Simulated Linux memory management: VMAs, anon_vmas, page faults and their lock paths under several kernel models."))])),
            ("servers", .array([obj([("url", .string("/"))])])),
            ("paths", .object(paths)),
            ("components", obj([("schemas", schemas)])),
        ]))
    }()
}
