#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The median plugin by language: ReportingPlugin.Observation round trips and plugin RSS of the C median
plugin (plugins/median) and the Python one (plugins/median-python), driven the same way.

usage: bench-median-language.py [--calls N] [--warmup N] NAME=COMMAND... (COMMAND split on spaces)

For each plugin: start it with --listen on a socket of its own, play the host on the connection
(DataSource, juels DataSource, ErrorLog and a provider with OnchainConfigCodec and ReportCodec, static
answers), create a factory and a reporting plugin, and time Observation calls one after the other: each
is a call to the plugin that asks both data sources back on the same connection before it answers, as
in a feed. The driver is python3-dbus on GLib for both plugins, so its own cost is in both figures.
Prints one JSON object; timings are reported, never asserted.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import dbus
import dbus.lowlevel
import dbus.mainloop.glib
from gi.repository import GLib

HOST = "/org/sdloop1/host"
TS = (dbus.ByteArray(bytes(range(32))), dbus.UInt32(1), dbus.Byte(1))


def offchain_config():
    # alpha_report_ppb = 5000000 (field 2), alpha_accept_ppb = 1000000 (field 4), deltaC 1 h (field 5)
    def varint(v):
        out = bytearray()
        while True:
            b, v = v & 0x7F, v >> 7
            out.append(b | (0x80 if v else 0))
            if not v:
                return bytes(out)
    return b"\x10" + varint(5_000_000) + b"\x20" + varint(1_000_000) + b"\x28" + varint(3600 * 10**9)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def host_message(conn, msg):
    member = msg.get_member()
    reply = dbus.lowlevel.MethodReturnMessage(msg)
    if member == "Observe":
        reply.append("200000000000" if not msg.get_path().endswith("/data_source/2") else "1000000000000000000",
                     signature="s")
    elif member == "Decode":
        reply.append(dbus.Struct(("0", "1000000000000000"), signature="ss"), signature="(ss)")
    elif member == "MaxReportLength":
        reply.append(dbus.Int64(1024), signature="x")
    elif member in ("SaveError", "Set", "SetDefault"):
        pass
    else:
        reply = dbus.lowlevel.ErrorMessage(msg, "org.sdloop1.Error.Unimplemented", member)
    if not msg.get_no_reply():
        conn.send_message(reply)


class Driver:
    def __init__(self, address):
        self.loop = GLib.MainLoop()
        self.conn = dbus.connection.Connection(address, mainloop=dbus.mainloop.glib.DBusGMainLoop())
        self.conn._register_object_path(HOST, host_message, None, True)

    def call(self, path, iface, member, signature=None, *args):
        m = dbus.lowlevel.MethodCallMessage(None, path, iface, member)
        if signature:
            m.append(*args, signature=signature)
        out = []

        def done(reply):
            out.append(reply)
            self.loop.quit()

        self.conn.send_message_with_reply(m, done, 30, require_main_loop=True)
        self.loop.run()
        if isinstance(out[0], dbus.lowlevel.ErrorMessage):
            raise RuntimeError(f"{member}: {out[0].get_error_name()}: {out[0].get_args_list()}")
        return out[0].get_args_list(byte_arrays=True)


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def bench(name, command, calls, warmup, tmp):
    sock = os.path.join(tmp, f"{name}.sock")
    env = dict(os.environ, SDLOOP_LOG_TARGET="stderr", SDLOOP_LOG_LEVEL="warning")
    proc = subprocess.Popen(command + ["--listen", sock], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{name}: no socket")
            time.sleep(0.01)
        rss_idle = None
        d = Driver(f"unix:path={sock}")
        rss_idle = rss_kib(proc.pid)
        factory = d.call("/org/sdloop1", "org.sdloop1.PluginMedian", "NewMedianFactory", "oooo",
                         f"{HOST}/provider/1", f"{HOST}/data_source/1", f"{HOST}/data_source/2",
                         f"{HOST}/error_log/1")[0]
        config = dbus.Struct((dbus.ByteArray(bytes(range(32))), dbus.Byte(0), dbus.UInt32(4), dbus.UInt32(1),
                              dbus.ByteArray(b"\x01"), dbus.ByteArray(offchain_config()), 0, 10**6, 10**6, 10**6,
                              10**6, 10**6), signature="ayyuuayaytttttt")
        rp = d.call(factory, "org.sdloop1.ReportingPluginFactory", "NewReportingPlugin", "(ayyuuayaytttttt)",
                    config)[0]
        for _ in range(warmup):
            d.call(rp, "org.sdloop1.ReportingPlugin", "Observation", "(ayuy)ay", TS, b"")
        rss_warm = rss_kib(proc.pid)
        samples = []
        for _ in range(calls):
            t0 = time.perf_counter_ns()
            obs = d.call(rp, "org.sdloop1.ReportingPlugin", "Observation", "(ayuy)ay", TS, b"")[0]
            samples.append((time.perf_counter_ns() - t0) / 1000)
        rss_load = rss_kib(proc.pid)
        cpu = open(f"/proc/{proc.pid}/stat").read().split(")")[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        d.conn.close()
        return {"command": " ".join(command), "calls": calls, "observation_bytes": len(obs),
                "observation_us": {"p50": round(percentile(samples, 50), 1), "p99": round(percentile(samples, 99), 1),
                                   "mean": round(sum(samples) / len(samples), 1)},
                "plugin_cpu_s": round((int(cpu[11]) + int(cpu[12])) / ticks, 2),
                "rss_kib": {"after_connect": rss_idle, "after_warmup": rss_warm, "after_load": rss_load}}
    finally:
        proc.terminate()
        proc.wait(30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("plugins", nargs="+", metavar="NAME=COMMAND")
    a = ap.parse_args()
    out = {"what": "ReportingPlugin.Observation round trip through the median plugin (both data sources asked "
                   "back on the same connection) and the plugin's VmRSS, driven by python3-dbus",
           "plugins": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for spec in a.plugins:
            name, command = spec.split("=", 1)
            r = bench(name, command.split(), a.calls, a.warmup, tmp)
            out["plugins"][name] = r
            print(f"  .. {name}: Observation p50 {r['observation_us']['p50']} µs, p99 {r['observation_us']['p99']} µs, "
                  f"RSS {r['rss_kib']['after_load']} KiB", file=sys.stderr)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
