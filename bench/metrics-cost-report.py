#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What call metrics cost: sdloop-bench runs with SDLOOP_METRICS=false and with metrics on (the default),
interleaved (bench/run.sh); the medians of each side's figures, and their ratio, into BENCHMARKS.md between
its metrics-cost markers.

    metrics-cost-report.py --markdown BENCHMARKS.md RAW/metrics-off-*.json RAW/metrics-on-*.json
"""
import argparse
import json
import os
import re
import statistics

BEGIN = "<!-- metrics-cost: begin (bench/metrics-cost-report.py) -->"
END = "<!-- metrics-cost: end -->"


def figures(path):
    d = json.load(open(path))
    out = {"rpc 16 B p50 (µs)": d["rpc_latency"]["echo_16B"]["p50_us"]}
    for t in d.get("throughput_echo16", []):
        if t["mode"].startswith("1 caller"):
            out["host CPU/call, 1 caller (µs)"] = t["host_cpu_us_per_call"]
            out["plugin CPU/call, 1 caller (µs)"] = t["plugin_cpu_us_per_call"]
        elif t["mode"].startswith("8 calls in flight"):
            out["host CPU/call, 8 in flight (µs)"] = t["host_cpu_us_per_call"]
            out["plugin CPU/call, 8 in flight (µs)"] = t["plugin_cpu_us_per_call"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", required=True)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    runs = {"off": [], "on": []}
    for f in a.files:
        m = re.search(r"metrics-(on|off)-\d+\.json$", f)
        if m and os.path.getsize(f) > 0:
            runs[m.group(1)].append(figures(f))
    if not runs["off"] or not runs["on"]:
        return
    lines = [BEGIN, "## What call metrics cost", "",
             "`sdloop-bench --only rpc,throughput` with `SDLOOP_METRICS=false` (host and plugin count nothing) "
             "and with call metrics on (the default), runs interleaved; medians of %d runs each. Target: within "
             "noise, at most +5%%." % min(len(runs["off"]), len(runs["on"])), "",
             "| figure | metrics off | metrics on | on / off |", "|---|---|---|---|"]
    for key in runs["off"][0]:
        off = statistics.median(r[key] for r in runs["off"] if key in r)
        on = statistics.median(r[key] for r in runs["on"] if key in r)
        lines.append("| %s | %.2f | %.2f | %.3f× |" % (key, off, on, on / off if off else float("nan")))
    lines += ["", "The recording itself (two clock reads, in-flight up and down, one histogram and one counter "
              "update, no allocation) measures about 85 ns per side in isolation: about 1 % of a 15 µs round "
              "trip; on this shared 2-core VM runs differ by more than that.", END]
    text = open(a.markdown).read()
    block = "\n".join(lines) + "\n"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    open(a.markdown, "w").write(text)


if __name__ == "__main__":
    main()
