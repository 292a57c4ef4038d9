#!/usr/bin/env bash
# The README's curl walk-through as a script with assertions: the thread's
# libc loading sequence, then faults in the data segment under 6.4 and 6.18.
# Usage: scripts/e2e.sh [BINARY]   (default .build/debug/mmsim)
#        E2E_URL=http://HOST:PORT scripts/e2e.sh   against a running service (e.g. instances behind nginx)
set -euo pipefail
if [ -n "${E2E_URL:-}" ]; then
  URL=${E2E_URL%/}
else
  BIN=${1:-${MMSIM_BIN:-.build/debug/mmsim}}
  OUT=$(mktemp)
  "$BIN" --port 0 --access_log false --data_dir "" >"$OUT" 2>&1 &  # nothing persisted in the checkout
  PID=$!
  trap 'kill $PID 2>/dev/null || true; rm -f "$OUT"' EXIT
  for _ in $(seq 100); do grep -q "listening on" "$OUT" && break; sleep 0.05; done
  URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$OUT" | head -1)
  URL=${URL%/}
  [ -n "$URL" ] || { echo "server did not start"; cat "$OUT"; exit 1; }
fi
fails=0; passes=0
check() { # check DESCRIPTION PYTHON-EXPR JSON
  if python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if ($2) else 1)" "$3"; then
    passes=$((passes+1)); echo "ok   $1"
  else
    fails=$((fails+1)); echo "FAIL $1: $3" | cut -c1-600
  fi
}
post() { curl -sS -X POST -H 'Content-Type: application/json' -d "$2" "$URL$1"; }

check "healthz" 'd["status"]=="ok"' "$(curl -sS "$URL/healthz")"

for KERNEL in 6.4 6.18; do
  S=$(post /v1/sessions "{\"kernel\": \"$KERNEL\"}")
  check "$KERNEL: session created" 'd["kernel"]=="'$KERNEL'"' "$S"
  SID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$S")
  post /v1/sessions/$SID/files '{"path": "/lib/x86_64-linux-gnu/libc.so.6", "size": 1970000}' >/dev/null
  P=$(post /v1/sessions/$SID/processes '{"comm": "cat"}')
  check "$KERNEL: process 1" 'd["pid"]==1' "$P"
  B=/v1/sessions/$SID/processes/1/syscalls
  R=$(post $B/open '{"path": "/lib/x86_64-linux-gnu/libc.so.6", "flags": "O_RDONLY|O_CLOEXEC"}')
  check "$KERNEL: open returns fd 3" 'd["return"]==3' "$R"
  R=$(post $B/mmap '{"addr": "0x7f0ce612e000", "length": 1970000, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE", "fd": 3, "offset": 0}')
  check "$KERNEL: mmap whole file" 'd["return"]=="0x7f0ce612e000"' "$R"
  post $B/mmap '{"addr": "0x7f0ce6154000", "length": 1396736, "prot": "PROT_READ|PROT_EXEC", "flags": "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE", "fd": 3, "offset": "0x26000"}' >/dev/null
  post $B/mmap '{"addr": "0x7f0ce62a9000", "length": 339968, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE", "fd": 3, "offset": "0x17b000"}' >/dev/null
  R=$(post $B/mmap '{"addr": "0x7f0ce62fc000", "length": 24576, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE", "fd": 3, "offset": "0x1ce000"}')
  check "$KERNEL: strace spelling" '"MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x1ce000) = 0x7f0ce62fc000" in d["strace"]' "$R"
  post $B/mmap '{"addr": "0x7f0ce6302000", "length": 53072, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS", "fd": -1, "offset": 0}' >/dev/null
  V=$(curl -sS $URL/v1/sessions/$SID/processes/1/vmas)
  check "$KERNEL: five VMAs" 'len(d["vmas"])==5' "$V"
  F=$(post /v1/sessions/$SID/processes/1/faults '{"address": "0x7f0ce62fc010", "access": "write"}')
  if [ "$KERNEL" = 6.4 ]; then
    check "6.4: data write falls back (vma_not_anonymous)" 'd["lock"]["path"]=="vma_lock_then_mmap_lock" and d["lock"]["code"]=="NOT_ANON" and d["lock"]["reason"]=="vma_not_anonymous"' "$F"
  else
    check "6.18: data write under the VMA lock with trylock" 'd["lock"]["path"]=="vma_lock" and d["lock"]["code"]=="VMA_OK_TRYLOCK"' "$F"
  fi
  check "$KERNEL: do_cow_fault allocated an anon_vma" 'd["handler"]=="do_cow_fault" and d["anon_vma"]["action"]=="allocated"' "$F"
  F=$(post /v1/sessions/$SID/processes/1/faults '{"address": "0x7f0ce6302000", "access": "write"}')
  if [ "$KERNEL" = 6.4 ]; then
    check "6.4: anon tail write falls back (anon_vma_not_set)" 'd["lock"]["code"]=="NO_ANON_VMA"' "$F"
  else
    check "6.18: anon tail write VMA_OK_TRYLOCK" 'd["lock"]["code"]=="VMA_OK_TRYLOCK"' "$F"
  fi
  check "$KERNEL: tail does not reuse the data segment's anon_vma (vm_file differs)" 'd["anon_vma"]["action"]=="allocated" and any(c["side"]=="prev" and not c["compatible"] for c in d["anon_vma"]["candidates"])' "$F"
  A=$(curl -sS $URL/v1/sessions/$SID/anon_vmas)
  check "$KERNEL: two anon_vmas in the forest" 'len(d["anon_vmas"])==2' "$A"
  M=$(curl -sS $URL/v1/sessions/$SID/processes/1/maps)
  check "$KERNEL: maps names libc" '"libc.so.6" in d' "$(python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))' <<<"$M")"
  ST=$(curl -sS $URL/v1/sessions/$SID/stats)
  check "$KERNEL: stats count two faults" 'd["faults"]["total"]==2' "$ST"
done
E=$(curl -sS -X POST -d '{"kernel": "7.0"}' "$URL/v1/sessions")
check "unknown kernel is a 400 naming the field" 'd["error"]["code"]=="bad_request" and "kernel" in d["error"]["message"]' "$E"
echo "e2e: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
