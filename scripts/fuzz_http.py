#!/usr/bin/env python3
"""HTTP fuzz test of mmsim (Python standard library only).

Starts the server on a free loopback port and sends at least 10,000 random and
malformed requests: raw bytes, broken request lines, huge and duplicate
headers, bad Content-Length and Transfer-Encoding, truncated bodies, pipelined
mixes, and random JSON to random API routes and random operation batches.
Checks that the server never crashes or hangs, that every answer is
well-formed HTTP/1.1 (status line parses, framing matches Content-Length or
chunked encoding, JSON bodies parse), that no request gets a 500, and that
/healthz still answers at the end.

    python3 scripts/fuzz_http.py --bin .build/debug/mmsim [--count 12000] [--seed 1]

Prints one line per failure (at most --show) and finally exactly
`fuzz: N passed, M failed`; exits 1 if anything failed.
"""

import argparse
import json
import os
import random
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

# --- limits the server is started with (small, so limit paths are reachable) ---
MAX_HEADER = 8192
MAX_BODY = 65536
MAX_SESSIONS = 48
MAX_PROCS = 12
MAX_BATCH = 200
READ_TIMEOUT = 2      # seconds the server waits for the rest of a request
IDLE_TIMEOUT = 5
IO_TIMEOUT = 8.0      # seconds we wait for an answer before calling it a hang

STATUS_LINE = re.compile(rb"^HTTP/1\.[01] ([1-5][0-9][0-9]) [\x20-\x7e]*$")
HEADER_LINE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\x20-\x7e\t]*?)[ \t]*$")
# Answers an API request may legitimately get (api.md "Conventions").
API_STATUSES = {200, 201, 204, 400, 404, 405, 409, 413, 422}
# Answers a malformed request may get from the HTTP layer.
RAW_STATUSES = {100, 200, 201, 204, 400, 404, 405, 408, 409, 411, 413, 414, 417, 422, 431, 501, 503, 505}


class Failure(Exception):
    pass


# --------------------------------------------------------------------------
# HTTP response parsing (strict)

def parse_one(buf, head=False):
    """Parses one response at the start of buf. Returns (status, headers, body, rest)
    or None if buf does not hold a complete response yet. Raises Failure if malformed."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > 65536:
            raise Failure("response head longer than 64 KiB")
        return None
    lines = buf[:end].split(b"\r\n")
    m = STATUS_LINE.match(lines[0])
    if not m:
        raise Failure("bad status line %r" % lines[0][:120])
    status = int(m.group(1))
    headers = {}
    for line in lines[1:]:
        hm = HEADER_LINE.match(line)
        if not hm:
            raise Failure("bad header line %r" % line[:120])
        name = hm.group(1).decode().lower()
        value = hm.group(2).decode("latin-1")
        if name in headers:
            if name in ("content-length", "transfer-encoding", "content-type"):
                raise Failure("duplicate %s header" % name)
            headers[name] += ", " + value
        else:
            headers[name] = value
    rest = buf[end + 4:]
    if "content-length" in headers and "transfer-encoding" in headers:
        raise Failure("both Content-Length and Transfer-Encoding")
    if head or status in (204, 304) or 100 <= status < 200:
        if 100 <= status < 200 or status == 204:
            if headers.get("content-length", "0") != "0" and not head:
                raise Failure("%d with a non-zero Content-Length" % status)
        return status, headers, b"", rest
    te = headers.get("transfer-encoding")
    if te is not None:
        if te.lower() != "chunked":
            raise Failure("unexpected Transfer-Encoding %r" % te)
        body = bytearray()
        pos = 0
        while True:
            nl = rest.find(b"\r\n", pos)
            if nl < 0:
                return None
            size_text = rest[pos:nl].split(b";")[0].strip()
            if not re.match(rb"^[0-9A-Fa-f]{1,15}$", size_text):
                raise Failure("bad chunk size line %r" % rest[pos:nl][:60])
            size = int(size_text, 16)
            pos = nl + 2
            if size == 0:
                # trailers until an empty line
                while True:
                    nl = rest.find(b"\r\n", pos)
                    if nl < 0:
                        return None
                    if nl == pos:
                        return status, headers, bytes(body), rest[nl + 2:]
                    pos = nl + 2
            if len(rest) < pos + size + 2:
                return None
            body += rest[pos:pos + size]
            if rest[pos + size:pos + size + 2] != b"\r\n":
                raise Failure("chunk not followed by CRLF")
            pos += size + 2
    cl = headers.get("content-length")
    if cl is None:
        raise Failure("%d response without Content-Length or chunked framing" % status)
    if not re.match(r"^[0-9]{1,12}$", cl):
        raise Failure("bad Content-Length %r" % cl)
    n = int(cl)
    if len(rest) < n:
        return None
    return status, headers, rest[:n], rest[n:]


def check_body(status, headers, body, api):
    """Content checks common to every answer."""
    if status >= 500 and status not in (501, 503, 505):
        raise Failure("server error %d: %r" % (status, body[:300]))
    ctype = headers.get("content-type", "")
    if body and ctype.startswith("application/json"):
        try:
            doc = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise Failure("invalid JSON body (%s): %r" % (e, body[:200]))
        if status >= 400:
            if not (isinstance(doc, dict) and isinstance(doc.get("error"), dict)
                    and isinstance(doc["error"].get("code"), str) and isinstance(doc["error"].get("message"), str)):
                raise Failure("%d without an error object: %r" % (status, body[:200]))
    if api and status not in API_STATUSES:
        raise Failure("unexpected status %d for an API request: %r" % (status, body[:200]))


# --------------------------------------------------------------------------
# Connections

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


# --------------------------------------------------------------------------
# Random values

BASE = 0x7F0000000000
PAGE = 4096
PROT = ["PROT_NONE", "PROT_READ", "PROT_WRITE", "PROT_EXEC", "PROT_SEM", "PROT_GROWSDOWN", "PROT_GROWSUP"]
MAP_SAFE = ["MAP_SHARED", "MAP_PRIVATE", "MAP_SHARED_VALIDATE", "MAP_ANONYMOUS", "MAP_FIXED", "MAP_FIXED_NOREPLACE",
            "MAP_NORESERVE", "MAP_DENYWRITE", "MAP_GROWSDOWN", "MAP_STACK", "MAP_32BIT", "MAP_HUGETLB",
            "MAP_EXECUTABLE", "MAP_NONBLOCK", "MAP_SYNC", "MAP_DROPPABLE", "MAP_UNINITIALIZED"]
MADV = ["MADV_NORMAL", "MADV_RANDOM", "MADV_SEQUENTIAL", "MADV_WILLNEED", "MADV_DONTNEED", "MADV_FREE", "MADV_REMOVE",
        "MADV_DONTFORK", "MADV_DOFORK", "MADV_MERGEABLE", "MADV_UNMERGEABLE", "MADV_HUGEPAGE", "MADV_NOHUGEPAGE",
        "MADV_DONTDUMP", "MADV_DODUMP", "MADV_WIPEONFORK", "MADV_KEEPONFORK", "MADV_COLD", "MADV_PAGEOUT",
        "MADV_POPULATE_READ", "MADV_POPULATE_WRITE", "MADV_GUARD_INSTALL", "MADV_GUARD_REMOVE", "MADV_COLLAPSE"]
MREMAP = ["MREMAP_MAYMOVE", "MREMAP_FIXED", "MREMAP_DONTUNMAP"]
OPEN = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_CLOEXEC", "O_CREAT", "O_TRUNC", "O_APPEND"]
PATHS = ["/lib/libc.so.6", "/etc/ld.so.cache", "/bin/cat", "/nonexistent", "", "/", "a" * 300, "/lib/../lib/libc.so.6"]
SYSCALLS = ["open", "close", "mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "fork", "exit"]
# MAP_LOCKED (0x2000) and MAP_POPULATE (0x8000) are kept out of random numeric flags: they make the
# simulator fault in every page of the range, so a huge random length would be a (real, reported)
# resource exhaustion rather than a protocol test. MAP_POPULATE appears only with small lengths.
NUMERIC_FLAG_MASK = ~(0x2000 | 0x8000) & 0xFFFFFFFF


def rnd_weird(r):
    """A value of a random JSON type."""
    return r.choice([None, True, False, 0, -1, 1, 2 ** 63 - 1, -2 ** 63, 2 ** 64, 1.5, -0.0, 1e308, "", "x", "0x",
                     "0xZZ", "-0x1000", "null", "PROT_READ", "\u0000", "\U0001F600", [], [1], {}, {"a": 1}, "9" * 40])


def rnd_addr(r, small=True):
    c = r.random()
    if c < 0.7:
        v = BASE + r.randrange(0, 256) * PAGE
        return hex(v) if r.random() < 0.7 else v
    if c < 0.8:
        return hex(BASE + r.randrange(0, 256) * PAGE + r.choice([1, 7, 2048]))
    if c < 0.85:
        return None
    if c < 0.9 and not small:
        return hex(r.choice([0, 0x1000, 0x10000, 2 ** 47 - PAGE, 2 ** 47, 2 ** 64 - PAGE]))
    return rnd_weird(r) if r.random() < 0.5 else hex(BASE)


def rnd_len(r, allow_huge=True):
    c = r.random()
    if c < 0.8:
        return r.choice([PAGE, 2 * PAGE, 3 * PAGE, 4 * PAGE, 8 * PAGE, 16 * PAGE, 64 * PAGE, 1, 100, PAGE - 1, PAGE + 1])
    if c < 0.87:
        return 0
    if c < 0.95 and allow_huge:
        return r.choice([2 ** 30, 2 ** 40, 2 ** 47, 2 ** 63 - 1, -1, -PAGE])
    return rnd_weird(r)


def rnd_flags(r, names, numeric_mask=0xFFFFFFFF):
    c = r.random()
    if c < 0.6:
        return "|".join(r.sample(names, r.randint(1, min(3, len(names)))))
    if c < 0.75:
        return r.sample(names, r.randint(0, min(3, len(names))))
    if c < 0.85:
        return r.randrange(0, 1 << 21) & numeric_mask
    if c < 0.92:
        return r.choice(names) + "|BOGUS_FLAG"
    return rnd_weird(r)


def syscall_body(r, name):
    if name == "open":
        b = {"path": r.choice(PATHS), "flags": rnd_flags(r, OPEN)}
    elif name == "close":
        b = {"fd": r.choice([0, 1, 2, 3, 4, 5, -1, 1000, 2 ** 40])}
    elif name == "mmap":
        populate = r.random() < 0.1
        names = MAP_SAFE + (["MAP_POPULATE"] if populate else [])
        b = {"addr": rnd_addr(r), "length": rnd_len(r, allow_huge=not populate) if not populate else r.choice([PAGE, 4 * PAGE, 16 * PAGE]),
             "prot": rnd_flags(r, PROT), "flags": rnd_flags(r, names, NUMERIC_FLAG_MASK),
             "fd": r.choice([-1, -1, -1, 3, 4, 0, 99]), "offset": r.choice([0, 0, PAGE, 0x26000, 1, -PAGE, 2 ** 62])}
        if populate and isinstance(b["flags"], str) and "MAP_POPULATE" not in b["flags"]:
            b["flags"] += "|MAP_POPULATE"
    elif name in ("munmap", "mprotect"):
        b = {"addr": rnd_addr(r, small=False), "length": rnd_len(r)}
        if name == "mprotect":
            b["prot"] = rnd_flags(r, PROT)
    elif name == "madvise":
        advice = rnd_flags(r, MADV)
        if isinstance(advice, int):
            advice &= 0xFF
        # populate advice only over small lengths (see NUMERIC_FLAG_MASK)
        b = {"addr": rnd_addr(r), "length": rnd_len(r, allow_huge=False), "advice": advice}
    elif name == "mremap":
        b = {"old_address": rnd_addr(r), "old_size": rnd_len(r), "new_size": rnd_len(r),
             "flags": rnd_flags(r, MREMAP), "new_address": rnd_addr(r)}
    elif name == "brk":
        b = {"brk": r.choice([None, 0, "0x555555559000", "0x55555555a000", "0x555555600000", "0x1000", hex(2 ** 47),
                              0x555555560000, "0x555555559001", -1, hex(2 ** 64 - PAGE), hex(2 ** 64 - PAGE + 1)])}
    elif name == "exit":
        b = {"status": r.choice([0, 1, 255, -1, 2 ** 40])} if r.random() < 0.8 else {}
    else:
        b = {}
    return mutate(r, b)


def mutate(r, body):
    """Usually valid; sometimes one field dropped, retyped, or an extra field added."""
    c = r.random()
    if c < 0.65 or not isinstance(body, dict):
        return body
    body = dict(body)
    keys = list(body)
    if c < 0.75 and keys:
        del body[r.choice(keys)]
    elif c < 0.9 and keys:
        body[r.choice(keys)] = rnd_weird(r)
    else:
        body[r.choice(["extra", "op", "pid", "__proto__", "x" * 100])] = rnd_weird(r)
    return body


def rnd_op(r, pids):
    kind = r.random()
    pid = r.choice(pids) if r.random() < 0.9 else r.choice([0, 99, -1, "1", None])
    if kind < 0.35:
        op = {"op": "fault", "pid": pid, "address": rnd_addr(r), "access": r.choice(["read", "write", "exec", "write"])}
        if r.random() < 0.2:
            op["inject"] = {k: r.random() < 0.5 for k in ("mmap_lock_contended", "vma_write_locked", "page_cache_miss")}
        if r.random() < 0.05:
            op["mode"] = r.choice(["user", "kernel", "root"])
    elif kind < 0.42:
        op = {"op": "touch", "pid": pid, "address": rnd_addr(r), "pages": r.choice([1, 2, 8, 64, 0, -1, 2 ** 20 + 1, "x"]),
              "access": r.choice(["read", "write"])}
    elif kind < 0.46:
        op = {"op": "process", "comm": r.choice(["sh", "", "x" * 64, 5])}
    elif kind < 0.48:
        op = {"op": "file", "path": r.choice(PATHS), "size": r.choice([0, 1, PAGE, 1970000, -1, "big"])}
    else:
        name = r.choice(SYSCALLS + ["openat", "exit_group", "clone", "vfork"] if r.random() < 0.97 else ["execve", "", 7])
        alias = {"openat": "open", "exit_group": "exit", "clone": "fork", "vfork": "fork"}
        op = dict(syscall_body(r, alias.get(name, name) if alias.get(name, name) in SYSCALLS else "fork"))
        if isinstance(op, dict):
            op["op"] = name
            op["pid"] = pid
    return mutate(r, op)


def rnd_json_value(r, depth=0):
    c = r.random()
    if depth > 3 or c < 0.5:
        return rnd_weird(r)
    if c < 0.75:
        return [rnd_json_value(r, depth + 1) for _ in range(r.randint(0, 4))]
    return {r.choice(["op", "ops", "pid", "addr", "length", "kernel", "path", "size", "a", "detail", "comm"]):
            rnd_json_value(r, depth + 1) for _ in range(r.randint(0, 5))}


def encode_body(r, value):
    """JSON text of value, sometimes broken."""
    text = json.dumps(value, separators=(",", ":") if r.random() < 0.5 else (", ", ": "))
    c = r.random()
    if c < 0.9:
        return text.encode()
    if c < 0.94 and text:
        return text[: r.randrange(len(text))].encode()          # truncated JSON
    if c < 0.97:
        return text.encode() + r.choice([b"}", b",", b" x", b"\x00", b"\xff"])
    return bytes(r.randrange(256) for _ in range(r.randint(0, 64)))


# --------------------------------------------------------------------------
# Raw (one-shot) cases

def raw_case(r, port, sid):
    """Returns (description, payload, head, split)."""
    c = r.randrange(16)
    api = "/v1/sessions/%s/processes/1/faults" % sid
    valid_body = b'{"address": "0x7f0000000000", "access": "read"}'
    if c == 0:
        n = r.choice([1, 2, 10, 100, 1000, 4096])
        return "random bytes", bytes(r.randrange(256) for _ in range(n)), False, None
    if c == 1:
        line = r.choice([b"GET", b"GET /", b"GET / HTTP/1.1", b"GET  / HTTP/1.1", b"GET / HTTP/9.9", b"GET / HTTP/1",
                         b"GET / HTTP/1.1 extra", b"get / HTTP/1.1", b"G\x00T / HTTP/1.1", b"GET\t/\tHTTP/1.1",
                         b" GET / HTTP/1.1", b"GET / http/1.1", b"GET /\x7f HTTP/1.1", b"GET /\xff HTTP/1.1",
                         b"GET http://127.0.0.1/healthz HTTP/1.1", b"OPTIONS * HTTP/1.1", b"CONNECT a:1 HTTP/1.1",
                         b"TRACE / HTTP/1.1", b"BREW /pot HTTP/1.1", b"/ HTTP/1.1", b"HTTP/1.1 200 OK", b"GET ? HTTP/1.1",
                         b"GET /%zz HTTP/1.1", b"GET /%00 HTTP/1.1", b"GET /healthz?%%% HTTP/1.1", b"PRI * HTTP/2.0",
                         b"GET /" + b"a" * (MAX_HEADER + 100) + b" HTTP/1.1", b"X" * 300 + b" / HTTP/1.1"])
        end = r.choice([b"\r\n\r\n", b"\n\n", b"\r\nHost: x\r\n\r\n", b"\r\n", b"", b"\r\r\r\r"])
        return "request line", line + end, False, None
    if c == 2:
        size = r.choice([MAX_HEADER - 200, MAX_HEADER + 1, MAX_HEADER * 2, 100000])
        return "huge header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n", False, None
    if c == 3:
        n = r.choice([50, 200, 1000, 3000])
        hdrs = b"".join(b"X-H%d: v\r\n" % i for i in range(n))
        return "many headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n", False, None
    if c == 4:
        a, b = r.choice([(4, 4), (4, 5), (0, 4), (4, 40)])
        return "duplicate Content-Length", (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n"
                                            % (api.encode(), a, b)) + b"{}  " + b"x" * 36, False, None
    if c == 5:
        cl = r.choice([b"-1", b"abc", b"+4", b"0x10", b"4 4", b"99999999999999999999999", b"", b" 4", b"4,4", b"1e3",
                       b"\xff", b"%d" % (MAX_BODY + 1), b"00000000000000000000000002"])
        return "bad Content-Length %r" % cl, (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n" % (api.encode(), cl)) + b"{}", False, None
    if c == 6:
        declared = r.choice([10, 100, 1000, MAX_BODY])
        sent = r.randrange(0, declared)
        return "truncated body", (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                                  % (api.encode(), declared)) + valid_body[:sent] + b" " * max(0, sent - len(valid_body)), False, None
    if c == 7:
        body = r.choice([b"5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n", b"2f\r\n" + valid_body + b"\r\n0\r\n\r\n",
                         b"zz\r\n{}\r\n0\r\n\r\n", b"ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n", b"2\r\n{}0\r\n\r\n",
                         b"2;ext=1\r\n{}\r\n0\r\nTrailer: x\r\n\r\n", b"2\r\n{}\r\n", b"-2\r\n{}\r\n0\r\n\r\n",
                         b"10000\r\n" + b"a" * 0x10000 + b"\r\n0\r\n\r\n", b"0\r\n\r\n", b"2\n{}\n0\n\n"])
        te = r.choice([b"chunked", b"Chunked", b"gzip, chunked", b"chunked, gzip", b"identity", b"chunked\r\nTransfer-Encoding: chunked", b"xchunked"])
        extra = b"Content-Length: 2\r\n" if r.random() < 0.2 else b""
        return "chunked %r" % te, (b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n%s\r\n" % (api.encode(), te, extra)) + body, False, None
    if c == 8:
        bad = r.choice([b"NoColon\r\n", b"Space : x\r\n", b" folded\r\n", b"X: a\x00b\r\n", b": empty\r\n", b"X-\xff: 1\r\n",
                        b"X: \xc3\xa9\r\n", b"Host: a\r\nHost: b\r\n", b"\tX: tab\r\n", b"X" * 20000 + b": 1\r\n",
                        b"Content-Type: application/json; charset=latin1\r\n", b"Expect: 100-continue\r\n",
                        b"Expect: something-else\r\n", b"Connection: upgrade\r\nUpgrade: h2c\r\n"])
        return "bad header %r" % bad[:30], (b"POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n" % (api.encode(), bad, len(valid_body))) + valid_body, False, None
    if c == 9:
        # pipelined mix of good and bad requests
        reqs = []
        for _ in range(r.randint(2, 6)):
            reqs.append(r.choice([b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                                  b"GET /v1/kernels HTTP/1.1\r\nHost: x\r\n\r\n",
                                  b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (api.encode(), len(valid_body), valid_body),
                                  b"POST /v1/sessions/%s/ops HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{\"ops\":[]" % sid.encode(),
                                  b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
                                  b"GARBAGE\r\n\r\n"]))
        return "pipeline", b"".join(reqs), False, None
    if c == 10:
        return "HTTP/1.0", r.choice([b"GET /healthz HTTP/1.0\r\n\r\n", b"GET /v1/kernels HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                                     b"POST /v1/sessions HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}",
                                     b"POST /v1/sessions HTTP/1.0\r\n\r\n{}"]), False, None
    if c == 11:
        return "HEAD", b"HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n" % r.choice([b"/", b"/healthz", b"/metrics", b"/v1/kernels", b"/nope"]), True, None
    if c == 12:
        body = b"x" * r.choice([MAX_BODY - 10, MAX_BODY + 1, MAX_BODY * 3])
        return "big body", (b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)) + body, False, None
    if c == 13:
        # a valid request dribbled in small pieces
        msg = (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (api.encode(), len(valid_body))) + valid_body
        return "dribbled", msg, False, lambda p: [p[i:i + 7] for i in range(0, len(p), 7)]
    if c == 14:
        path = r.choice([b"/../etc/passwd", b"/%2e%2e/etc/passwd", b"/..%2f..%2fetc/passwd", b"//etc/passwd",
                         b"/v1/../../etc/passwd", b"/index.html%00", b"/.", b"/%2f", b"/\\..\\etc\\passwd",
                         b"/v1/sessions/%2e%2e/x", b"/v1/sessions/" + sid.encode() + b"/%2e%2e/%2e%2e/healthz"])
        return "traversal %r" % path, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path, False, None
    # random printable noise with a plausible frame
    words = [b"GET", b"POST", b"/", b"HTTP/1.1", b"\r\n", b":", b" ", b"Content-Length", b"Host", b"{", b"}", b"\r\n\r\n", b"0", b"chunked"]
    return "noise", b"".join(r.choice(words) for _ in range(r.randint(1, 40))), False, None


# --------------------------------------------------------------------------
# API (keep-alive) cases

class Pool:
    """Sessions and processes the API fuzzer works on."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sessions = []  # ids


def api_case(r, conn, pool):
    """One random API request; returns (description, status)."""
    with pool.lock:
        sids = list(pool.sessions)
    sid = r.choice(sids) if sids and r.random() < 0.85 else r.choice(
        ["00000000-0000-4000-8000-000000000000", "nope", "", "%2e%2e", "a" * 200, "%00", sids[0].upper() if sids else "x"])
    pid = r.choice([1, 1, 1, 2, 2, 3]) if r.random() < 0.9 else r.choice(["0", "-1", "abc", "1.5", "99999999999999999999", "%31"])
    sp = "/v1/sessions/%s" % sid
    pp = "%s/processes/%s" % (sp, pid)
    c = r.random()
    if c < 0.30:
        name = r.choice(SYSCALLS) if r.random() < 0.95 else r.choice(["execve", "MMAP", "", "mmap/x"])
        body = syscall_body(r, name if name in SYSCALLS else "fork")
        return "syscall %s" % name, ("POST", "%s/syscalls/%s" % (pp, name), encode_body(r, body))
    if c < 0.45:
        pids = [1, 2, 3, 4]
        ops = [rnd_op(r, pids) for _ in range(r.choice([1, 5, 20, 50, MAX_BATCH, MAX_BATCH + 1]) if r.random() < 0.97 else 1)]
        body = {"ops": ops}
        if r.random() < 0.5:
            body["detail"] = r.choice(["summary", "full", "summary", "none", 1])
        return "ops", ("POST", sp + "/ops", encode_body(r, mutate(r, body)))
    if c < 0.58:
        op = rnd_op(r, [pid])
        if isinstance(op, dict):
            op.pop("op", None)
            op.pop("pid", None)
        return "fault", ("POST", pp + "/faults", encode_body(r, op))
    if c < 0.72:
        path = r.choice(["", "/stats", "/anon_vmas", "/log", "/files", "/processes", "/processes/%s" % pid,
                         "/processes/%s/vmas" % pid, "/processes/%s/maps" % pid, "/processes/%s/smaps" % pid,
                         "/processes/%s/pages" % pid, "/processes/%s/pages?start=%s&end=%s" % (pid, hex(BASE), hex(BASE + 0x100000)),
                         "/processes/%s/pages?start=%s" % (pid, r.choice(["x", "-1", "0x", "%zz", "18446744073709551616"])),
                         "/nothing", "/processes/%s/nothing" % pid])
        return "get", ("GET", sp + path, None)
    if c < 0.78:
        return "create process", ("POST", sp + "/processes", encode_body(r, mutate(r, {"comm": r.choice(["sh", "cat", 1, ""])})))
    if c < 0.82:
        body = {"path": r.choice(PATHS), "size": r.choice([PAGE, 1970000, 0, -1, "1"]), "mode": r.choice(["0644", "0755", "999", 420, None])}
        return "create file", ("POST", sp + "/files", encode_body(r, mutate(r, body)))
    if c < 0.87:
        body = {"kernel": r.choice(["6.3", "v3-patch", "6.4", "6.18", "6.18", "7.0", None, 6.4]),
                "options": r.choice([{}, {"eager_anon_vma": True}, {"skip_mergeable_for_file": True}, {"bogus": 1}, None, []]),
                "name": r.choice([None, "fuzz", "", 5, "\u00e9" * 10])}
        return "create session", ("POST", "/v1/sessions", encode_body(r, mutate(r, body)))
    if c < 0.89:
        return "delete session", ("DELETE", sp, None)
    if c < 0.93:
        path = r.choice(["/v1/kernels", "/v1/sessions", "/healthz", "/metrics", "/openapi.json", "/", "/index.html",
                         "/app.js", "/missing", "/v1", "/v1/", "/v1/compare", sp + "/replay"])
        method = r.choice(["GET", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
        return "misc", (method, path, encode_body(r, rnd_json_value(r)) if method in ("POST", "PUT", "PATCH") else None)
    if c < 0.96:
        body = {"format": r.choice(["strace", "perf", "maps", "x"]), "pid": 1, "faults": r.choice(["none", "touch"]),
                "text": r.choice(["mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n",
                                  "garbage(\n", "", "[pid 2] munmap(0x7f0000000000, 4096) = 0\n"])}
        return "replay", ("POST", sp + "/replay", encode_body(r, mutate(r, body)))
    if c < 0.98:
        body = {"kernels": r.choice([["6.3", "6.18"], ["6.4"], ["x"], [], "6.18"]),
                "ops": [rnd_op(r, [1]) for _ in range(r.randint(0, 8))]}
        return "compare", ("POST", "/v1/compare", encode_body(r, mutate(r, body)))
    # random JSON to a random route
    path = r.choice([sp + "/ops", pp + "/faults", pp + "/syscalls/mmap", sp + "/files", sp + "/processes", "/v1/sessions"])
    return "random json", ("POST", path, encode_body(r, rnd_json_value(r)))


# --------------------------------------------------------------------------

class Runner:
    def __init__(self, args, port, proc):
        self.args = args
        self.port = port
        self.proc = proc
        self.lock = threading.Lock()
        self.passed = 0
        self.failed = 0
        self.shown = 0
        self.statuses = {}
        self.started = time.monotonic()
        self.stop = False
        self.pool = Pool()
        self.last = {}          # worker seed -> description of its last request (for crash reports)
        self.crash_reported = False

    def record(self, ok, what, detail=""):
        with self.lock:
            if ok:
                self.passed += 1
            else:
                self.failed += 1
                if self.shown < self.args.show:
                    self.shown += 1
                    print("FAIL %s: %s" % (what, detail), flush=True)

    def count_status(self, kind, st):
        with self.lock:
            key = "%s %d" % (kind, st)
            self.statuses[key] = self.statuses.get(key, 0) + 1

    def alive(self):
        return self.proc.poll() is None

    def crashed(self):
        """If the server died: report it once, with every worker's last request, and stop."""
        if self.alive():
            return False
        with self.lock:
            first = not self.crash_reported
            self.crash_reported = True
            self.stop = True
        if first:
            self.failed += 1
            print("FAIL server: exited with %s; last requests:" % self.proc.returncode, flush=True)
            for k, v in sorted(self.last.items()):
                print("  worker %s: %s" % (k, v), flush=True)
        return True

    def out_of_time(self):
        return time.monotonic() - self.started > self.args.time_limit

    def setup_sessions(self, conn, r):
        """Keeps a handful of sessions with processes and a file to fuzz against."""
        with self.pool.lock:
            have = len(self.pool.sessions)
        for _ in range(max(0, 4 - have)):
            st, _h, body = conn.request("POST", "/v1/sessions", json.dumps({"kernel": r.choice(["6.3", "v3-patch", "6.4", "6.18"])}).encode())
            if st != 201:
                continue
            sid = json.loads(body)["id"]
            setup = {"ops": [{"op": "file", "path": "/lib/libc.so.6", "size": 1970000}, {"op": "process"}, {"op": "process"},
                             {"op": "open", "pid": 1, "path": "/lib/libc.so.6"},
                             {"op": "mmap", "pid": 1, "addr": hex(BASE), "length": 64 * PAGE, "prot": "PROT_READ|PROT_WRITE",
                              "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}]}
            conn.request("POST", "/v1/sessions/%s/ops" % sid, json.dumps(setup).encode())
            with self.pool.lock:
                self.pool.sessions.append(sid)

    def api_worker(self, seed, count):
        r = random.Random(seed)
        conn = KeepAlive(self.port)
        for i in range(count):
            if self.stop or self.out_of_time():
                break
            if i % 200 == 0:
                try:
                    self.setup_sessions(conn, r)
                except Exception as e:  # noqa: BLE001 — reported as a failure below
                    self.record(False, "setup", repr(e))
            what, (method, path, body) = api_case(r, conn, self.pool)
            self.last[seed] = "%s %s %r" % (method, path, (body or b"")[:2000])
            try:
                st, headers, resp = conn.request(method, path, body)
                check_body(st, headers, resp, api=True)
                if st == 413 and len(body or b"") <= MAX_BODY:
                    raise Failure("413 for a body under the limit")
                if what == "create session" and st == 201:
                    sid = json.loads(resp)["id"]
                    with self.pool.lock:
                        self.pool.sessions.append(sid)
                    st2, h2, b2 = conn.request("POST", "/v1/sessions/%s/processes" % sid, b"{}")
                    check_body(st2, h2, b2, api=True)
                    self.count_status("api", st2)
                    self.record(True, "process for a new session")
                if method == "DELETE" and st == 204:
                    with self.pool.lock:
                        sid = path.split("/")[3]
                        if sid in self.pool.sessions:
                            self.pool.sessions.remove(sid)
                self.count_status("api", st)
                self.record(True, what)
            except Failure as e:
                conn.close()
                if self.crashed():
                    break
                self.record(False, "%s %s %s" % (what, method, path[:100]), "%s; body %r" % (e, (body or b"")[:200]))
            except (OSError, ValueError) as e:
                conn.close()
                if self.crashed():
                    break
                self.record(False, "%s %s %s" % (what, method, path[:100]), repr(e))
            if self.crashed():
                break
        conn.close()

    def raw_worker(self, seed, count):
        r = random.Random(seed)
        for _ in range(count):
            if self.stop or self.out_of_time():
                break
            with self.pool.lock:
                sid = self.pool.sessions[0] if self.pool.sessions else "none"
            what, payload, head, split = raw_case(r, self.port, sid)
            self.last[seed] = "%s: %r" % (what, payload[:2000])
            try:
                for st in one_shot(self.port, payload, head=head, split=split):
                    self.count_status("raw", st)
                self.record(True, what)
            except Failure as e:
                if self.crashed():
                    break
                self.record(False, what, "%s; sent %r" % (e, payload[:160]))
            except OSError as e:
                if self.crashed():
                    break
                self.record(False, what, "%r; sent %r" % (e, payload[:160]))
            if self.crashed():
                break


def start_server(binary, public_dir, stderr_file):
    args = [binary, "--port", "0", "--host", "127.0.0.1", "--access_log", "false", "--public", public_dir,
            "--max_header_bytes", str(MAX_HEADER), "--max_body_bytes", str(MAX_BODY),
            "--max_sessions", str(MAX_SESSIONS), "--max_processes_per_session", str(MAX_PROCS),
            "--max_batch_ops", str(MAX_BATCH), "--read_timeout_seconds", str(READ_TIMEOUT),
            "--idle_timeout_seconds", str(IDLE_TIMEOUT), "--max_connections", "256"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSIM_")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr_file, stdin=subprocess.DEVNULL,
                            cwd=public_dir, env=env)
    line = b""
    deadline = time.monotonic() + 20
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            ch = os.read(proc.stdout.fileno(), 1)
            if not ch:
                break
            line += ch
    m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)/", line)
    if not m:
        proc.kill()
        sys.exit("fuzz: server did not start (first line %r)" % line)
    # Keep draining stdout so the server never blocks on it.
    threading.Thread(target=lambda: [None for _ in iter(lambda: proc.stdout.read(4096), b"")], daemon=True).start()
    return proc, int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.environ.get("MMSIM_BIN", ".build/debug/mmsim"))
    ap.add_argument("--count", type=int, default=12000, help="requests to send (at least 10000 for a pass)")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "20240229")))
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds for the whole run")
    ap.add_argument("--show", type=int, default=25, help="failures to print")
    ap.add_argument("--min-count", type=int, default=10000)
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit("fuzz: %s is not an executable (run swift build first)" % args.bin)

    public_dir = tempfile.mkdtemp(prefix="mmsim-fuzz-")
    with open(os.path.join(public_dir, "index.html"), "w") as f:
        f.write("<!doctype html><title>fuzz</title>\n")
    with open(os.path.join(public_dir, "app.js"), "w") as f:
        f.write("// fuzz\n")
    stderr_path = os.path.join(public_dir, "stderr.log")
    stderr_file = open(stderr_path, "wb")
    proc, port = start_server(os.path.abspath(args.bin), public_dir, stderr_file)
    print("fuzz: server pid %d on 127.0.0.1:%d, seed %d, %d requests, time limit %.0f s"
          % (proc.pid, port, args.seed, args.count, args.time_limit), flush=True)
    runner = Runner(args, port, proc)
    try:
        # Sessions first, then raw and API workers side by side.
        conn = KeepAlive(port)
        runner.setup_sessions(conn, random.Random(args.seed))
        conn.close()
        raw_n = args.count * 2 // 5
        api_n = args.count - raw_n
        plan = [(runner.raw_worker, args.seed + 1, raw_n // 2), (runner.raw_worker, args.seed + 2, raw_n - raw_n // 2),
                (runner.api_worker, args.seed + 3, api_n // 2), (runner.api_worker, args.seed + 4, api_n - api_n // 2)]
        threads = [threading.Thread(target=fn, args=(seed, n), daemon=True) for fn, seed, n in plan]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, args.time_limit + IO_TIMEOUT + 2 - (time.monotonic() - runner.started)))
            if t.is_alive():
                runner.stop = True
                runner.record(False, "runner", "a worker did not finish in time (server hang?)")

        # The server must still be alive and healthy.
        if runner.alive():
            try:
                st, _h, body = KeepAlive(port).request("GET", "/healthz")
                ok = st == 200 and json.loads(body).get("status") == "ok"
                runner.record(ok, "final /healthz", "%d %r" % (st, body[:200]))
            except (Failure, OSError, ValueError) as e:
                runner.record(False, "final /healthz", repr(e))
        else:
            runner.crashed()
        elapsed = time.monotonic() - runner.started
        total = runner.passed + runner.failed
        if total < args.min_count:
            runner.record(False, "coverage", "only %d requests in %.1f s (need %d)" % (total, elapsed, args.min_count))
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stderr_file.close()
    with open(stderr_path, "rb") as f:
        err = f.read().decode("utf-8", "replace")
    for needle in ("internal error", "Fatal error", "fatal error", "Segmentation", "panic"):
        if needle in err:
            runner.record(False, "server stderr", "contains %r" % needle)
            break
    if runner.failed and err.strip():
        lines = err.splitlines()
        why = [l.strip() for l in lines if "Fatal error" in l or "runtime failure" in l or "internal error" in l][:3]
        crashed = next((i for i, l in enumerate(lines) if "crashed:" in l), 0)
        frames = [l.strip() for l in lines[crashed:] if " in mmsim at /" in l and ".swift:" in l][:6]
        print("fuzz: server stderr: " + ("\n  ".join([""] + why + frames) if why or frames else err[-1500:]))
    shutil.rmtree(public_dir, ignore_errors=True)
    summary = ", ".join("%s: %d" % kv for kv in sorted(runner.statuses.items()))
    print("fuzz: %.1f s; answers %s" % (time.monotonic() - runner.started, summary))
    print("fuzz: %d passed, %d failed" % (runner.passed, runner.failed))
    sys.exit(1 if runner.failed else 0)


if __name__ == "__main__":
    main()
