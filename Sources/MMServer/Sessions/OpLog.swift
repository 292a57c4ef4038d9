import MMHTTP
/// A session's operation log: every applied op in order. Kept in chunks so
/// that a batch's decoded array becomes a chunk as it is, without copying
/// its ops (a batch of 10,000 ops would otherwise copy 10,000 enums and
/// regrow one ever larger array). Single ops go to an open chunk.
struct OpLog: Sequence {
    private var chunks: [[Op]] = []
    /// Index in the log of each chunk's first op.
    private var starts: [Int] = []
    /// Whether the last chunk takes single appends (it is not a batch's array).
    private var lastIsOpen = false
    /// Ops in the log.
    private(set) var count = 0

    /// A batch smaller than this is copied into the open chunk.
    static let minChunk = 64

    /// Appends one op.
    mutating func append(_ op: Op) {
        if !lastIsOpen {
            starts.append(count)
            chunks.append([])
            lastIsOpen = true
        }
        chunks[chunks.count - 1].append(op)
        count += 1
    }

    /// Appends ops in order; a large array is kept as it is.
    mutating func append(contentsOf ops: [Op]) {
        guard ops.count >= Self.minChunk else {
            for op in ops { append(op) }
            return
        }
        starts.append(count)
        // Kept as is unless much of its capacity would be wasted.
        chunks.append(ops.capacity > ops.count + ops.count / 8 ? Array(ops) : ops)
        lastIsOpen = false
        count += ops.count
    }

    /// The op at `index` (0-based).
    subscript(index: Int) -> Op {
        precondition(index >= 0 && index < count, "log index out of range")
        // The last chunk whose start is at most `index`.
        var lo = 0, hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= index { lo = mid } else { hi = mid - 1 }
        }
        return chunks[lo][index - starts[lo]]
    }

    func makeIterator() -> FlattenSequence<[[Op]]>.Iterator { chunks.joined().makeIterator() }
}
