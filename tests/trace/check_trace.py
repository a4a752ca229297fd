#!/usr/bin/env python3
"""Checks a trace written by scheduler::stop_trace against the Chrome trace-event format, and its SVG picture.

    check_trace.py trace.json scripts/trace_svg.py

* the file parses as JSON: an object with a "traceEvents" array (and "otherData");
* every event has the fields its phase requires: name, ph, pid, tid; ts (microseconds, >= 0) for X and i, dur
  (>= 0) for X, a scope for i, args.name for thread_name metadata;
* every thread with events is named, and the complete events of one thread nest (an event that starts inside
  another ends inside it: a task run inside another's wait);
* the number of task events equals otherData.tasks_traced and the tasks the metrics counted (<trace>.tasks);
* trace_svg.py draws it as well-formed XML (an <svg> root) with one bar per task event.
"""
import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree


def fail(message):
    print(f"check_trace: {message}", file=sys.stderr)
    sys.exit(1)


def check_fields(events):
    for event in events:
        for field in ("name", "ph", "pid", "tid"):
            if field not in event:
                fail(f"event without {field}: {event}")
        phase = event["ph"]
        if phase not in ("X", "i", "M"):
            fail(f"unexpected phase {phase}: {event}")
        if phase in ("X", "i"):
            if not isinstance(event.get("ts"), (int, float)) or event["ts"] < 0:
                fail(f"bad ts: {event}")
        if phase == "X" and (not isinstance(event.get("dur"), (int, float)) or event["dur"] < 0):
            fail(f"bad dur: {event}")
        if phase == "i" and event.get("s") not in ("t", "p", "g"):
            fail(f"instant event without a scope: {event}")
        if phase == "M" and event["name"] == "thread_name" and not event.get("args", {}).get("name"):
            fail(f"thread_name without a name: {event}")


def check_nesting(tasks):
    by_thread = {}
    for task in tasks:
        # integer nanoseconds, as the writer computed them
        by_thread.setdefault(task["tid"], []).append((round(task["ts"] * 1000), round(task["dur"] * 1000), task))
    for tid, lane in by_thread.items():
        lane.sort(key=lambda item: (item[0], -item[1]))
        open_ends = []
        for start, duration, task in lane:
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            if open_ends and start + duration > open_ends[-1]:
                fail(f"thread {tid}: {task} overlaps the task it started in without nesting")
            open_ends.append(start + duration)


def main():
    trace_path, svg_script = sys.argv[1], sys.argv[2]
    with open(trace_path, encoding="utf-8") as source:
        trace = json.load(source)
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        fail("no traceEvents array")
    events = trace["traceEvents"]
    check_fields(events)
    named = {event["tid"] for event in events if event["ph"] == "M" and event["name"] == "thread_name"}
    timed = [event for event in events if event["ph"] in ("X", "i")]
    for event in timed:
        if event["tid"] not in named:
            fail(f"thread {event['tid']} has events but no thread_name")
    tasks = [event for event in timed if event["ph"] == "X"]
    check_nesting(tasks)
    other = trace.get("otherData", {})
    if other.get("tasks_traced") != len(tasks):
        fail(f"otherData.tasks_traced {other.get('tasks_traced')} != {len(tasks)} task events")
    with open(trace_path + ".tasks", encoding="utf-8") as counted:
        expected = int(counted.read())
    if other.get("dropped_events", 0) == 0 and len(tasks) != expected:
        fail(f"{len(tasks)} task events, but the metrics counted {expected} tasks")
    names = {task["name"] for task in tasks}
    for stage in ("load", "parse", "render tile", "fib", "join"):
        if stage not in names:
            fail(f"no task named {stage!r} in the trace (names: {sorted(names)})")
    drawn = subprocess.run([sys.executable, svg_script, trace_path], check=True, capture_output=True, text=True)
    root = ElementTree.fromstring(drawn.stdout)
    if root.tag != "{http://www.w3.org/2000/svg}svg":
        fail(f"the picture's root is {root.tag}, not svg")
    bars = [node for node in root.iter("{http://www.w3.org/2000/svg}rect") if node.get("class") == "task"]
    if len(bars) != len(tasks):
        fail(f"the picture has {len(bars)} task bars for {len(tasks)} task events")
    print(f"check_trace: {len(tasks)} task events on {len(named)} threads, nesting and SVG fine")


if __name__ == "__main__":
    main()
