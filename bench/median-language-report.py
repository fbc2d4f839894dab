#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the median plugin by language (bench/bench-median-language.py: the C and the Python median
plugin, the same driver) into BENCHMARKS.md as one section between markers, replaced on every run, beside
the go-plugin anchor's and sdloop's own figures of bench/results/latest.json.

    median-language-report.py --markdown BENCHMARKS.md [--latest bench/results/latest.json] RUN.json...
"""
import argparse
import json
import statistics

BEGIN = "<!-- median-language: begin (bench/median-language-report.py) -->"
END = "<!-- median-language: end -->"


def med(runs, name, *keys):
    values = []
    for r in runs:
        v = r["plugins"].get(name)
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        if v is not None:
            values.append(v)
    return statistics.median(values) if values else None


def fmt_us(v):
    return "—" if v is None else f"{v:.0f} µs" if v >= 100 else f"{v:.1f} µs"


def fmt_kib(v):
    return "—" if v is None else f"{v / 1024:.1f} MiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--latest")
    ap.add_argument("runs", nargs="*")
    a = ap.parse_args()
    runs = []
    for f in a.runs:
        try:
            runs.append(json.load(open(f)))
        except (OSError, ValueError):
            continue
    latest = {}
    if a.latest:
        try:
            latest = json.load(open(a.latest))
        except (OSError, ValueError):
            pass

    def latest_fig(side, key):
        return ((latest.get(side) or {}).get(key) or {}).get("median")

    rows = []
    for name, label in (("c", "C (`plugins/median`, libsdloop)"), ("python", "Python (`plugins/median-python`, SDK)")):
        if not any(name in r["plugins"] for r in runs):
            rows.append(f"| {label} | not run | | | | |")
            continue
        rows.append(f"| {label} | {fmt_us(med(runs, name, 'observation_us', 'p50'))} | "
                    f"{fmt_us(med(runs, name, 'observation_us', 'p99'))} | "
                    f"{fmt_kib(med(runs, name, 'rss_kib', 'after_connect'))} | "
                    f"{fmt_kib(med(runs, name, 'rss_kib', 'after_load'))} | "
                    f"{med(runs, name, 'plugin_cpu_s'):.2f} s for {runs[0]['plugins'][name]['calls']} calls |")
    c50, p50 = med(runs, "c", "observation_us", "p50"), med(runs, "python", "observation_us", "p50")
    crss, prss = med(runs, "c", "rss_kib", "after_load"), med(runs, "python", "rss_kib", "after_load")
    section = [
        BEGIN,
        "## The median plugin by language",
        "",
        f"`bench/bench-median-language.py`, {len(runs)} runs (medians). The same driver (python3-dbus on GLib, playing "
        "the host: two data sources, the error log and a provider with static answers) starts each plugin with "
        "`--listen`, makes a factory and a reporting plugin, and times `ReportingPlugin.Observation` calls one "
        "after the other. Each one is the real median plugin's: it asks both data sources back on the same "
        "connection (two calls from the plugin to the host) before it answers, so a round trip is three D-Bus "
        "round trips, and the driver's own Python cost is in both rows alike. RSS is the plugin's VmRSS.",
        "",
        "| plugin | Observation p50 | p99 | RSS, connected | RSS after the calls | plugin CPU |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    if c50 and p50 and crss and prss:
        section.append(f"The Python plugin costs {p50 / c50:.1f}× the C plugin's round trip and {prss / crss:.1f}× its "
                       "memory (the interpreter, python3-dbus and GLib). The machine is shared: p99 moves with its load "
                       "from run to run; the p50 ratio is the figure to read.")
        section.append("")
    if latest:
        section += [
            f"For comparison, the figures of the main table above ({latest.get('date', '?')}, a different, cheaper "
            "call: the benchmark plugins' `Observation` answers without calling back, driven from C and Go):",
            "",
            "| side | Observation p50 | p99 | plugin RSS after load |",
            "|---|---|---|---|",
            f"| sdloop, C bench plugin (libsdloop client) | {fmt_us(latest_fig('sdloop', 'obs_p50'))} | "
            f"{fmt_us(latest_fig('sdloop', 'obs_p99'))} | {fmt_kib(latest_fig('sdloop', 'plugin_rss_load'))} |",
            f"| go-plugin + gRPC (the anchor, Go plugin) | {fmt_us(latest_fig('go_plugin', 'obs_p50'))} | "
            f"{fmt_us(latest_fig('go_plugin', 'obs_p99'))} | {fmt_kib(latest_fig('go_plugin', 'plugin_rss_load'))} |",
            "",
        ]
    section.append(END)
    section = "\n".join(section)
    try:
        text = open(a.markdown).read()
    except OSError:
        text = ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(a.markdown, "w").write(text)


if __name__ == "__main__":
    main()
