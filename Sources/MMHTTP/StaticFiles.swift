#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a ``StaticFiles`` root is unusable.
public enum StaticFilesError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The root does not exist or is not a directory.
    case notADirectory(String)

    /// A readable explanation.
    public var description: String {
        switch self {
        case .notADirectory(let path): "static root \(path) is not a directory"
        }
    }
}

/// Serves the files below one directory (the visualizer's `public/`) for `GET` and `HEAD`.
///
/// `/` (and any directory) maps to its `index.html`; directories are never listed.
/// Requests are confined to the root: `.`/`..` segments (literal or percent-encoded),
/// encoded slashes or backslashes, NUL bytes, and files whose real path (symlinks
/// followed) lies outside the root's real path all get 404.
public struct StaticFiles: HTTPHandler {
    /// The root directory's canonical real path.
    public let root: String
    /// Largest file served, in bytes; bigger files get 404 rather than being read into memory.
    public var maxFileBytes: Int = 64 * 1024 * 1024

    /// Serves `root`, which must be an existing directory (resolved to its real path now).
    public init(root: String) throws(StaticFilesError) {
        guard let real = Self.realPath(root), Self.fileKind(real) == .directory else {
            throw .notADirectory(root)
        }
        self.root = real
    }

    /// Same as ``response(for:)``.
    public func handle(_ request: HTTPRequest) -> HTTPResponse { response(for: request) }

    /// The file for `request.path` (200), or a JSON 404; other methods than GET/HEAD get 405.
    /// A `HEAD` response has an empty body and the file's `Content-Length`.
    public func response(for request: HTTPRequest) -> HTTPResponse {
        guard request.method == .get || request.method == .head else {
            var response = HTTPResponse.error(.methodNotAllowed, code: "method_not_allowed",
                                              message: "\(request.method) is not allowed on static files")
            response.headers.add(name: "Allow", value: "GET, HEAD")
            return response
        }
        guard let file = resolve(request.path) else { return Self.notFound(request.path) }
        var headers = HTTPHeaders([("Content-Type", Self.contentType(forPath: file.name)),
                                   ("Cache-Control", "no-cache"),
                                   ("X-Content-Type-Options", "nosniff")])
        if request.method == .head {
            guard let size = Self.fileSize(file.path), size <= maxFileBytes else { return Self.notFound(request.path) }
            headers.add(name: "Content-Length", value: String(size))
            return HTTPResponse(status: .ok, headers: headers, body: .bytes([]))
        }
        guard let bytes = Self.readFile(file.path, limit: maxFileBytes) else { return Self.notFound(request.path) }
        return HTTPResponse(status: .ok, headers: headers, body: .bytes(bytes))
    }

    /// Maps a raw (percent-encoded) request path to a regular file inside the root, or `nil`.
    /// `name` is the file name whose extension decides the content type.
    func resolve(_ rawPath: String) -> (path: String, name: String)? {
        if rawPath.utf8.contains(0) { return nil }
        var segments: [String] = []
        for raw in rawPath.split(separator: "/", omittingEmptySubsequences: true) {
            if raw == "." || raw == ".." { return nil }
            guard let bytes = percentDecodeBytes(raw, plusAsSpace: false),
                  !bytes.contains(where: { $0 == 0 || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") }) else {
                return nil
            }
            let segment = String(decoding: bytes, as: UTF8.self)
            guard segment.utf8.elementsEqual(bytes), segment != ".", segment != ".." else { return nil }
            segments.append(segment)
        }
        var candidate = segments.isEmpty ? root : root + "/" + segments.joined(separator: "/")
        var name = segments.last ?? "index.html"
        guard var real = contained(candidate) else { return nil }
        let isDirectory = Self.fileKind(real) == .directory
        if isDirectory {
            candidate = real + "/index.html"
            name = "index.html"
            guard let index = contained(candidate) else { return nil }
            real = index
        }
        guard Self.fileKind(real) == .regular else { return nil }
        // A trailing slash names a directory: `/app.js/` is not the file `/app.js`.
        if rawPath.hasSuffix("/") && !isDirectory { return nil }
        return (real, name)
    }

    /// The real path of `path` if it exists and lies inside the root.
    private func contained(_ path: String) -> String? {
        guard let real = Self.realPath(path) else { return nil }
        if real == root { return real }
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return real.hasPrefix(prefix) ? real : nil
    }

    /// The `Content-Type` for a file name, by extension (case-insensitive).
    public static func contentType(forPath path: String) -> String {
        let fileName = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = fileName.lastIndex(of: ".") else { return "application/octet-stream" }
        switch fileName[fileName.index(after: dot)...].lowercased() {
        case "html", "htm": return "text/html; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json", "map": return "application/json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "gif": return "image/gif"
        case "webp": return "image/webp"
        case "ico": return "image/x-icon"
        case "txt": return "text/plain; charset=utf-8"
        case "wasm": return "application/wasm"
        case "woff2": return "font/woff2"
        default: return "application/octet-stream"
        }
    }

    private static func notFound(_ path: String) -> HTTPResponse {
        .error(.notFound, code: "not_found", message: "no such file")
    }

    // MARK: - File system

    private enum FileKind { case regular, directory, other }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func fileKind(_ path: String) -> FileKind? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    private static func fileSize(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int(st.st_size)
    }

    /// Reads a whole regular file with POSIX calls; `nil` if unreadable or over `limit`.
    private static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, Int(st.st_size) <= limit else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
        }
        return offset == bytes.count ? bytes : Array(bytes[0..<offset])
    }
}
