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
        // Each op is an object: the body's '{' count (less the outer one) is
        // the exact count for flat ops, so the array the log keeps has no slack.
        ops.reserveCapacity(min(maxOps, count(UInt8(ascii: "{"), in: s.b)))
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

    /// How many bytes of `b` are `byte`, eight at a time.
    static func count(_ byte: UInt8, in b: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = b.baseAddress else { return 0 }
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let pattern = ones &* UInt64(byte)
        var n = 0, i = 0
        let raw = UnsafeRawPointer(base)
        while i + 8 <= b.count {
            let x = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ pattern
            // A byte of x is zero exactly where `byte` was; mark each with a 1
            // in its low bit, then sum the eight bytes into the top one with a
            // multiply (the default x86-64 target has no popcnt instruction,
            // and nonzeroBitCount's fallback sequence cost more than the scan).
            let marks = (~(((x & ~highs) &+ ~highs) | x) & highs) >> 7
            n += Int((marks &* ones) >> 56)
            i += 8
        }
        while i < b.count {
            if b[i] == byte { n += 1 }
            i += 1
        }
        return n
    }
}
