#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Compare live D-Bus introspection with the contract in dbus/.

usage: check-introspection.py --dbus-dir DIR [--expect IFACE,...] [--object FILE IFACE,...]... [FILE...]

Each FILE is the XML that org.freedesktop.DBus.Introspectable.Introspect returned for one object. For
every org.sdloop1.* interface in it, the methods (name; arg names, types and directions), signals (name;
arg names and types) and properties (name, type, access) must be exactly those of
DIR/org.sdloop1.<Name>.xml. With --expect, every FILE must also carry each listed interface ("Relayer"
is short for "org.sdloop1.Relayer"); --object FILE IFACES checks one more FILE that must carry IFACES
(besides those of --expect), so that one run covers objects of different kinds. Every difference is
listed; the exit status is 1 if there is any, 2 on usage or parse errors.
"""

import argparse
import os
import sys
import xml.etree.ElementTree as ET

PREFIX = "org.sdloop1."


def fail(message):
    print(f"check-introspection: {message}", file=sys.stderr)
    sys.exit(2)


def parse(path):
    """The <interface> elements of the document at path, by name."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        fail(f"{path}: {e}")
    if root.tag != "node":
        fail(f"{path}: root element is <{root.tag}>, not <node>")
    return {i.get("name"): i for i in root.findall("interface")}


def args_of(element, signal=False):
    # Signal args carry no direction in sd-bus's output, and "out" in the contract: both mean out.
    return [
        (a.get("name"), a.get("type"), "out" if signal else (a.get("direction") or "in"))
        for a in element.findall("arg")
    ]


def members(interface):
    methods = {m.get("name"): args_of(m) for m in interface.findall("method")}
    signals = {s.get("name"): args_of(s, signal=True) for s in interface.findall("signal")}
    properties = {p.get("name"): (p.get("type"), p.get("access")) for p in interface.findall("property")}
    return methods, signals, properties


def fmt_args(args):
    return "(" + ", ".join(f"{d} {t} {n}" for n, t, d in args) + ")"


def compare(where, live, contract):
    """Differences between a live interface and its contract, as strings."""
    diffs = []
    for kind, got, want in zip(("method", "signal", "property"), members(live), members(contract)):
        for name in sorted(want.keys() - got.keys()):
            diffs.append(f"{where}: {kind} {name} is missing")
        for name in sorted(got.keys() - want.keys()):
            diffs.append(f"{where}: {kind} {name} is not in the contract")
        for name in sorted(got.keys() & want.keys()):
            if got[name] == want[name]:
                continue
            if kind == "property":
                diffs.append(f"{where}: property {name}: type/access {got[name][0]}/{got[name][1]}, "
                             f"contract says {want[name][0]}/{want[name][1]}")
            else:
                diffs.append(f"{where}: {kind} {name}{fmt_args(got[name])}, "
                             f"contract says {name}{fmt_args(want[name])}")
    return diffs


def main():
    ap = argparse.ArgumentParser(description="Compare live introspection with dbus/org.sdloop1.*.xml.")
    ap.add_argument("--dbus-dir", required=True, help="the directory holding org.sdloop1.<Name>.xml")
    ap.add_argument("--expect", default="", help="comma-separated interfaces every FILE must carry")
    ap.add_argument("--object", nargs=2, action="append", default=[], metavar=("FILE", "IFACES"),
                    help="one more FILE, which must carry the comma-separated IFACES")
    ap.add_argument("files", nargs="*", metavar="FILE", help="live introspection XML")
    opts = ap.parse_args()
    if not opts.files and not opts.object:
        ap.error("no FILE given")

    def names(s):
        return [e.strip() if e.strip().startswith(PREFIX) else PREFIX + e.strip() for e in s.split(",") if e.strip()]

    expected = names(opts.expect)
    objects = [(f, expected) for f in opts.files] + [(f, expected + names(i)) for f, i in opts.object]
    contracts = {}
    diffs = []

    for path, expect in objects:
        live = parse(path)
        for name in expect:
            if name not in live:
                diffs.append(f"{path}: interface {name} is missing")
        for name, interface in sorted(live.items()):
            if not name or not name.startswith(PREFIX):
                continue
            if name not in contracts:
                xml = os.path.join(opts.dbus_dir, name + ".xml")
                contracts[name] = parse(xml).get(name) if os.path.exists(xml) else None
            if contracts[name] is None:
                diffs.append(f"{path}: interface {name} has no contract ({name}.xml) in {opts.dbus_dir}")
                continue
            diffs.extend(compare(f"{path}: {name}", interface, contracts[name]))

    for d in diffs:
        print(d, file=sys.stderr)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
