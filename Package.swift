// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mmsim",
    platforms: [.macOS(.v15)],  // the server itself needs Linux (epoll)
    products: [
        .executable(name: "mmsim", targets: ["mmsim"]),
        .library(name: "MMCore", targets: ["MMCore"]),
    ],
    dependencies: [
        // The mmsim command line (serve/compare/replay): --help on every subcommand and
        // anywhere on the line, usage on errors, --version; a vendored copy is available offline.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The simulation: pure Swift, deterministic, no I/O.
        .target(name: "MMCore",
                // Release only: no dynamic exclusivity checks on the hot paths
                // (swift_beginAccess on every class-property access).
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // epoll(7) and eventfd(2) headers for the HTTP event loops (not in Swift's Glibc module).
        .target(name: "CLinuxShims"),
        // HTTP/1.1 over POSIX sockets (epoll event loops), router, DTOs, config.
        .target(name: "MMServer", dependencies: ["MMCore", "CLinuxShims"]),
        .executableTarget(name: "mmsim", dependencies: ["MMServer", "MMCore",
                                                        .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "mmsim-bench", dependencies: ["MMCore", "MMServer"], path: "Sources/mmsim-bench"),
        .testTarget(name: "MMCoreTests", dependencies: ["MMCore"], exclude: ["Fixtures"]),
        .testTarget(name: "MMServerTests", dependencies: ["MMServer", "MMCore"]),
    ]
)
