#!/usr/bin/env python3
"""Renders the benchmark results into SVG charts (gnuplot) and docs/benchmarks.md.

Usage: scripts/charts.py [build/release/bench.json] [build/release/figures.json] [bench log]
Run scripts/bench.sh first; every figure comes from those files, none is typed in by hand.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def medians(path):
    with open(path) as handle:
        data = json.load(handle)
    result = {}
    for run in data["benchmarks"]:
        if run.get("aggregate_name") != "median":
            continue
        # "W2_fib30/taskforge/2/repeats:5/real_time" -> "W2_fib30/taskforge/2"
        parts = [part for part in run["run_name"].split("/")
                 if part != "real_time" and not part.startswith("repeats:")]
        result["/".join(parts)] = run
    return data["context"], result


def cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def gnuplot(script, data_files):
    with tempfile.TemporaryDirectory() as scratch:
        for name, rows in data_files.items():
            with open(os.path.join(scratch, name), "w") as handle:
                handle.write("\n".join(rows) + "\n")
        subprocess.run(["gnuplot"], input=script, text=True, cwd=scratch, check=True)


def bar_chart(output, title, ylabel, rows):
    """rows: list of (label, value)."""
    data = ['"%s" %g' % (label, value) for label, value in rows]
    script = f"""
set terminal svg size 720,420 dynamic font 'sans,12'
set output '{output}'
set title '{title}'
set ylabel '{ylabel}'
set style fill solid 0.8
set boxwidth 0.6
set grid ytics
set yrange [0:*]
unset key
plot 'bars.dat' using 0:2:xtic(1) with boxes lc rgb '#3a6ea5', \\
     '' using 0:2:(sprintf('%.3g', $2)) with labels offset 0,0.7
"""
    gnuplot(script, {"bars.dat": data})


def scaling_chart(output, title, series, threads):
    """series: {label: [(threads, ms)]}."""
    files = {}
    plots = []
    for index, (label, points) in enumerate(series.items()):
        name = f"s{index}.dat"
        files[name] = ["%d %g" % point for point in points]
        plots.append(f"'{name}' using 1:2 with linespoints lw 2 title '{label}'")
    script = f"""
set terminal svg size 720,420 dynamic font 'sans,12'
set output '{output}'
set title '{title}'
set xlabel 'worker threads'
set ylabel 'time (ms, lower is better)'
set grid
set logscale x 2
set xtics ({', '.join(str(t) for t in threads)})
set key top right
plot {', '.join(plots)}
"""
    gnuplot(script, files)


def main():
    bench_json = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/release/bench.json")
    figures_json = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build/release/figures.json")
    bench_log = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "build/release/bench.txt")
    context, runs = medians(bench_json)
    with open(figures_json) as handle:
        figures = json.load(handle)
    threads = context.get("num_cpus", os.cpu_count())
    os.makedirs(DOCS, exist_ok=True)
    peers = ["taskforge", "oneTBB", "OpenMP"]

    def get(name, field):
        run = runs.get(name)
        return None if run is None else run.get(field)

    w1 = [(p, get(f"W1_external_spawn/{p}", "items_per_second")) for p in peers + ["std::async"]]
    w1 = [(p, v / 1e6) for p, v in w1 if v]
    bar_chart(os.path.join(DOCS, "w1_external_spawn.svg"),
              f"W1: 1M tasks spawned from a non-worker thread ({threads} threads)", "M tasks/s (higher is better)", w1)
    w2 = [(p, get(f"W2_fib30/{p}/{threads}", "real_time")) for p in peers]
    w2 = [(p, v) for p, v in w2 if v]
    serial = get("W2_fib30/serial", "real_time")
    if serial:
        w2.append(("serial", serial))
    bar_chart(os.path.join(DOCS, "w2_fib30.svg"), f"W2: fib(30), spawn + wait per call ({threads} threads)",
              "ms (lower is better)", w2)
    w3 = [(p, get(f"W3_tree20/{p}/{threads}", "items_per_second")) for p in peers]
    w3 = [(p, v / 1e6) for p, v in w3 if v]
    bar_chart(os.path.join(DOCS, "w3_tree20.svg"), f"W3: binary task tree, depth 20 ({threads} threads)",
              "M tasks/s (higher is better)", w3)
    triangle_serial = get("L3_triangle/serial", "real_time")
    if triangle_serial:
        # Parallel efficiency of the imbalanced loop: serial time / (threads x parallel time).
        l3 = [(p, get(f"L3_triangle/{p}", "real_time")) for p in peers]
        l3 = [(p, 100.0 * triangle_serial / (threads * v)) for p, v in l3 if v]
        bar_chart(os.path.join(DOCS, "l3_imbalanced_loop.svg"),
                  f"L3: imbalanced loop (iteration i costs ~i), parallel efficiency on {threads} threads",
                  "% of perfect speedup (higher is better)", l3)
    counts = sorted({int(name.rsplit("/", 1)[1]) for name in runs if name.startswith("W2_fib30/taskforge/")})
    series = {}
    for workload, label in (("W2_fib30", "fib(30)"), ("W3_tree20", "tree(20)")):
        for peer in ("taskforge", "oneTBB"):
            points = [(t, get(f"{workload}/{peer}/{t}", "real_time")) for t in counts]
            points = [(t, v) for t, v in points if v]
            if points:
                series[f"{peer} {label}"] = points
    scaling_chart(os.path.join(DOCS, "scaling.svg"),
                  f"Thread scaling, measured on {threads} cores only", series, counts)

    today = date.today().isoformat()
    lines = [
        "# Benchmarks",
        "",
        f"Measured {today} on {cpu_model()}, {threads} hardware threads, {platform.system()} "
        f"{platform.release()}; taskforge and the benchmarks built Release (the Google Benchmark library itself, "
        f"Debian's package, reports build type {context.get('library_build_type', '?')}). "
        "Medians of the repetitions; every figure below was printed by the command, then rendered by "
        "`scripts/charts.py` (none is typed by hand).",
        "",
        "```sh",
        "scripts/bench.sh          # writes build/release/bench.json, figures.json; log in build/release/bench.txt",
        "scripts/charts.py         # renders docs/*.svg and this page",
        "```",
        "",
        "| workload | contender | median | unit |",
        "|---|---|---|---|",
    ]
    for name in sorted(runs):
        run = runs[name]
        if name.startswith("W") or name.startswith("worker_spawn") or name.startswith("deque"):
            if "items_per_second" in run and (name.startswith("W1") or name.startswith("W3")
                                              or name.startswith("worker") or name.startswith("deque")):
                lines.append(f"| {name} | | {run['items_per_second'] / 1e6:.2f} | M items/s |")
            lines.append(f"| {name} | | {run['real_time']:.3f} | {run['time_unit']} |")
            if "ns_per_spawn" in run:
                lines.append(f"| {name} | | {run['ns_per_spawn']:.1f} | ns per spawn call |")
    lines += ["", "| figure | contender | metric | value |", "|---|---|---|---|"]
    for figure in figures:
        lines.append(f"| {figure['workload']} | {figure['contender']} | {figure['metric']} | {figure['value']:.3f} |")
    if os.path.exists(bench_log):
        with open(bench_log) as handle:
            log = handle.read()
        start = log.find("== taskforge verdict")
        if start >= 0:
            lines += ["", "Verdict as printed by the run:", "", "```", log[start:].strip(), "```"]
    lines += [
        "",
        "![W1](w1_external_spawn.svg)",
        "![W2](w2_fib30.svg)",
        "![W3](w3_tree20.svg)",
        "![scaling](scaling.svg)",
        "![L3](l3_imbalanced_loop.svg)",
        "",
        "Notes: oneTBB and OpenMP run with the calling thread as one of their threads (their model); taskforge's "
        "caller is outside its workers. libgomp runs tasks inline once more than 64 x threads are queued, which "
        "flatters its W1; its W2/W3 at more than one thread collapse on its team-wide task lock here. W4 reads "
        "the whole process's CPU time.",
        "",
    ]
    with open(os.path.join(DOCS, "benchmarks.md"), "w") as handle:
        handle.write("\n".join(lines))
    update_readme(today, threads, runs, figures)
    print("wrote docs/benchmarks.md, docs/*.svg and the README's benchmark section")


def update_readme(today, threads, runs, figures):
    """Replaces the text between the README's bench markers with a table of medians and the charts."""
    def rate(name):
        run = runs.get(name)
        return f"{run['items_per_second'] / 1e6:.1f} M/s" if run and "items_per_second" in run else "-"

    def spawn_ns(name):
        run = runs.get(name)
        return f"{run['ns_per_spawn']:.0f} ns" if run and "ns_per_spawn" in run else "-"

    def ms(name):
        run = runs.get(name)
        return f"{run['real_time']:.1f} ms" if run else "-"

    def micro(name):
        run = runs.get(name)
        return f"{run['real_time']:.1f} us" if run and run.get("time_unit") == "us" else "-"

    def efficiency(name):
        run, serial = runs.get(name), runs.get("L3_triangle/serial")
        return f"{100.0 * serial['real_time'] / (threads * run['real_time']):.0f}%" if run and serial else "-"

    def per_item_ns(name):
        run = runs.get(name)
        return f"{1e9 / run['items_per_second']:.2f} ns" if run and "items_per_second" in run else "-"

    def figure(workload, contender, metric, fmt):
        for item in figures:
            if (item["workload"], item["contender"], item["metric"]) == (workload, contender, metric):
                return fmt % item["value"]
        return "-"

    rows = [
        "| median, {t} threads | taskforge | oneTBB | OpenMP |".format(t=threads),
        "|---|---|---|---|",
        "| W1 spawn from outside, per call | {} | {} | {} |".format(
            *[spawn_ns(f"W1_external_spawn/{p}") for p in ("taskforge", "oneTBB", "OpenMP")]),
        "| W1 end to end | {} | {} | {} |".format(
            *[rate(f"W1_external_spawn/{p}") for p in ("taskforge", "oneTBB", "OpenMP")]),
        "| W2 fib(30) | {} | {} | {} |".format(*[ms(f"W2_fib30/{p}/{threads}") for p in ("taskforge", "oneTBB", "OpenMP")]),
        "| W3 tree(20) | {} | {} | {} |".format(
            *[rate(f"W3_tree20/{p}/{threads}") for p in ("taskforge", "oneTBB", "OpenMP")]),
        "| W4 idle CPU per 2 s | {} | {} | {} |".format(
            *[figure("W4_idle_cpu", p, "cpu_ms_per_2s", "%.2f ms") for p in ("taskforge", "oneTBB", "OpenMP")]),
        "| W5 wake-up, median (futex floor {}) | {} | {} | - |".format(
            figure("W5_wake_latency", "futex floor", "median_us", "%.1f us"),
            *[figure("W5_wake_latency", p, "median_us", "%.1f us") for p in ("taskforge", "oneTBB")]),
        "| W6 uneven load, speedup over 1 worker | {} | {} | {} |".format(
            *[figure("W6_uneven", p, "speedup", "%.2fx") for p in ("taskforge", "oneTBB", "OpenMP")]),
        "| W2 fib(30) with `join` (oneTBB: `parallel_invoke`) | {} | {} | - |".format(
            *[ms(f"W2_join_fib30/{p}/{threads}") for p in ("taskforge", "oneTBB")]),
        "| L1 `parallel_reduce`, 10^7 cheap terms (serial {}) | {} | {} | {} |".format(
            micro("L1_sum10M/serial/10000000"), micro("L1_sum10M/taskforge/n:10000000/min_chunk:0/same_total:0"),
            micro("L1_sum10M/oneTBB/10000000"), micro("L1_sum10M/OpenMP/10000000")),
        "| L1 the same, taskforge with {} workers + the caller | {} | - | - |".format(
            threads - 1, micro("L1_sum10M/taskforge/n:10000000/min_chunk:0/same_total:1")),
        "| L2 the same, 1,000 terms, from outside (serial {}) | {} | {} | {} |".format(
            micro("L2_sum1000/serial/1000"), micro("L2_sum1000/taskforge/1000/0/0"), micro("L2_sum1000/oneTBB/1000"),
            micro("L2_sum1000/OpenMP/1000")),
        "| L3 imbalanced loop, parallel efficiency | {} | {} | {} |".format(
            *[efficiency(f"L3_triangle/{p}") for p in ("taskforge", "oneTBB", "OpenMP")]),
        "| L4 `parallel_for`, empty body, per iteration | {} | {} | {} |".format(
            *[per_item_ns(f"L4_empty1M/{p}") for p in ("taskforge", "oneTBB", "OpenMP")]),
    ]
    section = "\n".join([
        f"Measured {today} on this project's {threads}-core CI-class machine with `scripts/bench.sh`, rendered by "
        "`scripts/charts.py`; full table, verdict and notes in [docs/benchmarks.md](docs/benchmarks.md).",
        "",
        *rows,
        "",
        "![W1](docs/w1_external_spawn.svg)",
        "![W2](docs/w2_fib30.svg)",
        "![W3](docs/w3_tree20.svg)",
        "![scaling](docs/scaling.svg)",
        "![L3](docs/l3_imbalanced_loop.svg)",
    ])
    path = os.path.join(ROOT, "README.md")
    with open(path) as handle:
        text = handle.read()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        text = text[: text.index(start) + len(start)] + "\n" + section + "\n" + text[text.index(end):]
        with open(path, "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
