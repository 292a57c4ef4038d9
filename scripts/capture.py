#!/usr/bin/env python3
"""Record a real program on this machine as a trace mmsim can replay.

    sudo python3 scripts/capture.py --out traces/NAME -- PROGRAM ARGS...

The entry point of the package scripts/capture/ (see its __init__.py for
how the outer run, the --inner ptrace tracer under perf and the
post-processing fit together, and scripts/CAPTURE.md for the output
format).  Python 3 standard library only.  perf record re-executes this
script with --inner, so it puts its own directory first on sys.path to
find the package wherever it is started from.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from capture.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
