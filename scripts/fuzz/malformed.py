"""Malformed raw requests, sent one-shot: random bytes, broken request lines,
huge and duplicate headers, bad Content-Length and Transfer-Encoding,
truncated and dribbled bodies, pipelined mixes, traversal paths, noise."""

from .limits import MAX_BODY, MAX_HEADER


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
