import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The URLSession client of the API integration tests (libcurl underneath,
/// like any external client): requests to a ServerProcess, the answers as
/// APIResponse, and JSONNode to read their JSON bodies.
extension ServerProcess {
    /// Sends one request through URLSession and waits for the answer.
    func request(_ method: String, _ path: String, body: Data? = nil,
                 headers: [String: String] = [:], timeout: Double = 60) -> APIResponse {
        guard let url = URL(string: baseURL + path) else {
            return APIResponse(status: -1, headers: [:], body: Data(), error: "bad URL \(baseURL + path)")
        }
        var req = URLRequest(url: url)
        req.httpMethod = method
        req.timeoutInterval = timeout
        if let body {
            req.httpBody = body
            req.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        for (k, v) in headers { req.setValue(v, forHTTPHeaderField: k) }
        let box = ResultBox()
        let sem = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: req) { data, response, error in
            box.set(data: data, response: response as? HTTPURLResponse, error: error)
            sem.signal()
        }
        task.resume()
        if sem.wait(timeout: .now() + timeout + 5) == .timedOut {
            task.cancel()
            return APIResponse(status: -1, headers: [:], body: Data(), error: "\(method) \(path): no answer in \(timeout) s")
        }
        var result = box.result(method: method, path: path)
        if result.error != nil {
            // A crashing server prints its backtrace before it exits: give it a moment.
            let deadline = Date().addingTimeInterval(3)
            while isRunning && Date() < deadline && stderrText.contains("crashed:") { usleep(50_000) }
            usleep(50_000)
            if !isRunning {
                result.error = "mmsim died (exit status \(terminationStatus)) on \(method) \(path): \(crashSummary)"
            }
        }
        return result
    }

    func get(_ path: String) -> APIResponse { request("GET", path) }
    func delete(_ path: String) -> APIResponse { request("DELETE", path) }
    /// POSTs `json` text as is (so tests can send malformed JSON).
    func post(_ path: String, _ json: String) -> APIResponse { request("POST", path, body: Data(json.utf8)) }
    /// POSTs a JSON-serializable object.
    func post(_ path: String, object: Any) -> APIResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return request("POST", path, body: data)
    }
}

/// One answer as URLSession saw it.
struct APIResponse: CustomStringConvertible {
    let status: Int
    /// Header names lower-cased.
    let headers: [String: String]
    let body: Data
    /// Transport error, if the request did not complete.
    var error: String?

    var text: String { String(decoding: body, as: UTF8.self) }
    var contentType: String { headers["content-type"] ?? "" }
    /// The body parsed as JSON (`.missing` if it is not JSON).
    var json: JSONNode {
        guard let v = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else { return JSONNode(nil) }
        return JSONNode(v)
    }
    var description: String {
        "HTTP \(status) \(contentType) \(error.map { "error: \($0) " } ?? "")\(text.prefix(600))"
    }
}

/// Read-only navigation of a JSONSerialization value; missing paths give nil leaves.
struct JSONNode: CustomStringConvertible {
    let value: Any?
    init(_ value: Any?) { self.value = value }

    subscript(key: String) -> JSONNode { JSONNode((value as? [String: Any])?[key] ?? nil) }
    subscript(index: Int) -> JSONNode {
        guard let a = value as? [Any], index >= 0, index < a.count else { return JSONNode(nil) }
        return JSONNode(a[index])
    }
    var exists: Bool { value != nil }
    var isNull: Bool { value is NSNull }
    var string: String? { value as? String }
    /// An integer (JSON true/false are not integers).
    var int: Int? {
        guard let n = value as? NSNumber, !isBoolNumber(n) else { return nil }
        return value as? Int
    }
    /// A boolean (JSON 0/1 are not booleans).
    var bool: Bool? {
        guard let n = value as? NSNumber, isBoolNumber(n) else { return nil }
        return n.boolValue
    }
    var double: Double? { (value as? NSNumber).map(\.doubleValue) }
    var array: [JSONNode] { (value as? [Any])?.map { JSONNode($0) } ?? [] }
    var isArray: Bool { value is [Any] }
    var keys: [String] { (value as? [String: Any]).map { Array($0.keys) } ?? [] }
    var count: Int { (value as? [Any])?.count ?? (value as? [String: Any])?.count ?? 0 }
    var description: String {
        guard let value, JSONSerialization.isValidJSONObject(value),
              let d = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else {
            return String(describing: value)
        }
        return String(decoding: d, as: UTF8.self)
    }
}

/// JSONSerialization gives booleans as NSNumbers of ObjC type "c" (char).
private func isBoolNumber(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

/// Collects a URLSession completion across threads.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?
    private var response: HTTPURLResponse?
    private var error: Error?

    func set(data: Data?, response: HTTPURLResponse?, error: Error?) {
        lock.withLock { self.data = data; self.response = response; self.error = error }
    }

    func result(method: String, path: String) -> APIResponse {
        lock.withLock {
            guard let response else {
                return APIResponse(status: -1, headers: [:], body: data ?? Data(),
                                   error: "\(method) \(path): \(error.map { "\($0)" } ?? "no response")")
            }
            var headers: [String: String] = [:]
            for (k, v) in response.allHeaderFields {
                if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
            }
            return APIResponse(status: response.statusCode, headers: headers, body: data ?? Data(), error: nil)
        }
    }
}
