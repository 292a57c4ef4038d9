import Foundation
import MMCore
import MMServer
import MMHTTP

// In-process benchmarks of the API (`MMSimApp.respond`, no sockets): the
// application work behind the two HTTP load targets of bench_http.sh.

/// An app with one session holding process 1; returns the app and the session id.
func appWithSession() -> (MMSimApp, String) {
    var config = ServerConfig()
    config.publicDir = "/nonexistent"
    let app = MMSimApp(config: config)
    let (created, _) = app.respond(HTTPRequest(method: .post, path: "/v1/sessions", body: Array(#"{"kernel":"6.18"}"#.utf8)))
    guard case let .bytes(b) = created.body, case let .string(sid)? = try? JSONParser.parse(b)["id"] else {
        fatalError("bench: could not create a session")
    }
    _ = appPost(app, "/v1/sessions/\(sid)/processes", #"{"comm":"bench"}"#)
    return (app, sid)
}

/// POSTs `body` to `path` and returns the response body, checking for a 2xx status.
@discardableResult
func appPost(_ app: MMSimApp, _ path: String, _ body: String) -> [UInt8] {
    let (resp, _) = app.respond(HTTPRequest(method: .post, path: path, body: Array(body.utf8)))
    guard (200..<300).contains(resp.status.code), case let .bytes(b) = resp.body else {
        fatalError("bench: POST \(path) answered \(resp.status)")
    }
    return b
}

/// The ops batch of bench_http.sh ("3. ops batch"): per 5 ops mmap MAP_FIXED
/// 16 KiB, fault write, fault write, fault read, munmap.
func batchBody(_ n: Int) -> [UInt8] {
    var ops: [String] = []
    var g: UInt64 = 0
    while ops.count < n {
        let x: UInt64 = 0x7E00_0000_0000 + (g % 64) * 0x10000
        g += 1
        func h(_ v: UInt64) -> String { "\"0x\(String(v, radix: 16))\"" }
        ops += [#"{"op": "mmap", "pid": 1, "addr": \#(h(x)), "length": 16384, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}"#,
                #"{"op": "fault", "pid": 1, "address": \#(h(x)), "access": "write"}"#,
                #"{"op": "fault", "pid": 1, "address": \#(h(x + 4096)), "access": "write"}"#,
                #"{"op": "fault", "pid": 1, "address": \#(h(x + 8192)), "access": "read"}"#,
                #"{"op": "munmap", "pid": 1, "addr": \#(h(x)), "length": 16384}"#]
    }
    return Array(#"{"detail": "summary", "ops": [\#(ops.prefix(n).joined(separator: ", "))]}"#.utf8)
}

/// Runs the API benchmarks; `only` ("fault", "fault-new", "fault-core" or "batch") picks one (for perf).
func appBenchmarks(only: String? = nil) {
    // (a) POST …/faults on a present page.
    if only == nil || only == "fault" {
        let (app, sid) = appWithSession()
        appPost(app, "/v1/sessions/\(sid)/processes/1/syscalls/mmap",
                #"{"addr":"0x7f0000000000","length":4096,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}"#)
        appPost(app, "/v1/sessions/\(sid)/processes/1/faults", #"{"address":"0x7f0000000000","access":"write"}"#)
        let req = HTTPRequest(method: .post, path: "/v1/sessions/\(sid)/processes/1/faults",
                              headers: HTTPHeaders([("Host", "localhost"), ("Content-Type", "application/json")]),
                              body: Array(#"{"address":"0x7f0000000000","access":"read"}"#.utf8))
        let first = app.respond(req).0
        guard case let .bytes(b) = first.body, String(decoding: b, as: UTF8.self).contains(#""fault":false"#) else {
            fatalError("bench: the present-page fault did not answer \"fault\": false")
        }
        let ns = measure(200_000) { _ in _ = app.handle(req) }
        record("API: POST …/faults, page present (in-process handle)", String(format: "%.0f ns/request", ns), "≤ 5 µs")
    }
    // (a2) POST …/faults, each to a new page of a huge MAP_NORESERVE VMA:
    // every request takes a real do_anonymous_page() fault (as
    // scripts/wrk/fault_alternate.lua). One pass of 250,000 requests, so the
    // growth of folios, page tables, the session log and the SSE ring counts.
    if only == nil || only == "fault-new" {
        let (app, sid) = appWithSession()
        let start: UInt64 = 0x1000_0000_0000
        appPost(app, "/v1/sessions/\(sid)/processes/1/syscalls/mmap",
                #"{"addr":"0x100000000000","length":68719476736,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED|MAP_NORESERVE"}"#)
        let n = 250_000
        // Bodies built up front: the address as a JSON integer, a new page each time.
        let headers = HTTPHeaders([("Host", "localhost"), ("Content-Type", "application/json")])
        let path = "/v1/sessions/\(sid)/processes/1/faults"
        let requests = (0..<n).map { i in
            HTTPRequest(method: .post, path: path, headers: headers,
                        body: Array(#"{"address":\#(start + UInt64(i) * 4096),"access":"write"}"#.utf8))
        }
        let first = app.respond(requests[0]).0
        guard case let .bytes(b) = first.body, String(decoding: b, as: UTF8.self).contains(#""handler":"do_anonymous_page""#) else {
            fatalError("bench: the new-page fault did not run do_anonymous_page")
        }
        let ns = measure(n - 1, rounds: 1) { i in _ = app.handle(requests[i + 1]) }
        record("API: POST …/faults, new page each time (in-process handle)", String(format: "%.0f ns/request", ns), "≤ 5 µs")
    }
    // (a3) The core of (a2): Simulation.fault on a new page each time, with
    // tracing on (the full result, kept in a 10,000-slot ring as the
    // session's SSE history keeps it) and off.
    if only == nil || only == "fault-core" {
        let n = 250_000
        for tracing in [true, false] {
            let sim = Simulation(model: .v6_18, config: SimulationConfig(tracing: tracing))
            let p = sim.createProcess()
            let start: UInt64 = 0x1000_0000_0000
            _ = try! sim.syscall(pid: p.pid, .mmap(addr: start, length: 1 << 36, prot: Linux.PROT_READ | Linux.PROT_WRITE,
                                                   flags: Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED | Linux.MAP_NORESERVE,
                                                   fd: -1, offset: 0))
            var ring: [FaultResult] = []
            ring.reserveCapacity(10_000)
            let ns = measure(n, rounds: 1) { i in
                let r = try! sim.fault(pid: p.pid, address: start + UInt64(i) * 4096, access: .write)
                if ring.count < 10_000 { ring.append(r) } else { ring[i % 10_000] = r }
            }
            record("Simulation.fault, new page each time, tracing \(tracing ? "on" : "off")", String(format: "%.0f ns", ns),
                   tracing ? "— (shows the trace's cost)" : "≤ 300 ns")
        }
    }
    // (b) POST …/ops with 10,000 summary ops; every round appends to the session log.
    if only == nil || only == "batch" {
        let (app, sid) = appWithSession()
        let n = 10_000
        let req = HTTPRequest(method: .post, path: "/v1/sessions/\(sid)/ops",
                              headers: HTTPHeaders([("Host", "localhost"), ("Content-Type", "application/json")]),
                              body: batchBody(n))
        let check = app.respond(req).0
        guard check.status.code == 200, case let .bytes(b) = check.body,
              !String(decoding: b, as: UTF8.self).contains(#""error""#) else {
            fatalError("bench: the ops batch failed")
        }
        let ns = measure(10, rounds: 5) { _ in _ = app.handle(req) } / Double(n)
        record("API: POST …/ops, 10,000 summary ops (in-process handle)", String(format: "%.0f ns/op", ns), "≤ 1 µs")
    }
}
