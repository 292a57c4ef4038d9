"""Limits the server is started with (small, so limit paths are reachable),
and how long the fuzzer waits for answers."""


MAX_HEADER = 8192
MAX_BODY = 65536
# Above what one run creates (a few hundred), so no worker's create depends on
# the others' (that would make the run depend on thread timing); the limit
# itself is reached once, at the end (cli.check_session_limit).
MAX_SESSIONS = 1000
MAX_PROCS = 12
MAX_BATCH = 200
READ_TIMEOUT = 2      # seconds the server waits for the rest of a request
IDLE_TIMEOUT = 5
IO_TIMEOUT = 8.0      # seconds we wait for an answer before calling it a hang
