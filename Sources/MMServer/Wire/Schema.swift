import MMCore

/// The shape of a JSON request object, declared once: the general decoder
/// (`Args`) refuses any key not listed here (400 naming it), and
/// /openapi.json and docs/API.md describe the same fields, `required` and
/// `enum`s included.
struct Schema: Sendable {
    /// The name under `#/components/schemas`.
    let name: String
    let description: String
    let fields: [Field]

    /// Whether `key` is one of the fields.
    func allows(_ key: String) -> Bool { fields.contains { $0.name == key } }

    /// The field named `key`.
    func field(_ key: String) -> Field? { fields.first { $0.name == key } }

    /// This schema with `more` fields first and the given name.
    func with(_ more: [Field], name: String, description: String? = nil) -> Schema {
        Schema(name: name, description: description ?? self.description, fields: more + fields)
    }
}

/// One member of a request object.
struct Field: Sendable {
    let name: String
    let type: FieldType
    let required: Bool
    let description: String

    init(_ name: String, _ type: FieldType, required: Bool = false, _ description: String) {
        self.name = name
        self.type = type
        self.required = required
        self.description = description
    }
}

/// What a field holds, as the decoder reads it.
indirect enum FieldType: Sendable {
    case string
    case integer
    case boolean
    /// A JSON number (for values like `options` sizes that may be fractional).
    case number
    /// "0x…" hex string or integer (null: 0).
    case address
    /// A byte count or offset: integer or "0x…" string.
    case size
    /// One of a closed set of names.
    case oneOf([String])
    /// Flags in strace spelling ("A|B"), an array of names, or a number; the names of `table`.
    case flags(FlagTable)
    /// A nested object.
    case object(Schema)
    /// An array of `FieldType`.
    case array(FieldType)
    /// An object whose keys the caller names (thread names), each a `FieldType`.
    case map(FieldType)
    /// An object of the schema named (resolved by OpenAPI; for recursive or shared shapes).
    case ref(String)
}

extension FlagTable {
    /// Every name the table parses (the enum of its OpenAPI schema).
    var allNames: [String] {
        var names = [zeroName] + types.map(\.0) + entries.map(\.0)
        if isEnumeration { names = entries.map(\.0) }
        var seen = Set<String>()
        return names.filter { $0 != "0" && seen.insert($0).inserted }
    }
}
