import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Scale-out (docs/DEPLOY.md): two instances with node ids behind the
/// documented nginx configuration; creation is spread over both, and every
/// request about a session reaches its owner by the id's prefix. Skipped
/// when nginx is not installed.
final class ScaleOutTests: APITestCase {
    func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    func testNginxRoutesSessionsToTheirOwner() throws {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let nginx else { throw XCTSkip("nginx is not installed (apt-get install nginx-light): scale-out not tested") }
        let a = try start(["--node_id", "a"]), b = try start(["--node_id", "b"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePort()
        let conf = """
        worker_processes 1; pid \(dir.path)/nginx.pid; error_log \(dir.path)/error.log;
        events { worker_connections 256; }
        http {
          access_log off; client_body_temp_path \(dir.path); proxy_temp_path \(dir.path);
          fastcgi_temp_path \(dir.path); uwsgi_temp_path \(dir.path); scgi_temp_path \(dir.path);
          upstream mmsim_any { server 127.0.0.1:\(a.port); server 127.0.0.1:\(b.port); }
          upstream mmsim_a { server 127.0.0.1:\(a.port); }
          upstream mmsim_b { server 127.0.0.1:\(b.port); }
          map $uri $mmsim_owner { ~^/v1/sessions/a- mmsim_a; ~^/v1/sessions/b- mmsim_b; default mmsim_any; }
          server {
            listen 127.0.0.1:\(port);
            location / { proxy_pass http://$mmsim_owner; proxy_http_version 1.1; proxy_set_header Connection ""; }
            location ~ ^/v1/sessions/[^/]+/events$ {
              proxy_pass http://$mmsim_owner; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off;
            }
          }
        }
        """
        try conf.write(to: dir.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: nginx)
        proc.arguments = ["-p", dir.path, "-c", dir.appendingPathComponent("nginx.conf").path, "-g", "daemon off;"]
        proc.standardError = FileHandle.nullDevice
        try proc.run()
        defer { proc.terminate(); proc.waitUntilExit() }
        let url = "http://127.0.0.1:\(port)"
        func call(_ method: String, _ path: String, _ body: String? = nil) -> (Int, JSONNode) {
            var req = URLRequest(url: URL(string: url + path)!)
            req.httpMethod = method
            req.httpBody = body.map { Data($0.utf8) }
            let box = LockedBox()
            let sem = DispatchSemaphore(value: 0)
            a.session.dataTask(with: req) { data, resp, _ in
                box.set(((resp as? HTTPURLResponse)?.statusCode ?? -1, data ?? Data()))
                sem.signal()
            }.resume()
            sem.wait()
            let (status, data) = box.get()
            return (status, JSONNode(try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])))
        }
        let deadline = Date().addingTimeInterval(10)
        while call("GET", "/healthz").0 != 200 && Date() < deadline { usleep(50_000) }
        // Creation is spread over both instances.
        var ids: [String] = []
        for _ in 0..<4 {
            let (status, json) = call("POST", "/v1/sessions", #"{"kernel": "6.4"}"#)
            XCTAssertEqual(status, 201)
            ids.append(json["id"].string ?? "")
        }
        XCTAssertEqual(Set(ids.map { $0.prefix(2) }), ["a-", "b-"], "\(ids)")
        // The thread's libc case on every session, through the proxy, each reaching its owner.
        for sid in ids {
            let p = "/v1/sessions/\(sid)"
            XCTAssertEqual(call("POST", p + "/files", #"{"path": "/lib/libc.so.6", "size": 1970000}"#).0, 201)
            XCTAssertEqual(call("POST", p + "/processes", #"{"comm": "cat"}"#).0, 201)
            XCTAssertEqual(call("POST", p + "/processes/1/syscalls/open", #"{"path": "/lib/libc.so.6", "flags": "O_RDONLY"}"#).1["return"].int, 3)
            let m = call("POST", p + "/processes/1/syscalls/mmap", #"{"addr": "0x7f0ce62fc000", "length": 24576, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE", "fd": 3, "offset": "0x1ce000"}"#)
            XCTAssertEqual(m.1["return"].string, "0x7f0ce62fc000")
            let f = call("POST", p + "/processes/1/faults", #"{"address": "0x7f0ce62fc010", "access": "write"}"#)
            XCTAssertEqual(f.1["lock"]["code"].string, "NOT_ANON", "6.4 refuses a file VMA at lookup")
            let owner = sid.hasPrefix("a-") ? a : b, other = sid.hasPrefix("a-") ? b : a
            XCTAssertEqual(owner.get(p + "/log").json["ops"].count, 5)
            XCTAssertEqual(other.get(p).status, 404, "the other instance does not hold it")
        }
        // The whole e2e walk-through, through the proxy.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let e2e = Process()
        e2e.executableURL = URL(fileURLWithPath: "/bin/bash")
        e2e.arguments = [root.appendingPathComponent("scripts/e2e.sh").path]
        e2e.environment = ProcessInfo.processInfo.environment.merging(["E2E_URL": url]) { $1 }
        let out = Pipe()
        e2e.standardOutput = out
        e2e.standardError = out
        try e2e.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        e2e.waitUntilExit()
        XCTAssertEqual(e2e.terminationStatus, 0, text)
        XCTAssertTrue(text.contains(" 0 failed"), text)
        XCTAssertFalse(text.contains("FAIL"), text)
        XCTAssertEqual(a.get("/healthz").json["sessions"].int.map { $0 > 0 }, true, "e2e sessions landed on a")
        XCTAssertEqual(b.get("/healthz").json["sessions"].int.map { $0 > 0 }, true, "e2e sessions landed on b")
    }
}

/// A value handed from a URLSession callback to the test.
final class LockedBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (Int, Data) = (-1, Data())
    func set(_ v: (Int, Data)) { lock.withLock { value = v } }
    func get() -> (Int, Data) { lock.withLock { value } }
}
