import MMCore
import MMHTTP

/// Every endpoint of the API, once (docs/API.md). Adding an endpoint is
/// adding an entry here: the router, 404/405, metrics, the access log and
/// /openapi.json follow.
enum RouteTable {
    static let sessions = "/v1/sessions"
    static let session = "/v1/sessions/{sid}"
    static let process = "/v1/sessions/{sid}/processes/{pid}"

    static let all: [Route] = [
        Route(.get, "/healthz", "Liveness, the version and the number of live sessions", answer: #"{"status": "ok", "version", "sessions": N}"#) { (app, _) throws(APIError) in
            app.json(.object([("status", .string("ok")), ("version", .string(MMServerInfo.version)), ("sessions", .num(app.store.count))]))
        },
        Route(.get, "/metrics", "Prometheus metrics: requests by route and status, latency, sessions, faults by lock",
              contentType: "text/plain; version=0.0.4; charset=utf-8", answer: "Prometheus text exposition") { (app, r) throws(APIError) in
            app.metricsText(r)
        },
        Route(.get, "/openapi.json", "This API as an OpenAPI 3.1 document", answer: "the OpenAPI document") { (app, r) throws(APIError) in
            app.encoded(OpenAPI.document, r)
        },
        Route(.get, "/v1/kernels", "Kernel models, their options and the fault injections, with descriptions",
              answer: #"{"kernels": [{id, title, summary, spec}], "default", "options": [{name, summary}], "injections": [{name, summary}]}"#) { (app, r) throws(APIError) in
            app.json(Models.kernels(default: app.store.defaultKernel), r)
        },
        Route(.post, sessions, "Create a session", request: Schemas.sessionCreate, status: .created,
              answer: "the session summary with its processes") { (app, r) throws(APIError) in
            try app.createSession(r)
        },
        Route(.get, sessions, "The sessions among the ids presented (all with the admin token)", query: Schemas.sessionsQuery,
              answer: #"{"sessions": [summary]}"#) { (app, r) throws(APIError) in
            try app.listSessions(r)
        },
        Route(.get, session, "A session with its processes", answer: "the session summary with its processes") { (app, r) throws(APIError) in
            let s = try app.store.get(r.sid)
            return app.json(s.lock.withLock { s.summary(withProcesses: true) }, r)
        },
        Route(.delete, session, "Delete a session (its event streams end)", status: .noContent, answer: "no body") { (app, r) throws(APIError) in
            try app.store.delete(r.sid)
            return HTTPResponse(status: .noContent)
        },
        Route(.get, session + "/stats", "Fault, anon_vma and VMA counters", answer: #"{"faults", "anon_vma", "vmas"}"#) { (app, r) throws(APIError) in
            let s = try app.store.get(r.sid)
            return app.json(s.lock.withLock { DTO.stats(s.sim.statsSnapshot()) }, r)
        },
        Route(.get, session + "/anon_vmas", "The anon_vma forest", answer: #"{"anon_vmas": [anon_vma]}"#) { (app, r) throws(APIError) in
            let s = try app.store.get(r.sid)
            return app.json(s.lock.withLock { Inspection.forest(s.sim) }, r)
        },
        Route(.get, session + "/log", "Every operation applied, replayable with POST …/ops (streamed; paged with limit and cursor)",
              query: Schemas.logQuery, answer: #"{"ops": [op with "seq"][, "next_cursor"]}"#) { (app, r) throws(APIError) in
            try app.log(r)
        },
        Route(.get, session + "/events", "Operations as Server-Sent Events: the log so far, then live (Last-Event-ID resumes)",
              contentType: "text/event-stream", answer: #"events "op" with data {"seq", "op", "result"}"#) { (app, r) throws(APIError) in
            app.events(r.http, try app.store.get(r.sid))
        },
        Route(.post, session + "/files", "Create a file (inode)", request: Schemas.file, status: .created,
              answer: #"{"path", "size", "mode", "ino"}"#) { (app, r) throws(APIError) in
            try app.apply(r, .file, status: .created)
        },
        Route(.get, session + "/files", "The session's files", answer: #"{"files": [{path, size, mode, ino, cached_pages}]}"#) { (app, r) throws(APIError) in
            let s = try app.store.get(r.sid)
            return app.json(s.lock.withLock { Inspection.files(s.sim) }, r)
        },
        Route(.post, session + "/processes", "Create a process", request: Schemas.process, status: .created,
              answer: "the process") { (app, r) throws(APIError) in
            try app.apply(r, .process, status: .created)
        },
        Route(.get, session + "/processes", "The session's processes", answer: #"{"processes": [process]}"#) { (app, r) throws(APIError) in
            let s = try app.store.get(r.sid)
            return app.json(s.lock.withLock { .object([("processes", .array(s.sim.processList.map(DTO.process)))]) }, r)
        },
        Route(.get, process, "A process with its VMAs", answer: #"the process with "vmas": [vma]"#) { (app, r) throws(APIError) in
            try app.processJSON(r, withFields: true)
        },
        Route(.post, process + "/threads", "Create a thread sharing the process's mm (clone(CLONE_VM|CLONE_THREAD))",
              request: Schemas.thread, status: .created, answer: #"{"pid", "tid"}"#) { (app, r) throws(APIError) in
            try app.apply(r, .thread, status: .created)
        },
        Route(.get, process + "/vmas", "VMAs in address order", answer: #"{"vmas": [vma]}"#) { (app, r) throws(APIError) in
            try app.processJSON(r, withFields: false)
        },
        Route(.get, process + "/maps", "/proc/PID/maps", contentType: "text/plain; charset=utf-8", answer: "maps text") { (app, r) throws(APIError) in
            .text(.ok, try app.procText(r, ProcMaps.maps))
        },
        Route(.get, process + "/smaps", "/proc/PID/smaps", contentType: "text/plain; charset=utf-8", answer: "smaps text",
              slow: true) { (app, r) throws(APIError) in
            .text(.ok, try app.procText(r, ProcMaps.smaps))
        },
        Route(.get, process + "/pages", "Pages with a page-table entry in [start, end)", query: Schemas.pagesQuery,
              answer: #"{"pages": [{address, pte, folio}]}"#, slow: true) { (app, r) throws(APIError) in
            try app.pages(r)
        },
        Route(.post, process + "/syscalls/{name}",
              "Run a syscall: " + OpName.syscalls.map(\.canonical).joined(separator: ", "),
              alternatives: OpName.syscalls.map(Schemas.syscall),
              answer: #"{"syscall", "return", "errno", "strace", "effects", "trace"[, "faults_total", "faults"]}"#) { (app, r) throws(APIError) in
            try app.syscall(r)
        },
        Route(.post, process + "/faults", "Touch an address: simulate a page fault and report its lock path",
              request: Schemas.fault, answer: #"{"fault", "address", "access", "mode", "outcome", "si_code", "lock", "handler", "anon_vma", "pte", "folio", "vma", "trace"}"#,
              slow: false) { (app, r) throws(APIError) in
            try app.fault(r)
        },
        Route(.post, session + "/ops", "Apply a batch of operations in order", request: Schemas.batch,
              answer: #"{"results": [result or {"error"}]}"#) { (app, r) throws(APIError) in
            try app.batch(r)
        },
        Route(.post, session + "/explore", "Explore every interleaving of threads sharing a process's mm: hazards, outcomes, deadlocks",
              request: Schemas.explore,
              answer: #"{"kernel", "schedules_explored", "bounded", "bounded_by", "outcomes", "hazards", "deadlocks", "lock_wait_graph", "fault_paths"}"#) { (app, r) throws(APIError) in
            try app.explore(r)
        },
        Route(.post, session + "/interleave", "Run one schedule of threads step by step (optionally commit its end state)",
              request: Schemas.interleave,
              answer: #"{"kernel", "steps": [{index, thread, fn, note, reads, writes, locks, detectors, vmas, anon_vmas}], "finished", "hazards", "deadlock", "fault_codes", "blocked", "linearization", "committed"}"#) { (app, r) throws(APIError) in
            try app.interleave(r)
        },
        Route(.post, session + "/replay", "Replay strace, perf script or /proc/PID/maps text (JSON), or a raw trace of any size streamed as a text/plain body with the options in the query",
              request: Schemas.replay, query: Schemas.replayQuery,
              answer: #"{"applied", "skipped", "processes", "agreement", "disagreements", "lines"} (maps: {"pid", "lines"})"#,
              streamedBody: ReplayUpload.route) { (app, r) throws(APIError) in
            try app.apply(r, .replay, status: .ok)
        },
        Route(.post, "/v1/compare", "Run one workload under several kernel models side by side", request: Schemas.compare,
              answer: #"{"columns", "stats", "table", "text", "faults", "differences"}"#) { (app, r) throws(APIError) in
            app.json(try Compare.run(try app.body(r.http), limits: app.config.limits), r)
        },
    ]
}
