# SPDX-License-Identifier: LGPL-2.1-or-later
"""What sdloop_plugin_run() does in C: the listening socket, one peer-to-peer D-Bus connection per
host, the handshake, Service, call contexts, argument validation, sd_notify and the journal."""

import argparse
import logging
import os
import signal
import socket
import struct
import sys

import dbus
import dbus.lowlevel
import dbus.mainloop.glib
import dbus.server
from gi.repository import GLib

from . import contract, errors, log as sdlog, notify, types
from .call import Call, Peer, now_usec, reply_values
from .objects import ReportingPlugin

log = logging.getLogger("sdloop")

ROOT_PATH = "/org/sdloop1"
PROTOCOL_VERSION = 2
SERVICE = "org.sdloop1.Service"
CONTEXT = "org.sdloop1.Context"
PEER = "org.freedesktop.DBus.Peer"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PROPERTIES = "org.freedesktop.DBus.Properties"

_STANDARD_XML = """\
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId"><arg type="s" name="machine_uuid" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml_data" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg name="interface_name" direction="in" type="s"/>
      <arg name="property_name" direction="in" type="s"/><arg name="value" direction="out" type="v"/></method>
    <method name="GetAll"><arg name="interface_name" direction="in" type="s"/>
      <arg name="props" direction="out" type="a{sv}"/></method>
    <method name="Set"><arg name="interface_name" direction="in" type="s"/>
      <arg name="property_name" direction="in" type="s"/><arg name="value" direction="in" type="v"/></method>
    <signal name="PropertiesChanged"><arg type="s" name="interface_name"/>
      <arg type="a{sv}" name="changed_properties"/><arg type="as" name="invalidated_properties"/></signal>
  </interface>
"""

# Checks beyond the argument types that libsdloop's servers make, by (interface, method).
def _check_observations(args):
    if len(args[2]) > types.OBSERVATIONS_MAX:
        raise errors.InvalidArgument("observations", f"expected at most {types.OBSERVATIONS_MAX} entries, "
                                     f"got {len(args[2])}")


HOST_PATH_PREFIX = "/org/sdloop1/host/"


def _check_host_path(path, field, kind):
    """An object path the host hands over must be one it can have made (libsdloop's sdloop_read_host_path)."""
    rest = path[len(HOST_PATH_PREFIX):] if path.startswith(HOST_PATH_PREFIX) else None
    if rest and kind:
        n = rest[len(kind) + 1:]
        if not rest.startswith(kind + "/") or not n or not n.isdigit():
            rest = None
    if not rest:
        where = f"{HOST_PATH_PREFIX}{kind}/<n>" if kind else f"{HOST_PATH_PREFIX}…"
        raise errors.NotFound(f"{field}: the host can have no {kind or 'object'} at {path} (its paths are {where})")


def _check_median_deps(args):
    for value, field, kind in zip(args, ("provider", "data_source", "juels_data_source", "error_log"),
                                  ("provider", "data_source", "data_source", "error_log")):
        _check_host_path(value, field, kind)


def _check_keystore(args):
    _check_host_path(args[1], "keystore", None)


EXTRA_CHECKS = {
    ("org.sdloop1.ReportingPlugin", "Report"): _check_observations,
    ("org.sdloop1.PluginMedian", "NewMedianFactory"): _check_median_deps,
    ("org.sdloop1.PluginRelayer", "NewRelayer"): _check_keystore,
}


def _escape_address(path):
    ok = set("-_/.\\*") | set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return "".join(c if c in ok else "".join(f"%{b:02x}" for b in c.encode()) for c in path)


CONNECTIONS_MAX_DEFAULT = 32


def _connections_max():
    """$SDLOOP_CONNECTIONS_MAX (1-65536), else the default; a bad value is ignored with a warning."""
    e = os.environ.get("SDLOOP_CONNECTIONS_MAX")
    if e is None:
        return CONNECTIONS_MAX_DEFAULT
    if e.isdigit() and 1 <= int(e) <= 65536:
        return int(e)
    log.warning("Ignoring $SDLOOP_CONNECTIONS_MAX=%s: expected a number from 1 to 65536, using %d.", e,
                CONNECTIONS_MAX_DEFAULT)
    return CONNECTIONS_MAX_DEFAULT


def _peer_uid(conn):
    fd = conn.get_unix_fd()
    creds = socket.socket(fileno=os.dup(fd))
    try:
        pid, uid, _ = struct.unpack("3i", creds.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    finally:
        creds.close()
    return pid, uid


class Runtime:
    def __init__(self, root, name, version):
        self.root = root
        self.name = name
        self.version = version
        self.objects = {}
        self.connections = set()
        self.connections_max = _connections_max()
        self.over_cap = 0  # connections refused since the last one taken
        self.next_id = 1
        self.crash_after = 0
        self.n_calls = 0
        self.loop = None
        root.runtime = self
        root.path = ROOT_PATH
        self.objects[ROOT_PATH] = root

    # --- objects ----------------------------------------------------------------------------------------
    def add_object(self, obj, parent=None, kind=None):
        obj.path = f"{ROOT_PATH}/{kind or obj.kind}/{self.next_id}"
        self.next_id += 1
        obj.runtime = self
        obj.parent = parent
        if parent:
            parent.children.append(obj)
        self.objects[obj.path] = obj
        return obj.path

    def remove_object(self, obj):
        if self.objects.get(obj.path) is obj:
            del self.objects[obj.path]

    # --- connections ------------------------------------------------------------------------------------
    def on_connection(self, conn):
        try:
            pid, uid = _peer_uid(conn)
        except OSError as e:
            log.warning("Failed to read peer credentials, refusing connection: %s", e)
            conn.close()
            return
        # Over the cap: this one goes, the others keep being served; one line per burst (as plugin.c).
        if len(self.connections) >= self.connections_max:
            if self.over_cap == 0:
                log.warning("Refusing connection from pid %d (uid %d): already serving %d connections, the "
                            "limit ($SDLOOP_CONNECTIONS_MAX).", pid, uid, len(self.connections))
            self.over_cap += 1
            conn.close()
            return
        if self.over_cap > 0:
            log.info("Accepting connections again, after refusing %d over the limit of %d.", self.over_cap,
                     self.connections_max)
            self.over_cap = 0
        if uid != 0 and uid != os.getuid():
            log.warning("Refusing connection from uid %d (pid %d): only root and uid %d may talk to this "
                        "plugin.", uid, pid, os.getuid())
            conn.close()
            return
        conn.sdloop_peer = Peer(conn)
        conn.sdloop_calls = set()
        conn.sdloop_context = None          # Context.Set: for the next call only
        conn.sdloop_default_timeout = None  # Context.SetDefault
        conn._register_object_path("/", self.on_message, None, True)
        conn.call_on_disconnection(self.on_disconnect)
        self.connections.add(conn)
        self.update_status()
        log.debug("Connection from pid %d set up, %d open.", pid, len(self.connections))

    def on_disconnect(self, conn):
        self.connections.discard(conn)
        for call in list(getattr(conn, "sdloop_calls", ())):
            call.drop()
        self.update_status()
        log.debug("Connection closed, %d left.", len(self.connections))

    def update_status(self):
        n = len(self.connections)
        self.pending_status = f"STATUS=Serving {n} connection{'' if n == 1 else 's'}."
        if not getattr(self, "status_retry", None):
            self.send_status()

    def send_status(self):
        # A status that does not fit now goes later, the latest one only.
        if notify.notify(self.pending_status) == notify.FULL:
            if not getattr(self, "status_retry", None):
                self.status_retry = GLib.timeout_add(50, self.send_status)
            return True
        self.status_retry = None
        return False

    # --- dispatch ---------------------------------------------------------------------------------------
    def on_message(self, conn, msg):
        if isinstance(msg, dbus.lowlevel.SignalMessage):
            return conn.sdloop_peer.dispatch_signal(msg)
        if not isinstance(msg, dbus.lowlevel.MethodCallMessage):
            return
        try:
            self.dispatch(conn, msg)
        except errors.Error as e:
            self.send_error(conn, msg, e.name, e.message)

    @staticmethod
    def send_error(conn, msg, name, text):
        if not msg.get_no_reply():
            conn.send_message(dbus.lowlevel.ErrorMessage(msg, name, text))

    @staticmethod
    def send_reply(conn, msg, signature=None, *values):
        if msg.get_no_reply():
            return
        m = dbus.lowlevel.MethodReturnMessage(msg)
        if signature:
            m.append(*values, signature=signature)
        conn.send_message(m)

    def dispatch(self, conn, msg):
        path, iface, member = msg.get_path(), msg.get_interface(), msg.get_member()
        receipt = now_usec()

        if iface == CONTEXT and path == ROOT_PATH:
            return self.context(conn, msg, member, receipt)
        if path == "/org/freedesktop/DBus":
            return self.bus_stub(conn, msg, member)

        if self.crash_after and iface and iface.startswith("org.sdloop1."):
            self.n_calls += 1
            if self.n_calls >= self.crash_after:
                log.warning("Crashing on purpose at call %d (%s.%s).", self.n_calls, iface, member)
                logging.shutdown()
                os._exit(3)

        # The context announced for this call is this call's, whatever becomes of it.
        ctx, conn.sdloop_context = conn.sdloop_context, None
        deadline = None
        if ctx:
            deadline = ctx.get("deadline_usec")
            if deadline is None and ctx.get("timeout_usec") is not None:
                deadline = receipt + ctx["timeout_usec"]
        if deadline is None and conn.sdloop_default_timeout:
            deadline = receipt + conn.sdloop_default_timeout

        obj = self.objects.get(path)
        if iface == INTROSPECTABLE and member == "Introspect":
            return self.send_reply(conn, msg, "s", self.introspect(path, obj))
        if obj is None:
            # The contract's names, as libsdloop answers (src/libsdloop/dispatch.c).
            raise errors.NotFound(f"path: no object at {path}")
        if iface == PROPERTIES:
            return self.properties(conn, msg, obj, member)
        if iface == PEER:
            return None  # libdbus answers these itself

        ifaces = (SERVICE,) + tuple(obj.interfaces)
        if iface is None:
            iface = next((i for i in ifaces if member in contract.interface(i).methods), None)
        if iface not in ifaces:
            raise errors.InvalidArgument("interface", f"{path} has no interface {iface} for {member}() "
                                         f"(it has {', '.join(ifaces)})")
        if member not in contract.interface(iface).methods:
            raise errors.InvalidArgument("member", f"{iface} on {path} has no method {member} "
                                         f"(it has {', '.join(contract.interface(iface).methods) or 'none'})")
        method = contract.interface(iface).methods[member]

        signature = msg.get_signature()
        if signature != method.in_signature:
            raise errors.InvalidArgument("arguments", f"{iface}.{member}() takes '{method.in_signature}', "
                                         f"got '{signature}'")
        args = [types.validate(a, types.convert(v), a.name)
                for a, v in zip(method.in_args, msg.get_args_list(byte_arrays=True))]
        extra = EXTRA_CHECKS.get((iface, member))
        if extra:
            extra(args)

        call = Call(conn, msg, obj, method, deadline)
        conn.sdloop_calls.add(call)
        try:
            if iface == SERVICE:
                result = self.service(call, obj, member)
            elif member == "Close" and isinstance(obj, ReportingPlugin):
                obj.close()
                result = None
            else:
                handler = getattr(obj, member, None)
                if handler is None:
                    raise errors.Unimplemented(f"{iface}.{member} is not implemented by {type(obj).__name__}")
                result = handler(call, *args)
            if not call.deferred:
                call.reply(*reply_values(method, result))
        except errors.Error as e:
            call.fail(e)
        except Exception as e:  # noqa: BLE001 - the plugin goes on serving
            log.exception("%s.%s on %s failed", iface, member, path)
            call.fail(errors.Internal(f"{iface}.{member}: {type(e).__name__}: {e}"))
        finally:
            if not call.deferred:
                conn.sdloop_calls.discard(call)
        return None

    def context(self, conn, msg, member, receipt):
        ctx = {}
        if msg.get_signature() == "a{sv}":
            for k, v in msg.get_args_list()[0].items():
                if k in ("deadline_usec", "timeout_usec") and isinstance(v, dbus.UInt64):
                    ctx[str(k)] = int(v)
        if member == "Set":
            conn.sdloop_context = ctx
        elif member == "SetDefault":
            conn.sdloop_default_timeout = ctx.get("timeout_usec")
        self.send_reply(conn, msg)

    def bus_stub(self, conn, msg, member):
        # busctl --address= says Hello first: answering makes the connection look like a bus.
        if member == "Hello":
            return self.send_reply(conn, msg, "s", ":1.1")
        if member in ("AddMatch", "RemoveMatch"):
            return self.send_reply(conn, msg)
        if member == "GetNameOwner":
            return self.send_reply(conn, msg, "s", ":1.0")
        raise errors.Error(f"Unknown method {member}.", name=errors.UNKNOWN_METHOD)

    def service(self, call, obj, member):
        if member == "Ready":
            obj.ready()
            return None
        if member == "HealthReport":
            return {str(k): str(v) for k, v in obj.health_report().items()}
        obj.close()
        return None

    # --- properties and introspection -------------------------------------------------------------------
    def property_values(self, obj, iface):
        if iface == "org.sdloop1.Plugin" and iface in obj.interfaces:
            return {"Name": dbus.String(self.name), "Kind": dbus.String(obj.plugin_kind),
                    "Version": dbus.String(self.version), "ProtocolVersion": dbus.UInt32(PROTOCOL_VERSION)}
        if iface == SERVICE:
            return {"Name": dbus.String(obj.service_name)}
        if iface in obj.interfaces or iface == "":
            return {}
        return None

    def properties(self, conn, msg, obj, member):
        args = [str(a) for a in msg.get_args_list()[:2]]
        if member == "GetAll" and msg.get_signature() == "s":
            values = self.property_values(obj, args[0])
            if values is None:
                raise errors.Error(f"Unknown interface '{args[0]}'.", name=errors.UNKNOWN_INTERFACE)
            return self.send_reply(conn, msg, "a{sv}", dbus.Dictionary(values, signature="sv"))
        if member == "Get" and msg.get_signature() == "ss":
            values = self.property_values(obj, args[0]) or {}
            if args[1] not in values:
                raise errors.Error(f"Unknown property or interface {args[0]}.{args[1]}.",
                                   name=errors.UNKNOWN_PROPERTY)
            return self.send_reply(conn, msg, "v", values[args[1]])
        if member == "Set":
            raise errors.Error("Property is read-only.", name=errors.PROPERTY_READ_ONLY)
        raise errors.Error(f"Unknown method {member} or interface {PROPERTIES}.", name=errors.UNKNOWN_METHOD)

    def introspect(self, path, obj):
        prefix = path.rstrip("/") + "/"
        children = sorted({p[len(prefix):].split("/")[0] for p in self.objects if p.startswith(prefix)})
        if obj is None and not children:
            raise errors.Error(f"Unknown object '{path}'.", name=errors.UNKNOWN_OBJECT)
        parts = ['<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
                 ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n<node>\n', _STANDARD_XML]
        if obj is not None:
            for iface in (SERVICE,) + tuple(obj.interfaces):
                parts.append("  " + contract.interface(iface).xml + "\n")
        parts.extend(f' <node name="{c}"/>\n' for c in children)
        parts.append("</node>\n")
        return "".join(parts)


def _listen_address(path):
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return f"unix:path={_escape_address(path)}"
    try:
        n = int(os.environ.get("LISTEN_FDS", "0")) if os.environ.get("LISTEN_PID") == str(os.getpid()) else 0
    except ValueError:
        n = 0
    if n == 0:
        raise SystemExit(log.error("No listening socket passed (LISTEN_FDS) and no --listen PATH given. Start "
                                   "this plugin through its socket unit or with --listen PATH.") or 1)
    if n > 1:
        log.warning("Got %d sockets, using the first.", n)
    return "systemd:"


def run(root, name, version="", argv=None):
    """Serve root (a PluginMedian or PluginRelayer object) as the plugin called name until SIGTERM;
    returns the exit status. Options: --listen PATH, --name NAME, --crash-after N (testing), --version."""
    kind = root.plugin_kind
    ap = argparse.ArgumentParser(description=f'sdloop {kind} plugin "{name}", version {version}.')
    ap.add_argument("--version", action="store_true", help="Show the version")
    ap.add_argument("--listen", metavar="PATH", help="Listen on PATH instead of a socket passed by systemd")
    ap.add_argument("--name", help=f'Instance name (default: $SDLOOP_PLUGIN or "{name}")')
    ap.add_argument("--crash-after", type=int, metavar="N", help="Testing: exit with status 3 at the N-th call")
    ap.add_argument("args", nargs="*")
    opts = ap.parse_args(argv)
    if opts.version:
        print(f"{name} {version} (sdloop python, protocol {PROTOCOL_VERSION})")
        return 0

    instance = opts.name or os.environ.get("SDLOOP_PLUGIN") or name
    sdlog.setup(os.path.basename(sys.argv[0]) or name, instance)
    rt = Runtime(root, instance, version)
    root.args = opts.args
    try:
        rt.crash_after = opts.crash_after if opts.crash_after is not None else \
            int(os.environ.get("SDLOOP_CRASH_AFTER", "0") or 0)
    except ValueError:
        log.error("Invalid $SDLOOP_CRASH_AFTER: %s", os.environ.get("SDLOOP_CRASH_AFTER"))
        return 1

    loop = GLib.MainLoop()
    rt.loop = loop
    mainloop = dbus.mainloop.glib.DBusGMainLoop()
    address = _listen_address(opts.listen)
    try:
        server = dbus.server.Server(address, mainloop=mainloop, auth_mechanisms=["EXTERNAL"])
        # libdbus makes the socket it binds 0777, whatever the umask: only root and our uid may connect.
        # A connection made before this is still refused by on_connection()'s check.
        if opts.listen:
            os.chmod(opts.listen, 0o600)
    except dbus.DBusException as e:
        log.error("Failed to listen on %s: %s", address, e.get_dbus_message())
        return 1
    except OSError as e:
        log.error("Failed to make %s private: %s", opts.listen, e)
        return 1
    server.on_connection_added.append(rt.on_connection)

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, loop.quit)
    interval = notify.watchdog_interval_usec()
    if interval:
        GLib.timeout_add(max(interval // 2000, 1), lambda: notify.notify("WATCHDOG=1") or True)

    log.info("%s plugin %s %s ready (protocol %d).", kind, instance, version, PROTOCOL_VERSION)
    notify.notify("READY=1", wait=True)
    rt.update_status()
    loop.run()

    notify.notify("STOPPING=1\nSTATUS=Shutting down.", wait=notify.STOPPING_WAIT_SEC)
    server.disconnect()
    for conn in list(rt.connections):
        conn.close()
    if opts.listen:
        try:
            os.unlink(opts.listen)
        except OSError:
            pass
    log.info("Stopped.")
    return 0
