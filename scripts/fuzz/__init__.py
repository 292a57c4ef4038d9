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

Reproducible: each worker has its own seeded random stream and works only on
sessions it created, so the same --seed and --count send the same requests
and give the same counts (unless --time-limit cuts the run short). A failure
prints the command that reruns it: its worker alone (--only), up to the
failing request (--stop-after).

The package behind scripts/fuzz_http.py (the entry point, same command line):
limits (the server's small limits and our timeouts), responses (strict
HTTP response parsing and checks), client (one-shot and keep-alive
connections), values (random JSON values, syscall bodies and ops),
malformed (raw malformed-request cases), traffic (random API requests),
runner (the worker threads and their tally), server (starting mmsim) and
cli (the options and the run).
"""
