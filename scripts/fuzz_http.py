#!/usr/bin/env python3
"""HTTP fuzz test of mmsim (Python standard library only).

    python3 scripts/fuzz_http.py --bin .build/debug/mmsim [--count 12000] [--seed 1]

The entry point of the package scripts/fuzz/ (its __init__.py says what is
sent and checked).  Prints one line per failure (at most --show) and finally
exactly `fuzz: N passed, M failed`; exits 1 if anything failed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
