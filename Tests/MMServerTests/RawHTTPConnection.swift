import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The raw-socket client of the API integration tests, for what URLSession
/// cannot send or read: dot segments in paths, Server-Sent Events, pipelined
/// or malformed requests.
extension ServerProcess {

    /// A fresh TCP connection to the server.
    func connect(timeout: Double = 10) throws -> RawConnection { try RawConnection(port: port, timeout: timeout) }

    /// Sends `bytes` on a fresh connection and reads one response.
    func raw(_ text: String, head: Bool = false, timeout: Double = 10) throws -> RawResponse {
        let c = try connect(timeout: timeout)
        defer { c.close() }
        try c.send(Array(text.utf8))
        return try c.readResponse(head: head)
    }
}

struct RawResponse: CustomStringConvertible {
    let statusLine: String
    let status: Int
    /// Header names lower-cased; repeated headers joined with ", ".
    let headers: [String: String]
    let body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONNode {
        JSONNode(try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]))
    }
    var description: String { "\(statusLine) \(headers) \(text.prefix(400))" }
}

enum RawError: Error, CustomStringConvertible {
    case connect(Int32), send(Int32), closed(String), timeout(String), malformed(String)
    var description: String {
        switch self {
        case let .connect(e): "connect failed: errno \(e)"
        case let .send(e): "send failed: errno \(e)"
        case let .closed(m): "connection closed: \(m)"
        case let .timeout(m): "timed out: \(m)"
        case let .malformed(m): "malformed response: \(m)"
        }
    }
}

/// A blocking client connection with a receive timeout.
final class RawConnection {
    let fd: Int32
    /// Bytes received and not yet consumed.
    private(set) var pending: [UInt8] = []
    private var isClosed = false

    init(port: Int, timeout: Double) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawError.connect(errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { let e = errno; Glibc.close(fd); throw RawError.connect(e) }
        setTimeout(timeout)
    }

    deinit { close() }

    func close() {
        if !isClosed { isClosed = true; Glibc.close(fd) }
    }

    func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; throw RawError.send(errno) }
            off += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Receives more bytes; false at EOF. Throws on timeout.
    @discardableResult
    func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { pending += chunk[0..<n]; return true }
            if n == 0 { return false }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw RawError.timeout("no data (have \(pending.count) bytes)") }
            throw RawError.closed("recv errno \(errno)")
        }
    }

    /// Reads until `predicate` holds on everything received so far, EOF, or `timeout`.
    func read(until predicate: (String) -> Bool, timeout: Double) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while !predicate(String(decoding: pending, as: UTF8.self)) && Date() < deadline {
            setTimeout(max(0.05, min(1, deadline.timeIntervalSinceNow)))
            do { if try !fill() { break } } catch RawError.timeout { continue } catch { break }
        }
        return String(decoding: pending, as: UTF8.self)
    }

    private func line() throws -> String {
        while true {
            if let i = pending.firstIndex(of: 10) {
                var bytes = Array(pending[..<i])
                if bytes.last == 13 { bytes.removeLast() }
                pending.removeFirst(i + 1)
                return String(decoding: bytes, as: UTF8.self)
            }
            guard try fill() else { throw RawError.closed("in a header line (have \(pending.count) bytes)") }
        }
    }

    private func take(_ n: Int) throws -> [UInt8] {
        while pending.count < n {
            guard try fill() else { throw RawError.closed("body short: \(pending.count) of \(n) bytes") }
        }
        defer { pending.removeFirst(n) }
        return Array(pending[..<n])
    }

    /// Reads exactly one response: Content-Length, chunked, or until close.
    func readResponse(head: Bool = false) throws -> RawResponse {
        let statusLine = try line()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw RawError.malformed("status line \(statusLine.debugDescription)")
        }
        var headers: [String: String] = [:]
        while true {
            let text = try line()
            if text.isEmpty { break }
            guard let colon = text.firstIndex(of: ":") else { throw RawError.malformed("header \(text.debugDescription)") }
            let name = text[..<colon].lowercased()
            let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        var body: [UInt8] = []
        if head || status == 204 || status == 304 || (100..<200).contains(status) {
        } else if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                let sizeLine = try line()
                guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                    throw RawError.malformed("chunk size \(sizeLine.debugDescription)")
                }
                if size == 0 { break }
                body += try take(size)
                _ = try take(2)
            }
            while try !line().isEmpty {}
        } else if let cl = headers["content-length"] {
            guard let n = Int(cl), n >= 0 else { throw RawError.malformed("Content-Length \(cl)") }
            body = try take(n)
        } else {
            while try fill() {}
            body = pending
            pending = []
        }
        return RawResponse(statusLine: statusLine, status: status, headers: headers, body: body)
    }
}
