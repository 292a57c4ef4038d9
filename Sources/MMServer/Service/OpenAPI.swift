import Foundation
import MMCore

/// The OpenAPI 3.1 document of the API, rendered from the route table
/// (`RouteTable`) and the request schemas (`Schemas`): every route with its
/// description, parameters, body (`required` and `enum`s included) and
/// answers.
enum OpenAPI {
    static func obj(_ m: [(String, JSONValue)]) -> JSONValue { .object(m) }
    static func ref(_ name: String) -> JSONValue { obj([("$ref", .string("#/components/schemas/\(name)"))]) }
    static func names(_ list: [String]) -> JSONValue { .array(list.map { .string($0) }) }

    /// The JSON Schema of a field type.
    static func schema(_ t: FieldType) -> JSONValue {
        switch t {
        case .string: obj([("type", .string("string"))])
        case .integer: obj([("type", .string("integer"))])
        case .boolean: obj([("type", .string("boolean"))])
        case .number: obj([("type", .string("number"))])
        case .address: obj([("type", names(["string", "integer", "null"])),
                            ("description", .string("\"0x…\" hex string or integer"))])
        case .size: obj([("type", names(["integer", "string"])),
                         ("description", .string("bytes: integer or \"0x…\" hex string"))])
        case let .oneOf(list): obj([("type", .string("string")), ("enum", names(list))])
        case let .flags(table):
            obj([("description", .string("names joined by '|' (strace spelling), an array of names, or a number")),
                 ("oneOf", .array([
                    obj([("type", .string("string"))]),
                    obj([("type", .string("array")), ("items", obj([("type", .string("string")), ("enum", names(table.allNames))]))]),
                    obj([("type", .string("integer"))]),
                 ]))])
        case let .object(s): ref(s.name)
        case let .array(item): obj([("type", .string("array")), ("items", schema(item))])
        case let .map(item): obj([("type", .string("object")), ("additionalProperties", schema(item))])
        case let .ref(name): ref(name)
        }
    }

    /// The JSON Schema of a request object.
    static func schema(_ s: Schema) -> JSONValue {
        var m: [(String, JSONValue)] = [("type", .string("object")), ("description", .string(s.description)),
                                        ("additionalProperties", .bool(false))]
        let required = s.fields.filter(\.required).map(\.name)
        if !required.isEmpty { m.append(("required", names(required))) }
        m.append(("properties", obj(s.fields.map { f in
            guard case var .object(p) = schema(f.type) else { return (f.name, schema(f.type)) }
            if case .object = f.type {
                // A $ref with a description: wrap it.
                return (f.name, obj([("description", .string(f.description)), ("allOf", .array([.object(p)]))]))
            }
            if case .ref = f.type {
                return (f.name, obj([("description", .string(f.description)), ("allOf", .array([.object(p)]))]))
            }
            p.removeAll { $0.0 == "description" }
            return (f.name, .object([("description", .string(f.description))] + p))
        })))
        return obj(m)
    }

    static let errorSchema: JSONValue = obj([
        ("type", .string("object")), ("required", names(["error"])),
        ("properties", obj([("error", obj([
            ("type", .string("object")), ("required", names(["code", "message", "request_id"])),
            ("properties", obj([
                ("code", obj([("type", .string("string")), ("enum", names(APIError.Code.allCases.map(\.rawValue)))])),
                ("message", obj([("type", .string("string"))])),
                ("request_id", obj([("type", .string("string"))])),
            ])),
        ]))])),
    ])

    /// The path parameters of `r`.
    static func parameters(_ r: Route) -> JSONValue {
        var out: [JSONValue] = r.parameters.map { name in
            let s: JSONValue = switch name {
            case "pid": obj([("type", .string("integer")), ("minimum", .int(1))])
            case "name": obj([("type", .string("string")), ("enum", names(OpName.syscalls.map(\.canonical)))])
            default: obj([("type", .string("string"))])
            }
            let what = ["sid": "session id", "pid": "process id", "name": "syscall name"][name] ?? name
            return obj([("name", .string(name)), ("in", .string("path")), ("required", .bool(true)),
                        ("description", .string(what)), ("schema", s)])
        }
        for f in r.query?.fields ?? [] {
            out.append(obj([("name", .string(f.name)), ("in", .string("query")), ("required", .bool(f.required)),
                            ("description", .string(f.description)), ("schema", schema(f.type))]))
        }
        out.append(obj([("name", .string("pretty")), ("in", .string("query")), ("required", .bool(false)),
                        ("description", .string("indent the JSON answer")), ("schema", obj([("type", .string("string"))]))]))
        return .array(out)
    }

    static func operation(_ r: Route) -> JSONValue {
        var ok: [(String, JSONValue)] = [("description", .string(r.answer))]
        if r.status != .noContent {
            let body: JSONValue = r.contentType.hasPrefix("application/json") ? obj([("type", .string("object"))]) : obj([("type", .string("string"))])
            ok.append(("content", obj([(r.contentType, obj([("schema", body)]))])))
        }
        let error = obj([("description", .string("error")), ("content", obj([("application/json", obj([("schema", ref("Error"))]))]))])
        var m: [(String, JSONValue)] = [
            ("summary", .string(r.summary)),
            ("operationId", .string(r.method.rawValue.lowercased() + r.pattern.map { "/{}".contains($0) ? "_" : String($0) }.joined())),
            ("parameters", parameters(r)),
            ("responses", obj([(String(r.status.code), obj(ok)), ("4XX", error), ("5XX", error)])),
        ]
        if let b = r.request {
            m.append(("requestBody", obj([("required", .bool(false)), ("content", obj([("application/json", obj([("schema", ref(b.name))]))]))])))
        } else if !r.alternatives.isEmpty {
            m.append(("requestBody", obj([("required", .bool(false)), ("content", obj([("application/json", obj([
                ("schema", obj([("oneOf", .array(r.alternatives.map { ref($0.name) }))]))]))]))])))
        }
        return obj(m)
    }

    /// The document.
    static var value: JSONValue {
        var paths: [(String, JSONValue)] = []
        for r in RouteTable.all {
            let op = (r.method.rawValue.lowercased(), operation(r))
            if let i = paths.firstIndex(where: { $0.0 == r.pattern }), case let .object(ops) = paths[i].1 {
                paths[i].1 = .object(ops + [op])
            } else {
                paths.append((r.pattern, obj([op])))
            }
        }
        var schemas: [(String, JSONValue)] = [("Error", errorSchema)]
        for s in Schemas.all where !schemas.contains(where: { $0.0 == s.name }) { schemas.append((s.name, schema(s))) }
        schemas.append(("Op", obj([("description", .string("One operation of a batch or compare: `op` names it.")),
                                    ("oneOf", .array(Schemas.allOps.map { ref("Op_\($0.canonical)") }))])))
        schemas.append(("ThreadOp", obj([("description", .string("One operation of a thread's program: an `ops` entry without `pid`.")),
                                          ("oneOf", .array(ExploreRequest.threadOpNames.map { ref("ThreadOp_\($0)") }))])))
        return obj([
            ("openapi", .string("3.1.0")),
            ("info", obj([("title", .string("mmsim")), ("version", .string("1")),
                          ("description", .string("Simulated Linux memory management: VMAs, anon_vmas, page faults and their lock paths under several kernel models. The contract in words: docs/API.md."))])),
            ("servers", .array([obj([("url", .string("/"))])])),
            ("paths", .object(paths)),
            ("components", obj([("schemas", .object(schemas))])),
        ])
    }

    /// The encoded document (compact, newline-terminated).
    static let document: [UInt8] = JSONOutput.encode(value)
}
