import Foundation

/// Where `serve` finds its config file and the visualizer page when run from
/// any directory. Roots, in order: the executable's own directory (a copy
/// installed with `public/` and `config/` beside it), the package checkout it
/// was built in (the nearest ancestor holding `Package.swift`:
/// `…/.build/debug/mmsim` → the checkout), then the current directory.
struct Resources {
    /// The directories searched, in order, without duplicates.
    let roots: [String]

    init(executable: String, cwd: String) {
        var roots: [String] = []
        let exeDir = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        roots.append(exeDir.path)
        var dir = exeDir
        while dir.path != "/" {
            dir = dir.deletingLastPathComponent()
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
                roots.append(dir.path)
                break
            }
        }
        roots.append(URL(fileURLWithPath: cwd).standardizedFileURL.path)
        var seen = Set<String>()
        self.roots = roots.filter { seen.insert($0).inserted }
    }

    /// The running executable, as the kernel names it (`/proc/self/exe`).
    static var current: Resources {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return Resources(executable: exe, cwd: FileManager.default.currentDirectoryPath)
    }

    /// `config/mmsim.json` in the first root that has one.
    var configFile: String? {
        roots.map { $0 + "/config/mmsim.json" }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// Where a page directory named `path` is looked for: as given if absolute, else below each root.
    func candidates(forPage path: String) -> [String] {
        path.hasPrefix("/") ? [path] : roots.map { URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: $0 + "/")).standardizedFileURL.path }
    }

    /// The first candidate holding an `index.html`, or nil.
    func page(_ path: String) -> String? {
        candidates(forPage: path).first { FileManager.default.fileExists(atPath: $0 + "/index.html") }
    }
}

/// The page `/` answers when the visualizer was not found: where mmsim looked
/// and how to point it at the page. Written to a temporary directory removed at exit.
struct PlaceholderPage {
    let directory: String

    init(looked: [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-nopage-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let list = looked.map { "<li><code>\($0)/index.html</code></li>" }.joined()
        let html = """
            <!doctype html><html><head><meta charset="utf-8"><title>mmsim: page not found</title></head><body>
            <h1>mmsim: the visualizer page was not found</h1>
            <p>mmsim looked for it in:</p><ul>\(list)</ul>
            <p>Start mmsim with <code>--public DIR</code> (the project's <code>public/</code> directory), or run the binary
            built in the project's checkout. The API answers at <a href="/v1/kernels">/v1/</a>.</p>
            </body></html>

            """
        try Data(html.utf8).write(to: URL(fileURLWithPath: directory + "/index.html"))
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
