#!/usr/bin/env python3
"""Draws a taskforge trace (Chrome trace-event JSON from scheduler::stop_trace) as an SVG Gantt chart.

    scripts/trace_svg.py trace.json > trace.svg        [--width PIXELS]

One lane per thread (worker, guest slot, spare), tasks as bars coloured by name (a task that ran inside another's
wait is drawn as a thinner bar inside it), steals as red triangles, parks as grey circles and wake-ups as green
ticks. Hover a bar for its name, start and duration. Python standard library only.
"""
import argparse
import json
import sys
from xml.sax.saxutils import escape as xml_escape

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
           "#ff9da7", "#9c755f", "#bab0ac", "#e15759", "#86bcb6", "#8cd17d"]
LANE = 28          # pixels per thread lane
LEFT = 110         # room for lane labels
TOP = 44           # room for the title and the time axis
LEGEND_ROW = 18


def escape(text):
    """XML text: markup characters escaped, control characters (invalid in XML 1.0) dropped."""
    return xml_escape("".join(c for c in text if c >= " " or c in "\t\n"))


def load(path):
    with open(path, encoding="utf-8") as source:
        trace = json.load(source)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    names = {}
    for event in events:
        if event.get("ph") == "M" and event.get("name") == "thread_name":
            names[event["tid"]] = event["args"]["name"]
    timed = [event for event in events if event.get("ph") in ("X", "i")]
    return trace, names, timed


def nesting_levels(tasks):
    """Depth of each complete event inside the others of its thread (0: outermost)."""
    levels = {}
    by_thread = {}
    for task in tasks:
        by_thread.setdefault(task["tid"], []).append(task)
    for lane_tasks in by_thread.values():
        lane_tasks.sort(key=lambda task: (task["ts"], -task["dur"]))
        open_ends = []
        for task in lane_tasks:
            while open_ends and open_ends[-1] <= task["ts"]:
                open_ends.pop()
            levels[id(task)] = len(open_ends)
            open_ends.append(task["ts"] + task["dur"])
    return levels


def time_label(microseconds):
    if microseconds >= 1000:
        return f"{microseconds / 1000:g} ms"
    return f"{microseconds:g} \u00b5s"


def nice_step(span):
    raw = span / 10 if span > 0 else 1
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    for factor in (1, 2, 5, 10):
        if magnitude * factor >= raw:
            return magnitude * factor
    return raw


def render(trace, names, timed, width):
    tids = sorted({event["tid"] for event in timed} | set(names))
    lane_of = {tid: index for index, tid in enumerate(tids)}
    tasks = [event for event in timed if event["ph"] == "X"]
    begin = min((event["ts"] for event in timed), default=0.0)
    end = max((event["ts"] + event.get("dur", 0) for event in timed), default=1.0)
    span = max(end - begin, 1e-3)
    plot = width - LEFT - 10
    scale = plot / span

    def x_of(ts):
        return LEFT + (ts - begin) * scale

    colours = {}
    for task in tasks:
        colours.setdefault(task["name"], PALETTE[len(colours) % len(PALETTE)])
    legend_rows = (len(colours) + 3 + 3) // 4
    height = TOP + LANE * len(tids) + 20 + LEGEND_ROW * legend_rows + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    dropped = trace.get("otherData", {}).get("dropped_events", 0) if isinstance(trace, dict) else 0
    title = f"taskforge trace: {len(tasks)} tasks on {len(tids)} threads over {time_label(float(f'{span:.4g}'))}"
    if dropped:
        title += f" ({dropped} older events dropped)"
    out.append(f'<text x="{LEFT}" y="14" font-size="13">{escape(title)}</text>')
    step = nice_step(span)
    tick = 0.0
    while tick <= span + 1e-9:
        x = x_of(begin + tick)
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{TOP + LANE * len(tids)}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP - 10}" text-anchor="middle" fill="#555">'
                   f'{escape(time_label(round(tick, 3)))}</text>')
        tick += step
    for tid in tids:
        y = TOP + lane_of[tid] * LANE
        out.append(f'<rect x="{LEFT}" y="{y}" width="{plot}" height="{LANE}" '
                   f'fill="{"#f7f7f7" if lane_of[tid] % 2 == 0 else "#ffffff"}"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + LANE / 2 + 4}" text-anchor="end">'
                   f'{escape(names.get(tid, f"thread {tid}"))}</text>')
    levels = nesting_levels(tasks)
    for task in tasks:
        level = levels[id(task)]
        y = TOP + lane_of[task["tid"]] * LANE + 4 + 3 * level
        bar_height = max(LANE - 8 - 6 * level, 4)
        tip = f'{task["name"]}: {task["ts"]:.3f} \u00b5s, {task["dur"]:.3f} \u00b5s'
        out.append(f'<rect class="task" x="{x_of(task["ts"]):.2f}" y="{y}" width="{max(task["dur"] * scale, 0.6):.2f}" '
                   f'height="{bar_height}" fill="{colours[task["name"]]}" stroke="#333" stroke-width="0.2">'
                   f'<title>{escape(tip)}</title></rect>')
    for event in timed:
        if event["ph"] != "i":
            continue
        x = x_of(event["ts"])
        y = TOP + lane_of[event["tid"]] * LANE
        if event["name"] == "steal":
            out.append(f'<path class="steal" d="M{x - 3:.1f},{y + 1} L{x + 3:.1f},{y + 1} L{x:.1f},{y + 6} Z" '
                       f'fill="#d62728"><title>steal</title></path>')
        elif event["name"] == "park":
            out.append(f'<circle class="park" cx="{x:.1f}" cy="{y + LANE - 4}" r="2.2" fill="#888">'
                       f'<title>park</title></circle>')
        else:
            out.append(f'<line class="wakeup" x1="{x:.1f}" y1="{y + LANE - 8}" x2="{x:.1f}" y2="{y + LANE}" '
                       f'stroke="#2ca02c" stroke-width="1.5"><title>{escape(event["name"])}</title></line>')
    legend_top = TOP + LANE * len(tids) + 20
    entries = [(name, colour, "bar") for name, colour in colours.items()]
    entries += [("steal", "#d62728", "steal"), ("park", "#888", "park"), ("wake-up", "#2ca02c", "wakeup")]
    column = (width - LEFT) / 4
    for index, (name, colour, shape) in enumerate(entries):
        x = LEFT + (index % 4) * column
        y = legend_top + (index // 4) * LEGEND_ROW
        if shape == "bar":
            out.append(f'<rect x="{x:.1f}" y="{y}" width="14" height="10" fill="{colour}"/>')
        elif shape == "steal":
            out.append(f'<path d="M{x:.1f},{y} L{x + 10:.1f},{y} L{x + 5:.1f},{y + 8} Z" fill="{colour}"/>')
        elif shape == "park":
            out.append(f'<circle cx="{x + 5:.1f}" cy="{y + 5}" r="3" fill="{colour}"/>')
        else:
            out.append(f'<line x1="{x + 5:.1f}" y1="{y}" x2="{x + 5:.1f}" y2="{y + 10}" stroke="{colour}" '
                       f'stroke-width="2"/>')
        out.append(f'<text x="{x + 20:.1f}" y="{y + 9}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace", help="trace.json written by scheduler::stop_trace")
    parser.add_argument("--width", type=int, default=1200, help="width of the picture in pixels")
    arguments = parser.parse_args()
    trace, names, timed = load(arguments.trace)
    sys.stdout.write(render(trace, names, timed, max(arguments.width, LEFT + 200)))


if __name__ == "__main__":
    main()
