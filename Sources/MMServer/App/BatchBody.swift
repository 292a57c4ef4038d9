/// POST …/ops bodies decoded straight from their bytes, for the common
/// shape `{"detail": "summary"|"full", "ops": [flat objects]}`: no JSON
/// tree, no String per key. Anything else (other members, nested values,
/// escapes, an op that does not decode, too many ops) is declined, and the
/// caller decodes the body the general way, which gives the same ops or
/// the exact error.
enum BatchBody {
    /// The decoded ops and whether `detail` is "summary"; nil when declined.
    static func decode(_ body: [UInt8], maxOps: Int) -> (ops: [Op], summary: Bool)? {
        body.withUnsafeBufferPointer { b -> (ops: [Op], summary: Bool)? in
            var s = RawJSONScanner(b)
            s.skipSpace()
            guard s.eat(UInt8(ascii: "{")) else { return nil }
            var ops: [Op]?
            var summary: Bool?
            while true {
                s.skipSpace()
                guard let key = s.plainString() else { return nil }
                s.skipSpace()
                guard s.eat(UInt8(ascii: ":")) else { return nil }
                s.skipSpace()
                if s.bytes(key, equal: "ops") {
                    guard ops == nil, let list = opList(&s, maxOps: maxOps) else { return nil }
                    ops = list
                } else if s.bytes(key, equal: "detail") {
                    guard summary == nil, let v = s.plainString() else { return nil }
                    if s.bytes(v, equal: "summary") {
                        summary = true
                    } else if s.bytes(v, equal: "full") {
                        summary = false
                    } else {
                        return nil
                    }
                } else {
                    return nil
                }
                s.skipSpace()
                if s.eat(UInt8(ascii: ",")) { continue }
                if s.eat(UInt8(ascii: "}")) { break }
                return nil
            }
            s.skipSpace()
            guard s.atEnd, let ops else { return nil }
            return (ops, summary ?? false)
        }
    }

    /// `[op, …]`, each op decoded by `Op.decode` over RawFields.
    private static func opList(_ s: inout RawJSONScanner, maxOps: Int) -> [Op]? {
        guard s.eat(UInt8(ascii: "[")) else { return nil }
        var ops: [Op] = []
        ops.reserveCapacity(min(maxOps, s.b.count / 64 + 1))
        s.skipSpace()
        if s.eat(UInt8(ascii: "]")) { return ops }
        while true {
            s.skipSpace()
            guard ops.count < maxOps, let fields = s.flatObject() else { return nil }
            do throws(APIError) {
                ops.append(try Op.decode(fields))
            } catch {
                return nil
            }
            s.skipSpace()
            if s.eat(UInt8(ascii: ",")) { continue }
            if s.eat(UInt8(ascii: "]")) { return ops }
            return nil
        }
    }
}
