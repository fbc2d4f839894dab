#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Check the D-Bus contract files: usage: check-dbus-xml.sh [DBUS_DIR]
#
# For every DBUS_DIR/*.xml: well-formed (xmllint if present, and python3), the introspection
# DOCTYPE, one <node> holding one <interface> named like the file, exactly one
# org.freedesktop.DBus.Description annotation on every method, signal and property, every arg
# named with a valid direction, valid member names and type signatures, no duplicates, and every
# org.sdloop1.Type annotation (on args and properties only) one of the semantic types of README.md
# on an arg of that type's D-Bus signature.
set -eu

dir=${1:-$(dirname "$0")/../dbus}
[ -d "$dir" ] || { echo "check-dbus-xml: no directory $dir" >&2; exit 2; }

set -- "$dir"/*.xml
[ -e "$1" ] || { echo "check-dbus-xml: no *.xml in $dir" >&2; exit 1; }

rc=0
if command -v xmllint >/dev/null 2>&1; then
        xmllint --noout --nonet "$@" || rc=1
fi

python3 - "$@" <<'PY' || rc=1
import os, re, sys
import xml.etree.ElementTree as ET

DESC = "org.freedesktop.DBus.Description"
EMITS = "org.freedesktop.DBus.Property.EmitsChangedSignal"
DOCTYPE = '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"'
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
IFACE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
BASIC = set("ybnqiuxtdsogh")
SDLOOP_TYPE = "org.sdloop1.Type"
# The semantic types of dbus/README.md ("Semantic types") and the signatures each may annotate.
SEMANTIC = {
    "ConfigDigest": {"ay"},
    "Decimal": {"s"},
    "UUID": {"s"},
    "JSON": {"s"},
    "Count": {"i", "x"},
    "ReportTimestamp": {"(ayuy)"},
    "ReportContext": {"((ayuy)ay)"},
    "ContractConfig": {"(aytaayasyaytay)"},
    "RelayArgs": {"(sisbss)"},
    "PluginArgs": {"(ss)"},
    "ReportingPluginConfig": {"(ayyuuayaytttttt)"},
    "ReportingPluginInfo": {"(sb(ttt))"},
    "AttributedObservations": {"a(ayy)"},
    "AttributedSignatures": {"a(ayy)"},
    "ParsedObservations": {"a(ussy)"},
    "ChainStatus": {"(sbs)"},
    "NodeStatuses": {"a(ssss)"},
    "OnchainConfig": {"(ss)"},
    "HealthReport": {"a{ss}"},
}


def parse_type(sig, i, depth=0):
    """Parse one complete type at sig[i]; return the index after it or raise ValueError."""
    if depth > 64 or i >= len(sig):
        raise ValueError("truncated")
    c = sig[i]
    if c in BASIC or c == "v":
        return i + 1
    if c == "a":
        if i + 1 < len(sig) and sig[i + 1] == "{":
            if i + 2 >= len(sig) or sig[i + 2] not in BASIC:
                raise ValueError("dict key must be a basic type")
            j = parse_type(sig, i + 3, depth + 1)
            if j >= len(sig) or sig[j] != "}":
                raise ValueError("unterminated dict entry")
            return j + 1
        return parse_type(sig, i + 1, depth + 1)
    if c == "(":
        j = i + 1
        if j < len(sig) and sig[j] == ")":
            raise ValueError("empty struct")
        while j < len(sig) and sig[j] != ")":
            j = parse_type(sig, j, depth + 1)
        if j >= len(sig):
            raise ValueError("unterminated struct")
        return j + 1
    raise ValueError("unexpected %r" % c)


def single_complete_type(sig):
    try:
        return bool(sig) and parse_type(sig, 0) == len(sig)
    except ValueError:
        return False


errors = []


def err(path, msg):
    errors.append("%s: %s" % (os.path.basename(path), msg))


def check_desc(path, where, el, exactly_one):
    n = sum(1 for a in el.findall("annotation") if a.get("name") == DESC)
    if (exactly_one and n != 1) or n > 1:
        err(path, "%s: %d %s annotations, want %s" % (where, n, DESC, "exactly 1" if exactly_one else "at most 1"))
    for a in el.findall("annotation"):
        if a.get("name") == DESC:
            v = a.get("value")
            if not v or not v.strip() or "\n" in v:
                err(path, "%s: %s must be one non-empty line" % (where, DESC))
        if not a.get("name") or a.get("value") is None:
            err(path, "%s: annotation without name or value" % where)
        if a.get("name") == SDLOOP_TYPE and el.tag not in ("arg", "property"):
            err(path, "%s: %s belongs on an arg or a property" % (where, SDLOOP_TYPE))


def check_semantic(path, where, el):
    """The org.sdloop1.Type annotations and other children of an <arg> or <property>."""
    types = []
    for child in el:
        if child.tag != "annotation":
            err(path, "%s: unexpected <%s>" % (where, child.tag))
            continue
        if not child.get("name") or child.get("value") is None:
            err(path, "%s: annotation without name or value" % where)
        elif child.get("name") == SDLOOP_TYPE:
            types.append(child.get("value"))
    if len(types) > 1:
        err(path, "%s: %d %s annotations, want at most 1" % (where, len(types), SDLOOP_TYPE))
    for t in types:
        sigs = SEMANTIC.get(t)
        if sigs is None:
            err(path, "%s: unknown %s %r (known: %s)" % (where, SDLOOP_TYPE, t, ", ".join(sorted(SEMANTIC))))
        elif el.get("type") not in sigs:
            err(path, "%s: %s %s is %s, not %r" % (where, SDLOOP_TYPE, t, " or ".join(sorted(sigs)), el.get("type")))


def check_args(path, where, el, kind):
    seen = set()
    for k, arg in enumerate(el.findall("arg")):
        an, at, ad = arg.get("name"), arg.get("type"), arg.get("direction")
        w = "%s arg #%d" % (where, k)
        if not an:
            err(path, "%s has no name" % w)
        elif not NAME_RE.match(an):
            err(path, "%s: invalid name %r" % (w, an))
        elif an in seen:
            err(path, "%s: duplicate arg name %r" % (w, an))
        seen.add(an)
        if not at or not single_complete_type(at):
            err(path, "%s (%s): invalid type %r" % (w, an, at))
        if kind == "method" and ad not in ("in", "out"):
            err(path, "%s (%s): direction must be in or out, not %r" % (w, an, ad))
        if kind == "signal" and ad not in (None, "out"):
            err(path, "%s (%s): signal args have direction out, not %r" % (w, an, ad))
        check_semantic(path, "%s (%s)" % (w, an), arg)
    for child in el:
        if child.tag not in ("arg", "annotation"):
            err(path, "%s: unexpected <%s>" % (where, child.tag))


def check(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if DOCTYPE not in text:
        err(path, "missing the D-Bus introspection DOCTYPE")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        err(path, "not well-formed: %s" % e)
        return
    if root.tag != "node":
        err(path, "root element is <%s>, want <node>" % root.tag)
        return
    ifaces = root.findall("interface")
    if len(ifaces) != 1 or len(root) != 1:
        err(path, "want one <node> holding exactly one <interface>, found %d children (%d interfaces)"
            % (len(root), len(ifaces)))
        if not ifaces:
            return
    iface = ifaces[0]
    iname = iface.get("name") or ""
    if not IFACE_RE.match(iname) or len(iname) > 255:
        err(path, "invalid interface name %r" % iname)
    if os.path.basename(path) != iname + ".xml":
        err(path, "file name does not match interface %r (want %s.xml)" % (iname, iname))
    check_desc(path, "interface " + iname, iface, exactly_one=False)

    members = {}
    count = 0
    for el in iface:
        if el.tag == "annotation":
            continue
        if el.tag not in ("method", "signal", "property"):
            err(path, "unexpected <%s> in interface" % el.tag)
            continue
        count += 1
        mn = el.get("name") or ""
        where = "%s %s" % (el.tag, mn or "(unnamed)")
        if not NAME_RE.match(mn):
            err(path, "%s: invalid member name %r" % (where, mn))
        key = ("property" if el.tag == "property" else "member", mn)
        if key in members:
            err(path, "%s: duplicate name" % where)
        members[key] = el
        check_desc(path, where, el, exactly_one=True)
        if el.tag == "property":
            t, acc = el.get("type"), el.get("access")
            if not t or not single_complete_type(t):
                err(path, "%s: invalid type %r" % (where, t))
            if acc not in ("read", "write", "readwrite"):
                err(path, "%s: invalid access %r" % (where, acc))
            emits = [a.get("value") for a in el.findall("annotation") if a.get("name") == EMITS]
            if len(emits) > 1 or (emits and emits[0] not in ("true", "false", "invalidates", "const")):
                err(path, "%s: bad %s %r" % (where, EMITS, emits))
            check_semantic(path, where, el)
        else:
            check_args(path, where, el, el.tag)
    if count == 0:
        err(path, "interface %s has no members" % iname)


for p in sys.argv[1:]:
    check(p)

for e in errors:
    print("check-dbus-xml: " + e, file=sys.stderr)
if errors:
    sys.exit(1)
print("check-dbus-xml: %d file(s) OK" % (len(sys.argv) - 1))
PY
exit $rc
