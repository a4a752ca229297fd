#!/usr/bin/env python3
"""Compact tables from scripts/scaling/run.sh results.

    python3 scripts/scaling/summarize.py scaling-base.tar.gz scaling-new.tar.gz     (or the extracted scaling-* dirs)
    python3 scripts/scaling/summarize.py --fan-detail ...                            (every W7 shape, every thread count)

1. base vs new: per benchmark and thread count, the median real time (ms) of each and new/base (< 1: new faster).
   W1 also shows its ns_per_spawn counter.
2. taskforge vs peers, per tree and thread count: taskforge's median / the peer's (< 1: taskforge faster).
   Peers: oneTBB, OpenMP and, for W2_join_fib30/W3_join_tree20, Rayon (rayon.txt, its own run, same session).
3. W7 fan-out/fan-in (taskforge_fan_out): geometric mean over the 12 shapes of taskforge's median round trip,
   new/base and taskforge/oneTBB, per thread count and mode (default; --same-total); the largest thread count
   shape by shape.
"""
import json
import math
import os
import re
import sys
import tarfile
import tempfile
from collections import defaultdict


def load_tree(path, tmp):
    """Returns (name, dir) for a scaling-<name>.tar.gz or a scaling-<name> directory."""
    if os.path.isfile(path):
        with tarfile.open(path) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)
            tops = {m.name.split("/")[0] for m in tar.getmembers()}
        top = sorted(tops)[0]
        return top.removeprefix("scaling-"), os.path.join(tmp, top)
    base = os.path.basename(os.path.normpath(path))
    return base.removeprefix("scaling-"), path


def to_ms(value, unit):
    return value * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def normalize(run_name, threads):
    name = re.sub(r"/repeats:\d+", "", run_name).replace("/real_time", "")
    name = re.sub(rf"/{threads}$", "", name)  # the thread-count argument of W2/W3 (= T)
    return name.replace("/n:10000000/min_chunk:0", "").replace("/10000000", "")


def read_bench(d):
    """{(name, T): {"ms": .., "ns_per_spawn": ..}} from the bench-<group>-t<T>.json medians; where a JSON file is
    missing or cut short (a crash, a timeout), from the console text beside it."""
    out = {}
    for f in sorted(os.listdir(d)):
        m = re.fullmatch(r"bench-(?:\w+-)?t(\d+)\.txt", f)
        if not m:
            continue
        threads = int(m.group(1))
        json_path = os.path.join(d, f[:-4] + ".json")
        try:
            data = json.load(open(json_path))
        except (json.JSONDecodeError, OSError) as e:
            print(f"# {json_path}: unreadable ({type(e).__name__}); medians from {f}", file=sys.stderr)
            data = None
        if data is not None:
            for b in data.get("benchmarks", []):
                if b.get("run_type") != "aggregate" or b.get("aggregate_name") != "median":
                    continue
                rec = {"ms": to_ms(b["real_time"], b["time_unit"])}
                if "ns_per_spawn" in b:
                    rec["ns_per_spawn"] = b["ns_per_spawn"]
                out[(normalize(b["run_name"], threads), threads)] = rec
            continue
        for line in open(os.path.join(d, f), errors="replace"):
            line = re.sub(r"\x1b\[[0-9;]*m", "", line)
            m2 = re.match(r"(\S+)_median\s+([\d.]+) (ns|us|ms|s)\s", line)
            if m2:
                out[(normalize(m2.group(1), threads), threads)] = {"ms": to_ms(float(m2.group(2)), m2.group(3))}
    return out


def read_rayon(d):
    out = {}
    path = os.path.join(d, "rayon.txt")
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r"(W\d_\w+)/rayon/(\d+)\s+median\s+([\d.]+) ms", line)
            if m:
                out[(m.group(1) + "/Rayon", int(m.group(2)))] = {"ms": float(m.group(3))}
    return out


def read_fan_out(d):
    """{(mode, T): {(hot/warm, N, W): (taskforge_med, guest0_med, tbb_med or None)}}"""
    out = {}
    for f in os.listdir(d):
        m = re.fullmatch(r"fan_out(_same_total)?-t(\d+)\.txt", f)
        if not m:
            continue
        rows = {}
        for line in open(os.path.join(d, f)):
            parts = [p.strip() for p in line.split("|")]
            head = parts[0].split()
            if len(parts) < 5 or len(head) != 3 or head[0] not in ("hot", "warm"):
                continue
            meds = []
            for cell in parts[2:5]:
                nums = re.findall(r"[\d.]+", cell)
                meds.append(float(nums[0]) if len(nums) >= 2 else None)
            rows[(head[0], int(head[1]), int(head[2]))] = tuple(meds)
        out[("same_total" if m.group(1) else "default", int(m.group(2)))] = rows
    return out


def fmt(v, digits=3):
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v:.0f}"
    if v >= 100:
        return f"{v:.1f}"
    return f"{v:.{digits}g}" if v < 1 else f"{v:.2f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def manifest_failures(name, d):
    path = os.path.join(d, "manifest.tsv")
    if not os.path.exists(path):
        return []
    bad = []
    for line in open(path):
        label, binary, rc, secs = (line.rstrip("\n").split("\t") + ["", "", "", ""])[:4]
        if rc != "0":
            bad.append(f"{name}: {label} ({binary}) rc={rc} after {secs}s")
    return bad


def main(argv):
    fan_detail = "--fan-detail" in argv
    paths = [a for a in argv if not a.startswith("--")]
    if not paths:
        print(__doc__)
        return 2
    tmp = tempfile.mkdtemp(prefix="tf-kit-sum.")
    trees = {}
    for p in paths:
        name, d = load_tree(p, tmp)
        trees[name] = d
    names = sorted(trees, key=lambda n: (n != "base", n))  # base first
    bench = {n: read_bench(trees[n]) for n in names}
    rayon = {}
    for n in names:
        rayon.update(read_rayon(trees[n]))
    fan = {n: read_fan_out(trees[n]) for n in names}

    failures = [f for n in names for f in manifest_failures(n, trees[n])]
    if failures:
        print("FAILED / SKIPPED RUNS:")
        for f in failures:
            print("  " + f)
        print()

    # 1. base vs new.
    keys = sorted({k for n in names for k in bench[n]}, key=lambda k: (k[0], k[1]))
    first, second = names[0], names[-1]
    cmp = len(names) > 1
    print(f"1. median real time, ms ({' vs '.join(names)}{'; ratio ' + second + '/' + first if cmp else ''})")
    header = f"{'benchmark':<46} {'T':>3} " + " ".join(f"{n:>10}" for n in names) + (f" {'ratio':>7}" if cmp else "")
    print(header)
    last = None
    for name, threads in keys:
        vals = [bench[n].get((name, threads), {}).get("ms") for n in names]
        line = f"{name if name != last else '':<46} {threads:>3} " + " ".join(f"{fmt(v):>10}" for v in vals)
        if cmp:
            line += f" {fmt(ratio(vals[-1], vals[0])):>7}"
        print(line)
        if name.startswith("W1_external_spawn"):
            spawn = [bench[n].get((name, threads), {}).get("ns_per_spawn") for n in names]
            line = f"{'  ns_per_spawn':<46} {'':>3} " + " ".join(f"{fmt(v):>10}" for v in spawn)
            if cmp:
                line += f" {fmt(ratio(spawn[-1], spawn[0])):>7}"
            print(line)
        last = name

    # 2. taskforge vs peers.
    print("\n2. taskforge / peer, median real time (< 1: taskforge faster); taskforge ms in the first column")
    groups = [("W2_join_fib30", "taskforge", ["oneTBB", "Rayon"]),
              ("W3_join_tree20", "taskforge", ["oneTBB", "Rayon"]),
              ("W2_fib30", "taskforge", ["oneTBB", "OpenMP"]),
              ("W1_external_spawn", "taskforge", ["oneTBB", "OpenMP"]),
              ("L1_sum10M", "taskforge/same_total:0", ["oneTBB", "OpenMP"]),
              ("L1_sum10M", "taskforge/same_total:1", ["oneTBB", "OpenMP"])]
    all_threads = sorted({t for (_, t) in keys})
    print(f"{'workload / ours':<42} {'tree':<6} {'T':>3} {'ours ms':>9} {'/oneTBB':>8} {'/OpenMP':>8} {'/Rayon':>8}")
    for workload, ours, peers in groups:
        label = f"{workload}/{ours}"
        for n in names:
            for t in all_threads:
                ours_ms = bench[n].get((f"{workload}/{ours}", t), {}).get("ms")
                if ours_ms is None:
                    continue
                cells = {}
                for peer in ("oneTBB", "OpenMP", "Rayon"):
                    if peer not in peers:
                        cells[peer] = ""
                        continue
                    src = rayon if peer == "Rayon" else bench[n]
                    cells[peer] = fmt(ratio(ours_ms, src.get((f"{workload}/{peer}", t), {}).get("ms")))
                print(f"{label:<42} {n:<6} {t:>3} {fmt(ours_ms):>9} {cells['oneTBB']:>8} {cells['OpenMP']:>8} "
                      f"{cells['Rayon']:>8}")
                label = ""
    serial = {n: bench[n].get(("W2_fib30/serial", 1), {}).get("ms") for n in names}
    if any(serial.values()):
        print("serial floors (T=1): " + "; ".join(
            f"{n}: W2_fib30/serial {fmt(serial[n])} ms, L1_sum10M/serial "
            f"{fmt(bench[n].get(('L1_sum10M/serial', 1), {}).get('ms'))} ms" for n in names))

    # 3. W7 fan-out.
    if any(fan.values()):
        print("\n3. W7 fan-out/fan-in, taskforge median round trip: geometric mean over shapes "
              "(new/base; taskforge/oneTBB per tree)")
        print(f"{'mode':<11} {'T':>3} " + " ".join(f"{n + ' us':>10}" for n in names) +
              (f" {'new/base':>9}" if cmp else "") + " " + " ".join(f"{n + '/TBB':>9}" for n in names))
        for mode in ("default", "same_total"):
            for t in sorted({t for n in names for (m, t) in fan[n] if m == mode}):
                rows = {n: fan[n].get((mode, t), {}) for n in names}
                shapes = sorted(set().union(*[set(r) for r in rows.values()]))
                gm = [geomean([rows[n].get(s, (None,))[0] for s in shapes]) for n in names]
                line = f"{mode:<11} {t:>3} " + " ".join(f"{fmt(v):>10}" for v in gm)
                if cmp:
                    paired = [ratio(rows[second].get(s, (None,))[0], rows[first].get(s, (None,))[0]) for s in shapes]
                    line += f" {fmt(geomean(paired)):>9}"
                line += " " + " ".join(
                    f"{fmt(geomean([ratio(rows[n][s][0], rows[n][s][2]) for s in rows[n]])):>9}" for n in names)
                print(line)
        detail_threads = sorted({t for n in names for (_, t) in fan[n]})
        if not fan_detail:
            detail_threads = detail_threads[-1:]
        for mode in ("default", "same_total"):
            for t in detail_threads:
                rows = {n: fan[n].get((mode, t), {}) for n in names}
                shapes = sorted(set().union(*[set(r) for r in rows.values()]))
                if not shapes:
                    continue
                print(f"\n   {mode}, T={t}: median us per shape (taskforge; guest_slots=0; oneTBB)")
                for s in shapes:
                    cells = []
                    for n in names:
                        r = rows[n].get(s)
                        cells.append(f"{n} {fmt(r[0]) if r else '-'}/{fmt(r[1]) if r else '-'}/"
                                     f"{fmt(r[2]) if r else '-'}")
                    extra = ""
                    if cmp and rows[first].get(s) and rows[second].get(s):
                        extra = f"  new/base {fmt(ratio(rows[second][s][0], rows[first][s][0]))}"
                    print(f"   {s[0]:<4} N={s[1]:<2} W={s[2]}  " + "   ".join(cells) + extra)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
