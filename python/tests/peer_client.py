#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A client of a plugin's socket for test_peercred.py, run as the uid under test: what the plugin answered
to the SASL greeting on one connection, and to Properties.Get(Plugin.Name) on another, as JSON."""

import errno
import json
import os
import socket
import sys

import dbus
import dbus.connection


def sasl(path):
    """The plugin's answer to AUTH EXTERNAL: its first line, "" if it closed without answering, or the
    errno name if connecting failed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
    try:
        s.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
        data = s.recv(4096)
    except (BrokenPipeError, ConnectionResetError):
        data = b""
    finally:
        s.close()
    return data.decode(errors="replace").strip()


def plugin_name(path):
    """(name, None) or (None, the D-Bus error's name)."""
    try:
        conn = dbus.connection.Connection(f"unix:path={path}")
    except dbus.DBusException as e:
        return None, e.get_dbus_name()
    try:
        return str(conn.call_blocking(None, "/org/sdloop1", "org.freedesktop.DBus.Properties", "Get", "ss",
                                      ("org.sdloop1.Plugin", "Name"), timeout=30)), None
    except dbus.DBusException as e:
        return None, e.get_dbus_name()
    finally:
        conn.close()


if __name__ == "__main__":
    name, error = plugin_name(sys.argv[1])
    print(json.dumps({"pid": os.getpid(), "uid": os.getuid(), "sasl": sasl(sys.argv[1]), "name": name,
                      "error": error}))
