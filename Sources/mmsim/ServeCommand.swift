import ArgumentParser
import Foundation
import MMServer
import MMTrace
import MMHTTP

/// `mmsim serve` (the default subcommand): the HTTP API and the visualizer.
/// Every key of the config file is a flag (`--max-sessions 5`) and an
/// `MMSIM_<KEY>` variable; flags beat variables, which beat the file, which
/// beats the embedded defaults (ServerConfig).
struct Serve: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: "Serve the API and the visualizer (the default subcommand).",
            usage: "mmsim [serve] [--config <file>] [--<setting> <value> …] [--daemon [--pid-file <file>] [--log-file <file>]]",
            discussion: settingsHelp)
    }

    @Option(help: ArgumentHelp("JSON config file (default: config/mmsim.json beside the executable, in the checkout it was built in, or in the current directory).",
                               valueName: "file"))
    var config: String?

    @Flag(help: "Start in the background and return once it answers: print its URL on stdout, its pid and how to stop it on stderr. Its output (and access log) goes to --log-file.")
    var daemon = false

    @Option(help: ArgumentHelp("With --daemon: write the server's pid to this file.", valueName: "file"))
    var pidFile: String?

    @Option(help: ArgumentHelp("With --daemon: the server's output (default: mmsim-<port>.log in the temporary directory).", valueName: "file"))
    var logFile: String?

    /// The settings flags (`--port 0`, `--access-log=false`), checked by ServerConfig against its keys.
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var settings: [String] = []

    /// The SETTINGS part of `--help`, made from ServerConfig's key list and embedded defaults.
    static var settingsHelp: String {
        let defaults = ServerConfig()
        // A flag too long for the column gets a line of its own; its help follows, indented.
        let width = 32
        let rows = ServerConfig.settings.map { s in
            let flag = "--" + s.key.replacingOccurrences(of: "_", with: "-") + " X"
            let help = "\(s.help) (\(defaults.text(s.key) ?? ""))"
            if flag.count < width - 1 { return flag.padding(toLength: width, withPad: " ", startingAt: 0) + help }
            return flag + "\n  " + String(repeating: " ", count: width) + help
        }
        return """
            SETTINGS (default): every key of config/mmsim.json is a flag and a variable \
            MMSIM_<KEY> (MMSIM_PORT=9000); a flag beats the variable, which beats the file.
            \(rows.map { "  " + $0 }.joined(separator: "\n"))
            """
    }

    /// Checked before ``run()`` so that a bad setting is a usage error showing `serve`'s usage.
    func validate() throws {
        if !daemon && (pidFile != nil || logFile != nil) { throw ValidationError("--pid-file and --log-file go with --daemon") }
        _ = try load(Resources.current)
    }

    /// The configuration: embedded defaults, the config file, `MMSIM_*` variables, then the flags.
    func load(_ resources: Resources) throws -> ServerConfig {
        do {
            return try ServerConfig.load(arguments: arguments, environment: ProcessInfo.processInfo.environment,
                                         defaultFile: resources.configFile ?? "config/mmsim.json")
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The settings as ServerConfig reads them, `--config` first.
    var arguments: [String] { (config.map { ["--config", $0] } ?? []) + settings }

    func run() throws {
        let resources = Resources.current
        let environment = ProcessInfo.processInfo.environment
        var server = try load(resources)
        if daemon {
            try Background.start(arguments: ["serve"] + arguments, pidFile: pidFile, logFile: logFile, port: server.port)
            return
        }
        // An explicit --public/MMSIM_PUBLIC_DIR is taken as given; the default is searched for.
        let explicit = environment["MMSIM_PUBLIC_DIR"] != nil || settings.contains { $0.hasPrefix("--public") }
        let looked = explicit ? [server.publicDir] : resources.candidates(forPage: server.publicDir)
        var placeholder: PlaceholderPage?
        if let found = explicit ? (FileManager.default.fileExists(atPath: server.publicDir + "/index.html") ? server.publicDir : nil)
                                : resources.page(server.publicDir) {
            server.publicDir = found
        } else {
            let page = try PlaceholderPage(looked: looked)
            complain("mmsim: the visualizer page was not found; looked for index.html in \(looked.joined(separator: ", ")); / answers a page saying so")
            server.publicDir = page.directory
            placeholder = page
        }
        defer { placeholder?.remove() }
        let (http, app): (HTTPServer, MMSimApp)
        do {
            (http, app) = try MMSimService.start(config: server) { line in say(line) }
        } catch {
            complain("mmsim: \(error)")
            throw ExitCode.failure
        }
        say("mmsim listening on http://\(server.host):\(http.port)/")
        say("mmsim \(MMServerInfo.version): page \(placeholder == nil ? server.publicDir : "not found"), config \(config ?? resources.configFile ?? "defaults"), default kernel \(server.defaultKernel)")
        http.installSignalHandlers(exitProcess: false)
        http.waitUntilStopped()
        app.store.syncJournals()   // every answered operation on disk before exit, whatever the durability
        say("mmsim stopped")
    }
}

/// Writes one line to stdout unbuffered (scripts read the first line).
@Sendable func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// Writes one line to stderr.
func complain(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
