import Foundation
import XCTest
@testable import MMServer
@testable import MMHTTP

final class StaticFilesTests: XCTestCase {
    private var base: URL!
    private var files: StaticFiles!

    override func setUpWithError() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("static-\(UUID().uuidString)")
        let root = base.appendingPathComponent("public")
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent("empty"), withIntermediateDirectories: true)
        try fm.createDirectory(at: base.appendingPathComponent("outside"), withIntermediateDirectories: true)
        let contents: [String: String] = [
            "index.html": "<h1>home</h1>", "app.js": "console.log(1)", "mod.mjs": "export {}",
            "style.css": "body{}", "data.json": "{}", "logo.svg": "<svg/>", "img.png": "PNG",
            "favicon.ico": "ICO", "notes.txt": "notes", "app.js.map": "{}", "blob.bin": "bin",
            "sub/page.html": "<p>page</p>", "sub/index.html": "<p>sub index</p>", "with space.txt": "spaced",
        ]
        for (name, text) in contents {
            try Data(text.utf8).write(to: root.appendingPathComponent(name))
        }
        try Data("top secret".utf8).write(to: base.appendingPathComponent("outside/secret.txt"))
        try Data("sibling".utf8).write(to: base.appendingPathComponent("public-sibling.txt"))
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("link.txt").path,
                                  withDestinationPath: "../outside/secret.txt")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("outdir").path,
                                  withDestinationPath: base.appendingPathComponent("outside").path)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("inlink.html").path,
                                  withDestinationPath: "sub/page.html")
        files = try StaticFiles(root: root.path)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: base)
    }

    private func get(_ target: String, method: HTTPMethod = .get) -> HTTPResponse {
        files.response(for: HTTPRequest(method: method, target: target))
    }

    private func body(_ response: HTTPResponse) -> String {
        guard case .bytes(let bytes) = response.body else { return "<stream>" }
        return String(decoding: bytes, as: UTF8.self)
    }

    func testRootServesIndex() {
        let response = get("/")
        XCTAssertEqual(response.status, .ok)
        XCTAssertEqual(body(response), "<h1>home</h1>")
        XCTAssertEqual(response.headers["Content-Type"], "text/html; charset=utf-8")
        XCTAssertEqual(body(get("/index.html")), "<h1>home</h1>")
        XCTAssertEqual(body(get("/sub/")), "<p>sub index</p>")
        XCTAssertEqual(body(get("/sub/page.html?v=2")), "<p>page</p>")
        XCTAssertEqual(body(get("/with%20space.txt")), "spaced")
        XCTAssertEqual(body(get("//sub//page.html")), "<p>page</p>")
    }

    /// A trailing slash names a directory: onto a file it is a 404.
    func testTrailingSlashOntoAFileIs404() {
        XCTAssertEqual(get("/index.html/").status, .notFound)
        XCTAssertEqual(get("/sub/page.html/").status, .notFound)
        XCTAssertEqual(get("/with%20space.txt/").status, .notFound)
        XCTAssertEqual(get("/sub/").status, .ok, "a directory with a slash is its index")
        XCTAssertEqual(get("/sub").status, .ok)
    }

    func testContentTypes() {
        let expected: [String: String] = [
            "/app.js": "text/javascript; charset=utf-8", "/mod.mjs": "text/javascript; charset=utf-8",
            "/style.css": "text/css; charset=utf-8", "/data.json": "application/json",
            "/logo.svg": "image/svg+xml", "/img.png": "image/png", "/favicon.ico": "image/x-icon",
            "/notes.txt": "text/plain; charset=utf-8", "/app.js.map": "application/json",
            "/blob.bin": "application/octet-stream", "/sub/page.html": "text/html; charset=utf-8",
        ]
        for (path, type) in expected {
            let response = get(path)
            XCTAssertEqual(response.status, .ok, path)
            XCTAssertEqual(response.headers["Content-Type"], type, path)
        }
        XCTAssertEqual(StaticFiles.contentType(forPath: "A.HTML"), "text/html; charset=utf-8")
    }

    func testHeadHasLengthAndNoBody() {
        let response = get("/app.js", method: .head)
        XCTAssertEqual(response.status, .ok)
        XCTAssertEqual(response.headers["Content-Length"], "14")
        XCTAssertEqual(body(response), "")
    }

    func testTraversalIsRejected() {
        let attacks = [
            "/../outside/secret.txt", "/%2e%2e/outside/secret.txt", "/%2E%2E/outside/secret.txt",
            "/..%2foutside/secret.txt", "/..%2Foutside%2Fsecret.txt", "/sub/../../outside/secret.txt",
            "/sub/%2e%2e/%2e%2e/outside/secret.txt", "/.%2e/outside/secret.txt", "/%2e./outside/secret.txt",
            "/sub/../index.html", "/./index.html", "/%2e/index.html", "/..%5coutside%5csecret.txt",
            "/index.html%00.js", "/index.html\u{0}", "/%2e%2e%2fpublic-sibling.txt", "/../public-sibling.txt",
            "/%252e%252e/outside/secret.txt", "/bad%zzescape",
        ]
        for attack in attacks {
            let response = get(attack)
            XCTAssertEqual(response.status, .notFound, attack)
            XCTAssertFalse(body(response).contains("secret"), attack)
            XCTAssertFalse(body(response).contains("sibling"), attack)
        }
        XCTAssertNil(files.resolve("/../outside/secret.txt"))
    }

    func testSymlinksMustStayInsideRoot() {
        XCTAssertEqual(get("/link.txt").status, .notFound)
        XCTAssertEqual(get("/outdir/secret.txt").status, .notFound)
        XCTAssertEqual(get("/outdir/").status, .notFound)
        let inside = get("/inlink.html")
        XCTAssertEqual(inside.status, .ok)
        XCTAssertEqual(body(inside), "<p>page</p>")
    }

    func testDirectoriesAreNeverListed() {
        XCTAssertEqual(get("/empty").status, .notFound)
        XCTAssertEqual(get("/empty/").status, .notFound)
        XCTAssertFalse(body(get("/empty/")).contains("index"))
    }

    func testMissingFileAndWrongMethod() {
        let missing = get("/nope.js")
        XCTAssertEqual(missing.status, .notFound)
        XCTAssertEqual(missing.headers["Content-Type"], "application/json")
        XCTAssertTrue(body(missing).contains(#""code":"not_found""#))
        let post = get("/index.html", method: .post)
        XCTAssertEqual(post.status, .methodNotAllowed)
        XCTAssertEqual(post.headers["Allow"], "GET, HEAD")
    }

    func testInitRejectsMissingRoot() {
        XCTAssertThrowsError(try StaticFiles(root: base.appendingPathComponent("missing").path))
        XCTAssertThrowsError(try StaticFiles(root: base.appendingPathComponent("public/app.js").path))
    }
}
