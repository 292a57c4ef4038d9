"""Strict HTTP/1.1 response parsing (status line, headers, Content-Length or
chunked framing) and the content checks every answer must pass."""

import json
import re


STATUS_LINE = re.compile(rb"^HTTP/1\.[01] ([1-5][0-9][0-9]) [\x20-\x7e]*$")
HEADER_LINE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\x20-\x7e\t]*?)[ \t]*$")
# Answers an API request may legitimately get (docs/API.md "Conventions").
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
