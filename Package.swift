// swift-tools-version:6.0
import PackageDescription

/// Release only: no dynamic exclusivity checks on the hot paths
/// (swift_beginAccess on every class-property access).
let unchecked: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "mmsim",
    platforms: [.macOS(.v15)],  // the server itself needs Linux (epoll)
    products: [
        .executable(name: "mmsim", targets: ["mmsim"]),
        .library(name: "MMCore", targets: ["MMCore"]),
        .library(name: "MMTrace", targets: ["MMTrace"]),
    ],
    dependencies: [
        // The mmsim command line (serve/compare/replay): --help on every subcommand and
        // anywhere on the line, usage on errors, --version; a vendored copy is available offline.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The simulation: pure Swift, deterministic, no I/O, no trace formats.
        .target(name: "MMCore", swiftSettings: unchecked),
        // strace / perf script / maps parsers, the replayer and the model comparison (uses MMCore).
        .target(name: "MMTrace", dependencies: ["MMCore"], swiftSettings: unchecked),
        // epoll(7) and eventfd(2) headers for the HTTP event loops (not in Swift's Glibc module).
        .target(name: "CLinuxShims"),
        // HTTP/1.1 over POSIX sockets: event loops, parser, encoder, static files, event streams.
        // Knows nothing of mmsim.
        .target(name: "MMHTTP", dependencies: ["CLinuxShims"]),
        // The service: routes (one table), wire (decode once, encode once), sessions, config, metrics, OpenAPI.
        .target(name: "MMServer", dependencies: ["MMCore", "MMTrace", "MMHTTP", "CLinuxShims"]),
        .executableTarget(name: "mmsim", dependencies: ["MMServer", "MMTrace", "MMHTTP", "MMCore",
                                                        .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "mmsim-bench", dependencies: ["MMCore", "MMTrace", "MMHTTP", "MMServer"],
                          path: "Sources/mmsim-bench"),
        .testTarget(name: "MMCoreTests", dependencies: ["MMCore"], exclude: ["Fixtures"]),
        .testTarget(name: "MMTraceTests", dependencies: ["MMTrace", "MMCore"], exclude: ["Fixtures"]),
        .testTarget(name: "MMServerTests", dependencies: ["MMServer", "MMHTTP", "MMTrace", "MMCore"]),
    ]
)
