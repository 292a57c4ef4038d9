#!/usr/bin/env python3
"""Runs README.md's shell blocks as written, so the walkthrough cannot drift.

    python3 scripts/readme_test.py [README.md]

Every block fenced as ```sh is run, in order, in one bash (variables carry
over from block to block, as when pasted into one terminal), from the
repository root, with `set -e -o pipefail`. Blocks fenced otherwise
(```console for output, ```swift) are not run. MMSIM_PORT=0 is set so that
the server the README starts takes a free port instead of 8080 (the README
reads the URL the server prints, so it works either way).

A block passes if every command in it succeeds and no answer in its output
is a JSON error. When a block is followed by a paragraph `prints` and a plain
``` block, the block's output must contain each line of that block: the
README's printed results are checked too. Afterwards the server the README started must be gone (the
README shows how to stop it); if it is not, it is stopped here and that
counts as a failure. Prints one line per block and `readme: N passed, N failed`.
"""
import os
import shutil
import tempfile
import re
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = "::readme-block"


def shell_blocks(text):
    """(line number, code) of each ```sh block."""
    return [(line, code) for line, code, _ in shell_blocks_with_output(text)]


def shell_blocks_with_output(text):
    """(line number, code, expected output lines or None) of each ```sh block; the
    expected lines are a plain ``` block that follows the paragraph `prints`."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            expected = None
            f = j + 1
            while f < len(lines) and not lines[f].strip():
                f += 1
            if f < len(lines) and lines[j].strip() == "prints" and lines[f].strip() == "```":
                expected, k = [], f + 1
                while k < len(lines) and lines[k].strip() != "```":
                    expected.append(lines[k])
                    k += 1
            blocks.append((start + 1, "\n".join(body), expected))
        i += 1
    return blocks


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def main():
    readme = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "README.md")
    with open(readme) as f:
        text = f.read()
        blocks = shell_blocks(text)
        expected = [e for _, _, e in shell_blocks_with_output(text)]
    if not blocks:
        print("readme: no ```sh blocks in %s" % readme)
        print("readme: 0 passed, 1 failed")
        sys.exit(1)
    script = ["set -e -o pipefail"]
    for n, (_, code) in enumerate(blocks):
        script += ["echo '%s %d start'" % (MARK, n), code, "echo '%s %d ok'" % (MARK, n)]
    # Journals go to a scratch folder, not the checkout's ./data.
    data_dir = tempfile.mkdtemp(prefix="mmsim-readme-data-")
    env = dict(os.environ, MMSIM_PORT="0", MMSIM_DATA_DIR=data_dir, PATH="/opt/swift/usr/bin:" + os.environ.get("PATH", ""))
    started = time.monotonic()
    run = subprocess.run(["bash", "-c", "\n".join(script)], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    out = run.stdout
    shutil.rmtree(data_dir, ignore_errors=True)
    print(out, end="" if out.endswith("\n") else "\n")
    passed = failed = 0
    for n, (line, _) in enumerate(blocks):
        m = re.search(r"%s %d start\n(.*?)%s %d ok\n" % (MARK, n, MARK, n), out, re.S)
        if m is None:
            reached = ("%s %d start" % (MARK, n)) in out
            why = "exit status %d" % run.returncode if reached else "not reached"
            print("FAIL README.md:%d block %d: %s" % (line, n + 1, why))
            failed += 1
        elif re.search(r'\{"error":\s*\{', m.group(1)):
            print("FAIL README.md:%d block %d: an answer was a JSON error" % (line, n + 1))
            failed += 1
        elif expected[n] is not None and any(e not in m.group(1).split("\n") for e in expected[n]):
            missing = [e for e in expected[n] if e not in m.group(1).split("\n")]
            print("FAIL README.md:%d block %d: printed output differs from the README: %s" % (line, n + 1, missing[:3]))
            failed += 1
        else:
            print("ok   README.md:%d block %d" % (line, n + 1))
            passed += 1
    # The server the README started (its pid is in the daemon's "as pid N" line) must be stopped by it.
    pids = [int(p) for p in re.findall(r"serving \S+ as pid (\d+)", out)]
    for pid in pids:
        deadline = time.monotonic() + 2
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
            print("FAIL the README left its server (pid %d) running" % pid)
            failed += 1
        else:
            print("ok   the README stopped the server it started (pid %d)" % pid)
            passed += 1
    if not pids:
        print("FAIL the README started no server with `mmsim serve --daemon`")
        failed += 1
    print("readme: %.1f s" % (time.monotonic() - started))
    print("readme: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
