"""Random values for API requests: JSON of every type, addresses, lengths,
flag sets, syscall bodies, batch ops, and JSON text that is sometimes broken."""

import json


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
