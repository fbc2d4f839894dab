#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the two-plugin kill figures (sdloop-bench-two-kill, exec and system backend) into BENCHMARKS.md,
as one section between markers, replaced on every run: medians over the runs of each figure.

    two-kill-report.py --markdown BENCHMARKS.md RUN.json...   (each: {"backend": ..., ...})
"""
import argparse, json, statistics, sys

BEGIN = "<!-- two-plugin-kill: begin (bench/two-kill-report.py) -->"
END = "<!-- two-plugin-kill: end -->"

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", required=True)
    ap.add_argument("runs", nargs="*")
    a = ap.parse_args()
    by = {}
    for f in a.runs:
        try:
            d = json.load(open(f))
        except (OSError, ValueError):
            continue
        by.setdefault(d["backend"], []).append(d)
    rows = []
    for backend in ("exec", "system"):
        runs = by.get(backend)
        if not runs:
            rows.append("| %s | — | — | — | not run |" % backend)
            continue
        single = statistics.median(r["kill_median_to_call_via_factory"]["p50_us"] for r in runs)
        two = statistics.median(r["kill_relayer_and_median_to_call_via_factory"]["p50_us"] for r in runs)
        two90 = statistics.median(r["kill_relayer_and_median_to_call_via_factory"]["p90_us"] for r in runs)
        # Within a run the trials alternate, so each run's own ratio compares like with like.
        ratio = statistics.median(r["ratio_two_over_single_p50"] for r in runs)
        trials = sum(r["trials"] for r in runs)
        timeouts = sum(r.get("timeouts", 0) for r in runs)
        per_run = ", ".join("%.2f" % r["ratio_two_over_single_p50"] for r in runs)
        rows.append("| %s | %.1f ms | %.1f ms (p90 %.1f ms) | %.2f× (runs: %s) | ≤ 1.5×: %s; %d runs, %d trials each way, %d call timeouts |"
                    % (backend, single / 1000, two / 1000, two90 / 1000, ratio, per_run,
                       "**met**" if ratio <= 1.5 else "**not met**", len(runs), trials, timeouts))
    section = "\n".join([
        BEGIN,
        "## Two plugins killed at once",
        "",
        "`sdloop-bench-two-kill` (bench/bench-two-kill.c; `make bench` runs it with both backends, the system",
        "backend in a booted container): a relayer (the conformance test plugin, with a provider) and a median",
        "plugin whose factory is handed the relayer's provider through the host's proxy. kill -9 of the median",
        "plugin alone, or of both in one go, then `Service.Ready` through the factory's long-lived handle,",
        "timed until answered (reconnect, handshake, the provider re-created first where the relayer died,",
        "then the factory, then the call). Trials alternate single/two within a run; the times are medians",
        "of the runs' p50s, the ratio the median of the runs' own ratios (p50 two / p50 single).",
        "",
        "| backend | kill -9 median → call via factory, p50 | kill -9 relayer + median → same call, p50 | two / single | target |",
        "|---|---|---|---|---|",
    ] + rows + [
        "",
        "The two recoveries run side by side (one state machine per plugin, no call timeout waited out:",
        "the `timeouts` column counts the host's calls that ended in org.sdloop1.Error.Timeout). What two",
        "adds is the relayer's own path — its process, NewRelayer, NewPluginProvider — in front of the",
        "factory that needs its provider, with both processes starting at the same moment on a 2-core",
        "machine. Under the system backend PID 1 also starts the two services one after the other (one job",
        "at a time, each with its sandbox set up), so the relayer may wait for the median's start: that part",
        "of the ratio is the service manager's. Plugins run with sdloop's hardening, without DynamicUser=.",
        "The single-plugin recovery figures above are sdloop-bench's own plugin (`bench-plugin.c`).",
        END,
    ])
    try:
        text = open(a.markdown).read()
    except OSError:
        text = ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(a.markdown, "w").write(text)

if __name__ == "__main__":
    sys.exit(main())
