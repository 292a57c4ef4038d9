#!/usr/bin/env python3
"""Numbers for docs/THREAD.md: runs `mmsim compare` on every captured trace
and prints markdown tables. Usage: scripts/thread_numbers.py [BIN] [TRACES_DIR]"""
import os, re, subprocess, sys

BIN = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/mmsim"
DIR = sys.argv[2] if len(sys.argv) > 2 else "Tests/MMCoreTests/Fixtures/traces"
KERNELS = "6.3,v3-patch,6.4,6.18"

def run(trace):
    out = subprocess.run([BIN, "compare", trace, "--kernels", KERNELS, "--option", "eager_anon_vma",
                          "--option", "skip_mergeable_for_file"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    header = lines[1].split()
    rows, extra = {}, {}
    for line in lines[2:]:
        line = line.strip()
        m = re.match(r"^(.*?)\s{2,}(\S.*)$", line)
        if line.startswith("VMAs at exit"):
            extra["census"] = {k: int(v) for v, k in [(m2.group(2), m2.group(1).strip()) for m2 in re.finditer(r"([a-z -]+?) \(?(\d+)", line.split(":", 1)[1])]}
            extra["census_text"] = line.split(":", 1)[1].strip()
            continue
        if line.startswith("agreement"):
            extra["agreement"] = line.split(":", 1)[1].strip()
            continue
        if not m:
            continue
        vals = m.group(2).split()
        if len(vals) == len(header):
            rows[m.group(1).strip()] = dict(zip(header, vals))
    return header, rows, extra

def main():
    traces = sorted(t for t in os.listdir(DIR) if os.path.exists(os.path.join(DIR, t, "perf.txt")))
    data = {t: run(os.path.join(DIR, t)) for t in traces}
    print("### Faults and lock paths per model\n")
    print("| program | faults | 6.3 mmap_lock | v3-patch fallbacks (NO_ANON_VMA / NOT_ANON) | 6.4 fallbacks | 6.18: trylock / fallbacks (by reason) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for t in traces:
        _, r, _ = data[t]
        g = lambda row, col: r.get(row, {}).get(col, "0")
        f = g("faults", "6.18")
        print(f"| {t} | {f} | {g('handled under mmap_lock','6.3')} | {g('handled under mmap_lock','v3-patch')} ({g('fallback NO_ANON_VMA','v3-patch')} / {g('fallback NOT_ANON','v3-patch')}) | {g('handled under mmap_lock','6.4')} | {g('VMA_OK_TRYLOCK (mmap_read_trylock)','6.18')} / {g('handled under mmap_lock','6.18')} ({', '.join(k.split()[-1] + ' ' + v['6.18'] for k, v in r.items() if k.startswith('fallback ') and k != 'fallback ratio' and v.get('6.18', '0') != '0')}) |")
    print("\n### The options\n")
    print("| program | anon_vmas 6.18 | reused next/prev 6.18 | 6.18+skip_mergeable_for_file reused | 6.18 trylocks | +skip trylocks | +eager trylocks | v3-patch NO_ANON_VMA | v3-patch+eager NO_ANON_VMA |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for t in traces:
        _, r, _ = data[t]
        g = lambda row, col: r.get(row, {}).get(col, "0")
        print(f"| {t} | {g('anon_vma allocated','6.18')} | {g('anon_vma reused from next','6.18')}/{g('anon_vma reused from prev','6.18')} | "
              f"{g('anon_vma reused from next','6.18+skip_mergeable_for_file')}/{g('anon_vma reused from prev','6.18+skip_mergeable_for_file')} | "
              f"{g('VMA_OK_TRYLOCK (mmap_read_trylock)','6.18')} | {g('VMA_OK_TRYLOCK (mmap_read_trylock)','6.18+skip_mergeable_for_file')} | "
              f"{g('VMA_OK_TRYLOCK (mmap_read_trylock)','6.18+eager_anon_vma')} | {g('fallback NO_ANON_VMA','v3-patch')} | {g('fallback NO_ANON_VMA','v3-patch+eager_anon_vma')} |")
    print("\n### VMAs at exit and agreement with the real kernel\n")
    for t in traces:
        _, _, e = data[t]
        print(f"- **{t}**: {e.get('census_text', '-')}; {e.get('agreement', '-')}")

if __name__ == "__main__":
    main()
