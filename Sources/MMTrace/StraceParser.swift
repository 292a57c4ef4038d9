import MMCore
/// Parses `strace` text output into `TraceEvent`s, one line at a time.
///
/// Understands `strace -f` output with `[pid N]` prefixes (output on
/// stderr) or bare `N  ` prefixes (`-o file`), prefix-less lines (`-ff`
/// files: pass the file's pid as `defaultPid`), `-t`/`-tt`/`-ttt` time
/// stamps, `-T` durations, `-i`/`-n` bracketed prefixes, `-y` fd paths,
/// `-X verbose` comments, `<unfinished ...>`/`<... resumed>` pairs (joined
/// per pid), `strace: Process N attached` interrupting a call, signals and
/// `+++ exited/killed/superseded +++` lines.
///
/// Every non-blank line yields at least one event; lines that mmsim does not
/// model yield `.skipped` with a reason. The parser keeps per-pid state, so
/// feed it the lines of one trace in order, then call `finish(into:)`.
public struct StraceParser: TraceLineParser, Sendable {
    /// The pid given to lines without a pid prefix (nil if unknown).
    public var defaultPid: Int?

    private struct Pending: Sendable {
        var call: StraceCall
        var nameHash: UInt64
        var name: String
        var head: [UInt8]
        var line: Int
        var pid: Int?
        var time: Double?
    }

    /// Per-line context for building events.
    private struct Context {
        let b: Bytes
        let fullEnd: Int
        let number: Int
        let pid: Int?
        let time: Double?
        let duration: Double?
        var key: Int { pid ?? -1 }
        var text: String { Scan.string(b, 0..<fullEnd) }
        func event(_ kind: TraceEvent.Kind) -> TraceEvent {
            TraceEvent(line: number, pid: pid, time: time, duration: duration, kind: kind)
        }
        func skip(_ reason: String) -> TraceEvent { event(.skipped(reason: reason, text: text)) }
    }

    private var pending: [Int: Pending] = [:]
    private var threads: Set<Int> = []
    private var exitReported: Set<Int> = []
    private var seenPids: Set<Int> = []
    private var reportedChildren: Set<Int> = []
    private var continuation: [UInt8]?
    /// Pids seen and not yet exited (for lines without a pid prefix).
    private var live: Set<Int> = []
    /// The pid of the process whose first lines had no prefix, once known.
    private var rootPid: Int?
    /// The pid of the previous prefixed line (skips the `seenPids` lookup).
    private var lastPid: Int?
    private var reasons = HashMap<String>()

    /// Creates a parser; `defaultPid` is used for lines without a pid prefix.
    public init(defaultPid: Int? = nil) {
        self.defaultPid = defaultPid
    }

    /// Parses a whole trace (lines separated by `\n`), including `finish`.
    public static func parse(_ text: String, defaultPid: Int? = nil) -> [TraceEvent] {
        var parser = StraceParser(defaultPid: defaultPid)
        return parser.parseAll(text, bytesPerEvent: 80)
    }

    /// Parses one line given as UTF-8 bytes (without the newline), appending
    /// its events. `number` is the 1-based line number reported in events.
    public mutating func parse(line raw: UnsafeBufferPointer<UInt8>, number: Int,
                               into events: inout [TraceEvent]) {
        var end = raw.count
        while end > 0, Scan.isSpace(raw[end - 1]) || raw[end - 1] == Ch.cr { end -= 1 }
        if let head = continuation {
            continuation = nil
            if end > 0, !Scan.has(raw, 0, end, "[pid") {
                let joined = head + raw[0..<end]
                joined.withUnsafeBufferPointer { parseLine($0, $0.count, number, &events) }
                return
            }
        }
        var first = 0
        while first < end, Scan.isSpace(raw[first]) { first += 1 }
        if first == end { return }
        parseLine(raw, end, number, &events)
    }

    /// Reports calls left `<unfinished ...>` at the end of the trace: memory
    /// syscalls as `.syscall(..., result: .unknown)` on their start line,
    /// others as `.skipped`.
    public mutating func finish(into events: inout [TraceEvent]) {
        for key in pending.keys.sorted(by: { pending[$0]!.line < pending[$1]!.line }) {
            flushPending(key, reason: "unfinished and never resumed", into: &events)
        }
        continuation = nil
    }

    // MARK: - Line structure

    private mutating func parseLine(_ b: Bytes, _ fullEnd: Int, _ number: Int, _ events: inout [TraceEvent]) {
        var end = fullEnd
        // strace (without -o) prints "strace: Process N attached" in the
        // middle of a call that is then continued on the next line.
        if b[end - 1] == 0x64, let m = Scan.find(b, 1, end, "strace: Process "), m > 0 {
            continuation = Array(b[0..<m])
            let ctx = Context(b: b, fullEnd: fullEnd, number: number, pid: nil, time: nil, duration: nil)
            events.append(ctx.skip("strace message inside a call; the call continues on the next line"))
            return
        }
        let h = StraceLineHeader(b, end)
        let (prefixed, time, duration, i) = (h.pid, h.time, h.duration, h.body)
        end = h.end
        // strace without -o omits the prefix while it traces one process.
        let pid = prefixed ?? defaultPid ?? (live.count == 1 ? live.first : rootPid)
        let ctx = Context(b: b, fullEnd: fullEnd, number: number, pid: pid, time: time, duration: duration)
        if prefixed != nil { noteNewPid(ctx, i, end, &events) } else if pid == nil { seenPids.insert(-1) }
        guard i < end else { events.append(ctx.skip("no call on the line")); return }
        let c = b[i]
        if c == Ch.minus, Scan.has(b, i, end, "--- ") {
            var j = i + 4
            while j < end, Scan.isIdent(b[j]) { j += 1 }
            events.append(ctx.skip("signal " + Scan.string(b, (i + 4)..<j)))
        } else if c == Ch.plus, Scan.has(b, i, end, "+++ ") {
            plusLine(ctx, i + 4, end, &events)
        } else if c == Ch.lt, Scan.has(b, i, end, "<... ") {
            resumed(ctx, i + 5, end, &events)
        } else if Scan.has(b, i, end, "strace:") {
            events.append(ctx.skip("strace message"))
        } else if Scan.isIdent(c) {
            var j = i
            while j < end, Scan.isIdent(b[j]) { j += 1 }
            if j < end, b[j] == Ch.lparen {
                call(ctx, i..<j, end, &events)
            } else {
                events.append(ctx.skip("unrecognised line"))
            }
        } else if c == Ch.gt {
            events.append(ctx.skip("stack trace line (strace -k)"))
        } else {
            events.append(ctx.skip("unrecognised line"))
        }
    }

    /// Handles the first line of a pid. If exactly one fork-like call is
    /// unfinished, the pid is that call's child (vfork children run before
    /// the parent's call returns): the fork is reported before the child's
    /// line. Otherwise, if earlier lines had no pid (strace without -o and a
    /// single process), the pid is theirs: reported as `.thread(childPid:)`
    /// of the pid-less process so that replayers map it to that process.
    private mutating func noteNewPid(_ ctx: Context, _ body: Int, _ end: Int, _ events: inout [TraceEvent]) {
        guard let child = ctx.pid, child != lastPid else { return }
        lastPid = child
        guard seenPids.insert(child).inserted else { return }
        live.insert(child)
        guard seenPids.count > 1 else { return }
        var parent: Pending?
        var parentKey = 0
        for (k, p) in pending {
            switch p.call {
            case .clone, .clone3, .fork, .vfork:
                if parent != nil { return }
                parent = p
                parentKey = k
            default: break
            }
        }
        if rootPid == nil, seenPids.contains(-1) {
            // "[pid R] <... clone resumed>" is the parent itself, not the child.
            let resumesParent = parent.map { p in
                parentKey == -1 && Scan.has(ctx.b, body, end, "<... ")
                    && UnsafeBufferPointer(rebasing: ctx.b[(body + 5)..<end]).starts(with: p.name.utf8)
            } ?? false
            if parent == nil || resumesParent {
                rootPid = child
                if let p = pending.removeValue(forKey: -1) { pending[child] = p }
                if exitReported.remove(-1) != nil { exitReported.insert(child) }
                events.append(TraceEvent(line: ctx.number, pid: nil, time: ctx.time, kind: .thread(childPid: child)))
                return
            }
        }
        guard let parent else { return }
        var flags: UInt64 = 0
        parent.head.withUnsafeBufferPointer { h in
            var a = ArgCursor(h, 0, h.count)
            if case .clone(let f) = StraceDecode.decode(parent.call, &a) { flags = f }
        }
        reportedChildren.insert(child)
        events.append(TraceEvent(line: ctx.number, pid: parent.pid, time: ctx.time,
                                 kind: forkKind(child: child, flags: flags)))
    }

    private mutating func forkKind(child: Int, flags: UInt64) -> TraceEvent.Kind {
        seenPids.insert(child)
        live.insert(child)
        if TraceTables.sharesAddressSpace(flags) {
            threads.insert(child)
            return .thread(childPid: child)
        }
        return .fork(childPid: child)
    }

    /// "+++ exited with N +++", "+++ killed by SIGx [(core dumped)] +++",
    /// "+++ superseded by execve in pid N +++".
    private mutating func plusLine(_ ctx: Context, _ i: Int, _ end: Int, _ events: inout [TraceEvent]) {
        let b = ctx.b
        var status: Int
        if Scan.has(b, i, end, "exited with ") {
            var j = i + 12
            status = Scan.parseInt(b, &j, end).map { Int($0) } ?? -1
        } else if Scan.has(b, i, end, "killed by ") {
            var j = i + 10
            let s = j
            while j < end, Scan.isIdent(b[j]) { j += 1 }
            status = TraceTables.signalNumbers.value(b, s..<j).map { 128 + Int($0) } ?? -1
        } else if Scan.has(b, i, end, "superseded by execve in pid ") {
            var j = i + 28
            if let other = Scan.parseUInt(b, &j, end).map({ Int($0) }) {
                if let p = pending.removeValue(forKey: other) { pending[ctx.key] = p }
                threads.remove(other)
            }
            events.append(ctx.skip("thread replaced by the execve of another thread"))
            return
        } else {
            events.append(ctx.skip("unrecognised +++ line"))
            return
        }
        let pendingCall = pending[ctx.key]?.call
        if let p = ctx.pid { live.remove(p) }
        flushPending(ctx.key, reason: "interrupted by the task's exit", into: &events)
        let wasThread = threads.remove(ctx.key) != nil
        if exitReported.remove(ctx.key) != nil {
            events.append(ctx.skip("exit already reported by the exit/exit_group call"))
        } else {
            // An unfinished exit(2) ends only the task; exit_group the process.
            let taskOnly = pendingCall == .exit || (wasThread && pendingCall != .exitGroup)
            events.append(ctx.event(taskOnly ? .threadExit(status: status) : .exit(status: status)))
        }
    }

    // MARK: - Calls

    private mutating func reason(_ prefix: String, _ b: Bytes, _ name: Range<Int>, _ salt: UInt64) -> String {
        let key = Scan.hash(b, name) &+ salt
        if let r = reasons[key] { return r }
        let r = prefix + Scan.string(b, name)
        reasons[key] = r
        return r
    }

    private mutating func untracked(_ call: StraceCall?, _ b: Bytes, _ name: Range<Int>) -> String {
        switch call {
        case .unmodelled: reason("memory syscall not modelled: ", b, name, 1)
        case .dup: reason("fd duplication not modelled: ", b, name, 2)
        default: reason("not a memory syscall: ", b, name, 0)
        }
    }

    private mutating func call(_ ctx: Context, _ name: Range<Int>, _ end: Int, _ events: inout [TraceEvent]) {
        let b = ctx.b
        let nameHash = Scan.hash(b, name)
        guard let call = StraceCall.byName[nameHash], call.isTracked else {
            events.append(ctx.skip(untracked(StraceCall.byName[nameHash], b, name)))
            return
        }
        let argsStart = name.upperBound + 1
        if let (headEnd, newPid) = unfinished(b, argsStart, end) {
            let key = newPid ?? ctx.key
            flushPending(key, reason: "superseded by a new call of the same task", into: &events)
            pending[key] = Pending(call: call, nameHash: nameHash, name: Scan.string(b, name),
                                   head: Array(b[argsStart..<headEnd]), line: ctx.number,
                                   pid: ctx.pid, time: ctx.time)
            events.append(ctx.skip(reason("unfinished, reported when resumed: ", b, name, 3)))
            return
        }
        complete(call, b, argsStart, end, ctx, &events)
    }

    /// If the call ends with `<unfinished ...>` or `<pid changed to N ...>`:
    /// where its arguments end, and the pid it resumes in if it changes.
    private func unfinished(_ b: Bytes, _ start: Int, _ end: Int) -> (Int, Int?)? {
        guard end > start, b[end - 1] == Ch.gt else { return nil }
        var k: Int
        var newPid: Int?
        if end - 16 >= start, Scan.has(b, end - 16, end, "<unfinished ...>") {
            k = end - 16
        } else if let p = Scan.find(b, start, end, "<pid changed to "), Scan.has(b, end - 5, end, " ...>") {
            var j = p + 16
            newPid = Scan.parseUInt(b, &j, end).map { Int($0) }
            k = p
        } else {
            return nil
        }
        if k > start, b[k - 1] == Ch.space { k -= 1 }
        return (k, newPid)
    }

    private mutating func resumed(_ ctx: Context, _ i: Int, _ end: Int, _ events: inout [TraceEvent]) {
        let b = ctx.b
        var j = i
        while j < end, Scan.isIdent(b[j]) { j += 1 }
        let name = i..<j
        guard Scan.has(b, j, end, " resumed>") else { events.append(ctx.skip("unrecognised line")); return }
        let rest = j + 9
        let nameHash = Scan.hash(b, name)
        guard let call = StraceCall.byName[nameHash], call.isTracked else {
            events.append(ctx.skip(untracked(StraceCall.byName[nameHash], b, name)))
            return
        }
        guard let p = pending[ctx.key], p.nameHash == nameHash else {
            events.append(ctx.skip(reason("resumed without its unfinished start: ", b, name, 4)))
            return
        }
        pending[ctx.key] = nil
        var joined = p.head
        joined.append(contentsOf: b[rest..<end])
        if let (headEnd, _) = unfinished(b, rest, end) {  // "<... x resumed> <unfinished ...>"
            joined.removeLast(end - headEnd)
            var again = p
            again.head = joined
            pending[ctx.key] = again
            events.append(ctx.skip(reason("unfinished, reported when resumed: ", b, name, 3)))
            return
        }
        joined.withUnsafeBufferPointer { complete(call, $0, 0, $0.count, ctx, &events) }
    }

    /// Decodes a complete call (arguments in `a[start..<end]` after the
    /// opening parenthesis, then `) = result`).
    private mutating func complete(_ call: StraceCall, _ a: Bytes, _ start: Int, _ end: Int,
                                   _ ctx: Context, _ events: inout [TraceEvent]) {
        var cursor = ArgCursor(a, start, end)
        let decoded = StraceDecode.decode(call, &cursor)
        guard let close = cursor.close() else {
            events.append(ctx.skip("truncated line: no closing parenthesis"))
            return
        }
        let result = StraceDecode.result(a, close, end)
        if let e = event(decoded, result, ctx) { events.append(e) }
    }

    /// The event for a decoded call and its result.
    private mutating func event(_ decoded: DecodedCall, _ result: TraceResult, _ ctx: Context) -> TraceEvent? {
        switch decoded {
        case .sys(let sc):
            return ctx.event(.syscall(sc, result: result))
        case .invalid(let why):
            return ctx.skip(why)
        case .clone(let flags):
            switch result {
            case .value(let v) where v > 0:
                let child = Int(truncatingIfNeeded: v)
                if reportedChildren.remove(child) != nil {
                    return ctx.skip("child \(child) already reported at its first line")
                }
                return ctx.event(forkKind(child: child, flags: flags))
            case .error(let e, _): return ctx.skip("process creation failed: " + e.name)
            default: return ctx.skip("process creation did not return a child pid")
            }
        case .execve(let path):
            switch result {
            case .value(0): return ctx.event(.execve(path: path))
            case .error(let e, _): return ctx.skip("execve failed: " + e.name)
            default: return ctx.skip("execve did not complete")
            }
        case .exit(let status, let group):
            exitReported.insert(ctx.key)
            return ctx.event(group ? .exit(status: status) : .threadExit(status: status))
        }
    }

    /// Reports and forgets the unfinished call of `key`, if any.
    private mutating func flushPending(_ key: Int, reason: String, into events: inout [TraceEvent]) {
        guard var p = pending.removeValue(forKey: key) else { return }
        let text = p.name + "(" + String(decoding: p.head, as: UTF8.self) + " <unfinished ...>"
        p.head.append(Ch.rparen)
        var decoded = DecodedCall.invalid("")
        p.head.withUnsafeBufferPointer { h in
            var a = ArgCursor(h, 0, h.count)
            decoded = StraceDecode.decode(p.call, &a)
        }
        let kind: TraceEvent.Kind
        switch decoded {
        case .sys(let sc): kind = .syscall(sc, result: .unknown)
        case .exit: return  // the exit line that follows reports it
        default: kind = .skipped(reason: p.name + " " + reason, text: text)
        }
        events.append(TraceEvent(line: p.line, pid: p.pid, time: p.time, kind: kind))
    }
}
