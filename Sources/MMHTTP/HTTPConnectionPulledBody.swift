/// Pulled response bodies (``HTTPResponse/Body/pull(_:)``), on the loop:
/// pieces asked of the source while little waits to be sent, chunk-framed
/// for HTTP/1.1, and the source woken or cancelled.
extension HTTPConnection {
    // MARK: - Pulled bodies (on the loop)

    /// Asks the source for pieces while little is waiting to be sent. Returns
    /// `true` when the body ended (buffered requests may be served next).
    func pump(now: Double) -> Bool {
        guard let source, !sourceWaiting else { return false }
        let waker = self.waker ?? HTTPWaker { [self, loop] in loop.post(.wake(self)) }
        self.waker = waker
        while out.count - outOffset < Self.pullLowWater {
            waker.consumed()
            switch source.next(budget: Self.pullPiece, waker: waker) {
            case .data(let bytes):
                guard !bytes.isEmpty else { continue }
                if sourceChunked {
                    appendUTF8(String(bytes.count, radix: 16), to: &out)
                    out.append(contentsOf: [13, 10])
                    out.append(contentsOf: bytes)
                    out.append(contentsOf: [13, 10])
                } else {
                    out.append(contentsOf: bytes)
                }
            case .wait:
                sourceWaiting = true
                sourcePolled = now
                return false
            case .end:
                if sourceChunked { out.append(contentsOf: [48, 13, 10, 13, 10]) }  // "0\r\n\r\n"
                self.source = nil
                self.waker = nil
                if !sourceKeepAlive { closeAfterFlush = true }
                loop.updateInterest(self)
                return true
            }
        }
        return false
    }

    /// The source has more (``HTTPWaker/wake()``), or it is time to ask again.
    func sourceWoken(now: Double) {
        guard source != nil, !isBusy else { return }
        sourceWaiting = false
        serve(now: now)
    }

    /// The connection is closing: the source lets go of what it holds.
    func cancelSource() {
        guard let source else { return }
        self.source = nil
        waker = nil
        source.cancel()
    }
}
