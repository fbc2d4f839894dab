# SPDX-License-Identifier: LGPL-2.1-or-later
"""Served objects: what a plugin author subclasses, one class per interface (or several per class)."""

import logging

import dbus
import dbus.lowlevel

from . import errors

log = logging.getLogger("sdloop")


class Object:
    """An object served on every connection of the plugin.

    A subclass lists the org.sdloop1 interfaces it implements in `interfaces` (Service comes with every
    object) and defines one method per D-Bus method, named as on the wire, taking the Call and then the
    arguments (plain Python, validated by the contract's rules). It returns the results (None, a value, or
    a tuple for several), raises an sdloop.Error, or calls call.defer() and answers later with
    call.reply() or call.fail(). `kind` is the path component of its objects
    (/org/sdloop1/<kind>/<n>)."""

    interfaces = ()
    kind = "object"

    def __init__(self):
        self.path = None
        self.runtime = None
        self.parent = None
        self.children = []
        self.calls = set()  # deferred calls to it, cancelled when it closes
        self.closed = False

    # --- org.sdloop1.Service --------------------------------------------------------------------------
    @property
    def service_name(self):
        """Service.Name and the name of its entry in health reports (the plugin's name for the root)."""
        if self.runtime is not None and self.runtime.root is self:
            return self.runtime.name
        return type(self).__name__

    def ready(self):
        """Raise PluginUnavailable while the object is not ready; returning means it is."""

    def health_report(self):
        """Service name to error text ("" is healthy): this object and its sub-services."""
        report = {self.service_name: ""}
        for child in self.children:
            report.update(child.health_report())
        return report

    def on_close(self):
        """Release what the object holds; called once, after its children were closed."""

    def close(self):
        """Close the object, its children first, and remove it from every connection."""
        if self.closed:
            return
        self.closed = True
        for child in list(self.children):
            child.close()
        for call in list(self.calls):
            call.cancel(errors.NotFound, "the object was closed before answering")
        try:
            self.on_close()
        except Exception:  # noqa: BLE001 - a failing close must not keep the object alive
            log.exception("%s: closing failed", self.path)
        if self.parent and self in self.parent.children:
            self.parent.children.remove(self)
        if self.runtime:
            self.runtime.remove_object(self)

    def export(self, child, kind=None):
        """Serve child as a new object below this one (closed with it); returns its path."""
        return self.runtime.add_object(child, parent=self, kind=kind)

    def emit(self, interface, member, *args):
        """Emit a signal of the contract from this object on every connection."""
        from . import contract
        signature = contract.interface(interface).signals[member]
        for conn in list(self.runtime.connections):
            m = dbus.lowlevel.SignalMessage(self.path, interface, member)
            if args:
                m.append(*args, signature=signature)
            conn.send_message(m)


class PluginMedian(Object):
    """The root object of a median plugin: implement NewMedianFactory(call, provider, data_source,
    juels_data_source, error_log) returning the path of a ReportingPluginFactory (self.export(...))."""

    interfaces = ("org.sdloop1.Plugin", "org.sdloop1.PluginMedian")
    plugin_kind = "median"


class PluginRelayer(Object):
    """The root object of a relayer plugin: implement NewRelayer(call, config, keystore)."""

    interfaces = ("org.sdloop1.Plugin", "org.sdloop1.PluginRelayer")
    plugin_kind = "relayer"


class ReportingPluginFactory(Object):
    interfaces = ("org.sdloop1.ReportingPluginFactory",)
    kind = "factory"


class ReportingPlugin(Object):
    """ReportingPlugin.Close closes the object like Service.Close does."""

    interfaces = ("org.sdloop1.ReportingPlugin",)
    kind = "reporting_plugin"


class Relayer(Object):
    interfaces = ("org.sdloop1.Relayer",)
    kind = "relayer"


class Provider(Object):
    kind = "provider"
