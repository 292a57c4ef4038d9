import Foundation
import MMServer
import MMTrace

// mmsim: serve the simulator. Flags override MMSIM_* variables, which
// override config/mmsim.json, which overrides the embedded defaults.
//   mmsim [--config FILE] [--host H] [--port N] [--public DIR] [--default-kernel ID] …
/// Writes one line to stdout unbuffered (scripts read the first line).
@Sendable func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
let args = Array(CommandLine.arguments.dropFirst())
if args.first == "compare" { exit(CompareCommand.run(Array(args.dropFirst()))) }
if args.first == "--help" || args.first == "-h" {
    print("""
    usage: mmsim compare TRACE [--kernels 6.3,v3-patch,6.4,6.18] [--option eager_anon_vma] [--faults trace|touch|none]
           mmsim [--config FILE] [--host HOST] [--port N] [--public DIR] [--default-kernel 6.18]
                 [--max-sessions N] [--session-idle-seconds S] [--access-log false] …
    Every key of config/mmsim.json is a flag (--key value) and an MMSIM_KEY variable.
    """)
    exit(0)
}
do {
    let config = try ServerConfig.load(arguments: args, environment: ProcessInfo.processInfo.environment)
    let (server, _) = try MMSimService.start(config: config) { line in say(line) }
    say("mmsim listening on http://\(config.host):\(server.port)/ (public: \(config.publicDir), default kernel \(config.defaultKernel))")
    server.installSignalHandlers(exitProcess: false)
    server.waitUntilStopped()
    say("mmsim stopped")
} catch {
    FileHandle.standardError.write(Data("mmsim: \(error)\n".utf8))
    exit(2)
}
