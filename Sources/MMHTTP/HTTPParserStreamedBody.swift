/// A step of a streamed body (``HTTPParser/nextBodyBytes()``).
public enum HTTPBodyBytes: Sendable, Equatable {
    /// Decoded body bytes.
    case data([UInt8])
    /// Feed more input.
    case needMore
    /// The body is complete.
    case end
}

/// Streamed request bodies (``HTTPParser/streamedBodyLimit``): the body
/// handed out piece by piece as it is decoded instead of being collected.
extension HTTPParser {
    /// The next decoded bytes of a streamed body (``streamedBodyLimit``):
    /// `.data` as they are decoded (at most what was fed), `.needMore` when
    /// more must be fed, `.end` once the body (and its trailers) is complete;
    /// after `.end` the parser reads the next request. Errors are sticky, as
    /// for ``nextRequest()``; over the limit it throws ``HTTPParserError/bodyTooLarge``.
    public mutating func nextBodyBytes() throws(HTTPParserError) -> HTTPBodyBytes {
        if case .failed(let error) = state { throw error }
        guard streaming else { return .end }
        if !streamEnded {
            do {
                _ = try step()
            } catch {
                state = .failed(error)
                throw error
            }
        }
        if !body.isEmpty {
            defer { body.removeAll(keepingCapacity: true) }
            return .data(body)
        }
        if streamEnded {
            streaming = false
            streamEnded = false
            return .end
        }
        return .needMore
    }
}
