"""The pass/fail tally: every check prints one PASS or FAIL line."""


PASSED, FAILED = [], []


def check(name, cond, detail=""):
    (PASSED if cond else FAILED).append(name)
    print(("PASS " if cond else "FAIL ") + name + ("" if cond or not detail else f" — {detail}"), flush=True)
    return cond
