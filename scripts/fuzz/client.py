"""Connections to the server under test: one-shot (send, half-close, read to
EOF, parse every answer) and keep-alive (one request at a time, reconnecting
when the server closed the connection)."""

import socket
import time

from .limits import IO_TIMEOUT, MAX_BODY
from .responses import RAW_STATUSES, Failure, check_body, parse_one


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def one_shot(port, payload, head=False, split=None):
    """Sends payload on a fresh connection, half-closes, reads to EOF and parses
    every response in what came back. Returns the list of statuses."""
    s = connect(port)
    data = bytearray()
    reset = False
    try:
        try:
            if split:
                for piece in split(payload):
                    s.sendall(piece)
                    time.sleep(0.0005)
            else:
                s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            reset = True  # the server answered early (e.g. 413) and closed; read what it sent
        deadline = time.monotonic() + IO_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("hang: no EOF within %.0f s (got %d bytes: %r)" % (IO_TIMEOUT, len(data), bytes(data[:120])))
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                reset = True
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    statuses = []
    buf = bytes(data)
    while buf:
        r = parse_one(buf, head=head and not statuses)
        if r is None:
            raise Failure("truncated response (%d bytes): %r" % (len(buf), buf[:200]))
        status, headers, body, buf = r
        check_body(status, headers, body, api=False)
        statuses.append(status)
    if not statuses and payload.strip(b"\r\n") and not reset:
        raise Failure("connection closed without an answer")
    if reset and not statuses and len(payload) < MAX_BODY:
        raise Failure("connection reset without an answer")
    for st in statuses:
        if st not in RAW_STATUSES:
            raise Failure("unexpected status %d" % st)
    return statuses


class KeepAlive:
    """A keep-alive client connection; reconnects when the server closed it."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def request(self, method, path, body=None, ctype="application/json", extra=b""):
        head = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method.encode(), path.encode("latin-1"))
        if body is not None:
            head += b"Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype.encode(), len(body))
        msg = head + extra + b"\r\n" + (body or b"")
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self.sock = connect(self.port)
                self.buf = b""
            try:
                self.sock.sendall(msg)
                return self._read(method == "HEAD")
            except (BrokenPipeError, ConnectionResetError, _Closed):
                # The server closes idle or errored connections; retry once on a new one.
                self.close()
                if fresh or attempt == 1:
                    raise Failure("connection closed without an answer to %s %s" % (method, path[:80]))
        raise Failure("unreachable")

    def _read(self, head):
        deadline = time.monotonic() + IO_TIMEOUT
        got_any = False
        while True:
            r = parse_one(self.buf, head=head)
            if r is not None:
                status, headers, body, self.buf = r
                if 100 <= status < 200:
                    continue
                if "close" in headers.get("connection", "").lower():
                    self.close()
                return status, headers, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("hang: no complete answer within %.0f s (have %r)" % (IO_TIMEOUT, self.buf[:120]))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                if not got_any and not self.buf:
                    raise _Closed()
                raise Failure("connection closed mid-response: %r" % self.buf[:200])
            got_any = True
            self.buf += chunk


class _Closed(Exception):
    pass
