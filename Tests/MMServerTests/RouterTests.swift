import XCTest
import MMCore
@testable import MMServer
@testable import MMHTTP

/// Every route of `RouteTable`, in-process (no sockets): its success
/// answer, 404 for a path nothing matches, 405 with `Allow` for a method
/// it does not take, and 400 naming an unknown body key.
final class RouterTests: XCTestCase {
    /// A valid request per route ("METHOD pattern"), with {sid}, {pid} and {name} filled in.
    static let bodies: [String: String] = [
        "POST /v1/sessions": #"{"kernel": "6.18", "options": {"eager_anon_vma": true}, "name": "t"}"#,
        "POST /v1/sessions/{sid}/files": #"{"path": "/f", "size": 8192}"#,
        "POST /v1/sessions/{sid}/processes": #"{"comm": "t"}"#,
        "POST /v1/sessions/{sid}/processes/{pid}/threads": "{}",
        "POST /v1/sessions/{sid}/processes/{pid}/syscalls/{name}":
            #"{"addr": "0x7f0000000000", "length": 8192, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}"#,
        "POST /v1/sessions/{sid}/processes/{pid}/faults": #"{"address": "0x7f0000000000", "access": "write"}"#,
        "POST /v1/sessions/{sid}/ops": #"{"ops": [{"op": "fault", "pid": 1, "address": "0x7f0000001000"}], "detail": "summary"}"#,
        "POST /v1/sessions/{sid}/explore":
            #"{"pid": 1, "threads": {"T1": [{"op": "fault", "address": "0x7f0000000000", "access": "write"}], "T2": [{"op": "munmap", "addr": "0x7f0000001000", "length": 4096}]}}"#,
        "POST /v1/sessions/{sid}/interleave":
            #"{"pid": 1, "threads": {"T1": [{"op": "fault", "address": "0x7f0000000000", "access": "write"}]}, "schedule": ["T1"]}"#,
        "POST /v1/sessions/{sid}/replay": #"{"format": "strace", "text": "", "faults": "none"}"#,
        "POST /v1/compare": #"{"kernels": ["6.4", "6.18"], "ops": [{"op": "process"}]}"#,
    ]

    var app: MMSimApp!
    var sid = ""

    override func setUp() {
        var config = ServerConfig()
        config.publicDir = "/nonexistent"
        config.limits.dataDir = ""  // in-process: nothing persisted in the checkout
        app = MMSimApp(config: config)
        let (r, _) = app.respond(HTTPRequest(method: .post, path: "/v1/sessions", body: Array(#"{"kernel":"6.18"}"#.utf8)))
        guard case let .bytes(b) = r.body, case let .string(id)? = try? JSONParser.parse(b)["id"] else { return XCTFail("no session") }
        sid = id
        _ = call(.post, "/v1/sessions/\(sid)/processes", "{}")
        _ = call(.post, "/v1/sessions/\(sid)/processes/1/syscalls/mmap", Self.bodies["POST /v1/sessions/{sid}/processes/{pid}/syscalls/{name}"]!)
    }

    func call(_ method: HTTPMethod, _ target: String, _ body: String? = nil) -> (HTTPResponse, String, String) {
        let (r, label) = app.respond(HTTPRequest(method: method, target: target, body: Array((body ?? "").utf8)))
        switch r.body {
        case let .bytes(b): return (r, label, String(decoding: b, as: UTF8.self))
        case let .pull(source):
            // A pulled body (the log): what the event loop would send, piece by piece.
            var b: [UInt8] = []
            pulling: while true {
                switch source.next(budget: 1 << 16, waker: HTTPWaker {}) {
                case let .data(d): b += d
                case .wait, .end: break pulling
                }
            }
            return (r, label, String(decoding: b, as: UTF8.self))
        case .stream: return (r, label, "")
        }
    }

    func path(_ pattern: String) -> String {
        pattern.replacingOccurrences(of: "{sid}", with: sid).replacingOccurrences(of: "{pid}", with: "1")
            .replacingOccurrences(of: "{name}", with: "mmap")
    }

    func testEveryRouteAnswersItsStatusAndIsLabelledByItsPattern() {
        for route in RouteTable.all where route.method != .delete && !route.pattern.hasSuffix("/events") {
            let key = "\(route.method) \(route.pattern)"
            let (r, label, text) = call(route.method, path(route.pattern), Self.bodies[key] ?? (route.method == .post ? "{}" : nil))
            XCTAssertEqual(r.status, route.status, "\(key): \(text)")
            XCTAssertEqual(label, route.pattern, key)
            XCTAssertTrue(r.headers["Content-Type"]?.hasPrefix(route.contentType.split(separator: ";")[0]) == true, key)
            if route.contentType.hasPrefix("application/json") { XCTAssertEqual(text.last, "\n", "\(key) ends with a newline") }
        }
        let (events, label, _) = call(.get, path(RouteTable.session + "/events"))
        XCTAssertEqual(label, RouteTable.session + "/events")
        XCTAssertEqual(events.headers["Content-Type"], "text/event-stream")
        let (deleted, _, _) = call(.delete, path(RouteTable.session))
        XCTAssertEqual(deleted.status, .noContent)
    }

    func testEveryPostRouteHasABodyInThisTest() {
        for route in RouteTable.all where route.request != nil || !route.alternatives.isEmpty {
            XCTAssertNotNil(Self.bodies["\(route.method) \(route.pattern)"], "no test body for \(route.method) \(route.pattern)")
        }
    }

    func testOtherMethodsGet405WithAllow() {
        for route in RouteTable.all {
            let taken = RouteTable.all.filter { $0.pattern == route.pattern }.map(\.method)
            for method: HTTPMethod in [.get, .post, .delete, .put] where !taken.contains(method) && !(method == .get && taken.contains(.head)) {
                let (r, _, text) = call(method, path(route.pattern), "{}")
                XCTAssertEqual(r.status.code, 405, "\(method) \(route.pattern): \(text)")
                XCTAssertTrue(text.contains(#""code":"method_not_allowed""#), text)
                let allow = r.headers["Allow"] ?? ""
                for m in taken { XCTAssertTrue(allow.contains(m.rawValue), "\(route.pattern): Allow \(allow) lacks \(m)") }
                if taken.contains(.get) { XCTAssertTrue(allow.contains("HEAD"), allow) }
            }
        }
        // A static path takes GET and HEAD only.
        let (r, _, _) = call(.post, "/index.html", "{}")
        XCTAssertEqual(r.status.code, 405)
        XCTAssertEqual(r.headers["Allow"], "GET, HEAD")
    }

    func testPathsNoRouteMatchesAre404() {
        for p in ["/v1", "/v1/nothing", "/v1/sessions/\(sid)/nothing", "/v1/sessions/\(sid)/processes/1/nothing",
                  "/v1/sessions/\(sid)/processes/1/syscalls/mmap/x", "/v1/kernels/x"] {
            let (r, label, text) = call(.get, p)
            XCTAssertEqual(r.status.code, 404, "\(p): \(text)")
            XCTAssertEqual(label, "error", p)
            XCTAssertTrue(text.contains(#""code":"not_found""#), text)
        }
        // A parameter that does not parse is a 400.
        XCTAssertEqual(call(.get, "/v1/sessions/\(sid)/processes/x/vmas").0.status.code, 400)
    }

    func testUnknownBodyKeysAre400NamingThem() {
        for route in RouteTable.all {
            let key = "\(route.method) \(route.pattern)"
            guard let body = Self.bodies[key] else { continue }
            let bad = body == "{}" ? #"{"bogus_key": 1}"# : "{\"bogus_key\": 1, " + body.dropFirst()
            let (r, _, text) = call(route.method, path(route.pattern), bad)
            XCTAssertEqual(r.status.code, 400, "\(key): \(text)")
            XCTAssertTrue(text.contains("bogus_key"), "\(key): \(text)")
        }
        // Nested objects and batch entries are checked too, and the state is unchanged.
        let before = call(.get, path(RouteTable.session)).2
        for (target, body, name) in [
            ("/v1/sessions", #"{"options": {"eager": true}}"#, "options.eager"),
            (path(RouteTable.process + "/faults"), #"{"address": "0x7f0000000000", "inject": {"contended": true}}"#, "inject.contended"),
            (path(RouteTable.process + "/faults"), #"{"address": "0x7f0000000000", "pid": 1}"#, "'pid'"),
            (path(RouteTable.session + "/ops"), #"{"ops": [{"op": "fault", "pid": 1, "address": "0x7f0000000000", "adress": 1}]}"#, "ops[0].adress"),
            (path(RouteTable.session + "/ops"), #"{"ops": [{"op": "touch", "pid": 1, "address": "0x7f0000000000", "mode": "user"}]}"#, "ops[0].mode"),
        ] {
            let (r, _, text) = call(.post, target, body)
            XCTAssertEqual(r.status.code, 400, "\(target) \(body): \(text)")
            XCTAssertTrue(text.contains(name), "\(body): \(text)")
        }
        XCTAssertEqual(call(.get, path(RouteTable.session)).2, before)
    }

    func testLogEntriesReplayAsTheyAre() {
        _ = call(.post, path(RouteTable.process + "/faults"), #"{"address": "0x7f0000000000", "access": "write"}"#)
        let log = call(.get, path(RouteTable.session + "/log")).2
        guard case let .array(ops)? = try? JSONParser.parse(Array(log.utf8))["ops"] else { return XCTFail(log) }
        XCTAssertFalse(ops.isEmpty)
        let body = JSONWriter.encode(.object([("ops", .array(ops))]))
        let (r, _, text) = call(.post, path(RouteTable.session + "/ops"), String(decoding: body, as: UTF8.self))
        XCTAssertEqual(r.status.code, 200, text)
    }

    func testPrettyAndNewline() {
        let (compact, _, c) = call(.get, "/v1/kernels")
        XCTAssertEqual(compact.status.code, 200)
        XCTAssertFalse(c.dropLast().contains("\n"), "compact is one line")
        XCTAssertEqual(c.last, "\n")
        let (_, _, p) = call(.get, "/v1/kernels?pretty")
        XCTAssertTrue(p.hasPrefix("{\n  \"kernels\": ["), p)
        XCTAssertEqual(p.last, "\n")
        XCTAssertEqual(try? JSONParser.parse(Array(p.utf8)), try? JSONParser.parse(Array(c.utf8)), "the same document")
        let (r, _) = app.respond(HTTPRequest(method: .get, path: "/v1/kernels",
                                             headers: HTTPHeaders([("Accept", "application/json; indent")])))
        guard case let .bytes(b) = r.body else { return XCTFail() }
        XCTAssertEqual(String(decoding: b, as: UTF8.self), p)
        // Errors too.
        let (_, _, e) = call(.get, "/v1/nothing?pretty=1")
        XCTAssertTrue(e.hasPrefix("{\n  \"error\": {\n"), e)
        XCTAssertEqual(call(.get, "/v1/kernels?pretty=0").2, c)
    }

    func testKernelsListModelsOptionsAndInjectionsFromMMCore() {
        let text = call(.get, "/v1/kernels").2
        guard let v = try? JSONParser.parse(Array(text.utf8)) else { return XCTFail(text) }
        guard case let .array(kernels)? = v["kernels"], case let .array(options)? = v["options"],
              case let .array(injections)? = v["injections"] else { return XCTFail(text) }
        XCTAssertEqual(kernels.compactMap { $0["id"] }, KernelModel.all.map { .string($0.id) })
        XCTAssertEqual(kernels.compactMap { $0["spec"] }, KernelModel.all.map { .string($0.spec) })
        XCTAssertEqual(v["default"], .string(KernelModel.default.id))
        XCTAssertEqual(options.compactMap { $0["name"] }, [.string("eager_anon_vma"), .string("skip_mergeable_for_file")])
        XCTAssertEqual(injections.compactMap { $0["name"] }.prefix(3),
                       [.string("mmap_lock_contended"), .string("vma_write_locked"), .string("page_cache_miss")])
        for item in options + injections + kernels {
            guard case let .string(s)? = item["summary"] else { return XCTFail("no summary in \(item)") }
            XCTAssertFalse(s.isEmpty)
        }
        // Each injection named there is accepted by a fault and changes what it reports.
        for inj in FaultInjection.switches {
            let (r, _, t) = call(.post, path(RouteTable.process + "/faults"), #"{"address": "0x7f0000001000", "inject": {"\#(inj.name)": true}}"#)
            XCTAssertEqual(r.status.code, 200, "\(inj.name): \(t)")
        }
    }
}
