import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `mmsim serve --daemon`: starts the server as a child in a session of its
/// own (so the terminal's Ctrl-C and hang-up do not reach it), its output
/// and access log in a file, and returns once it is listening, printing its
/// URL on stdout and its pid on stderr.
enum Background {
    /// glibc's `POSIX_SPAWN_SETSID` (spawn.h, defined only under _GNU_SOURCE,
    /// so Swift's Glibc module does not export it).
    static let posixSpawnSetsid: Int16 = 0x80

    /// How long to wait for the child's "listening" line.
    static let readyTimeout = 60.0

    static func start(arguments: [String], pidFile: String?, logFile: String?, port: Int) throws {
        let tempLog = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-starting-\(getpid()).log").path
        let logPath = logFile ?? tempLog
        let fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ValidationError("cannot write the log file \(logPath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let pid = try spawn(arguments: arguments, output: fd)
        var log = logPath
        if logFile == nil {
            log = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-\(pid).log").path
            if rename(tempLog, log) != 0 { log = tempLog }
        }
        guard let url = waitUntilListening(pid: pid, log: log) else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            complain("mmsim: the server (pid \(pid)) did not start; its output (\(log)):\n\(text)")
            kill(pid, SIGKILL)
            throw ExitCode.failure
        }
        if let pidFile {
            do { try Data("\(pid)\n".utf8).write(to: URL(fileURLWithPath: pidFile)) } catch {
                complain("mmsim: cannot write \(pidFile): \(error)")
            }
        }
        say(url)
        complain("mmsim: serving \(url) as pid \(pid), output in \(log); stop it with: kill \(pid)")
    }

    /// posix_spawn(3)s this executable with `arguments`, stdin from /dev/null,
    /// stdout and stderr to `output`, no other descriptor, in a new session (`setsid`).
    static func spawn(arguments: [String], output: Int32) throws -> pid_t {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        // Nothing else inherited: a caller waiting for EOF on a pipe (a shell's
        // $(…), a test's Process) must not wait on the server too. (glibc's
        // posix_spawn_file_actions_addclosefrom_np is not exported to Swift.)
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap(Int32.init) where fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, posixSpawnSetsid)
        let argv: [UnsafeMutablePointer<CChar>?] = ([exe] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw ValidationError("cannot start \(exe): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// The URL from the child's "mmsim listening on URL" line, or nil if it exited or timed out first.
    static func waitUntilListening(pid: pid_t, log: String) -> String? {
        let deadline = Date(timeIntervalSinceNow: readyTimeout)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: log, encoding: .utf8),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("mmsim listening on ") }) {
                return String(line.dropFirst("mmsim listening on ".count))
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { return nil }
            usleep(10_000)
        }
        return nil
    }
}
