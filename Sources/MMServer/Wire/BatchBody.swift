import MMHTTP
/// POST …/ops bodies decoded straight from their bytes, for the common
/// shape `{"detail": "summary"|"full", "ops": [flat objects]}`: no JSON
/// tree, no String per key. Anything else (other members, nested values,
/// escapes, an op that does not decode, too many ops) is declined, and the
/// caller decodes the body the general way, which gives the same ops or
/// the exact error.
enum BatchBody {
    /// The decoded ops and whether `detail` is "summary"; nil when declined.
    static func decode(_ body: [UInt8], maxOps: Int) -> (ops: [Op], summary: Bool)? {
        // The read mask of RawFields lives on the stack for the call.
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 1) { used -> (ops: [Op], summary: Bool)? in
            body.withUnsafeBufferPointer { b -> (ops: [Op], summary: Bool)? in
                var s = RawJSONScanner(b, used: used.baseAddress!)
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

    /// How many bytes of `b` are `byte`, sixteen at a time (SSE2 compares
    /// of the SIMD type), then byte by byte.
    static func count(_ byte: UInt8, in b: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = b.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        let pattern = SIMD16<UInt8>(repeating: byte), zero = SIMD16<UInt8>(), one = SIMD16<UInt8>(repeating: 1)
        var n = 0, i = 0
        while i + 16 <= b.count {
            // Per-lane counts in bytes, folded into `n` before a lane can
            // pass 255 (at most 255 blocks per round).
            var lanes = zero
            let end = min(b.count - 15, i + 255 * 16)
            while i < end {
                let x = raw.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
                lanes &+= zero.replacing(with: one, where: x .== pattern)
                i += 16
            }
            for k in 0..<16 { n += Int(lanes[k]) }
        }
        while i < b.count {
            if b[i] == byte { n += 1 }
            i += 1
        }
        return n
    }
}
