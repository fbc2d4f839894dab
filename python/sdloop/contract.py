# SPDX-License-Identifier: LGPL-2.1-or-later
"""The wire contract, read from the interface XML embedded at build time (_contract.py)."""

import xml.etree.ElementTree as ET

from . import _contract

TYPE_ANNOTATION = "org.sdloop1.Type"


class Arg:
    __slots__ = ("name", "type", "rule")

    def __init__(self, element):
        self.name = element.get("name")
        self.type = element.get("type")
        self.rule = None
        for a in element.findall("annotation"):
            if a.get("name") == TYPE_ANNOTATION:
                self.rule = a.get("value")


class Method:
    __slots__ = ("interface", "name", "in_args", "out_args", "in_signature", "out_signature")

    def __init__(self, interface, element):
        self.interface = interface
        self.name = element.get("name")
        args = element.findall("arg")
        self.in_args = [Arg(a) for a in args if (a.get("direction") or "in") == "in"]
        self.out_args = [Arg(a) for a in args if a.get("direction") == "out"]
        self.in_signature = "".join(a.type for a in self.in_args)
        self.out_signature = "".join(a.type for a in self.out_args)


class Interface:
    def __init__(self, xml):
        self.element = ET.fromstring(xml)
        self.name = self.element.get("name")
        self.methods = {m.get("name"): Method(self.name, m) for m in self.element.findall("method")}
        self.properties = {p.get("name"): p.get("type") for p in self.element.findall("property")}
        self.signals = {s.get("name"): "".join(a.get("type") for a in s.findall("arg"))
                        for s in self.element.findall("signal")}
        self.signal_args = {s.get("name"): [Arg(a) for a in s.findall("arg")]
                            for s in self.element.findall("signal")}
        self.xml = xml


_interfaces = {}


def interface(name):
    """The org.sdloop1 interface called name ("org.sdloop1.Service"), KeyError if there is none."""
    if name not in _interfaces:
        _interfaces[name] = Interface(_contract.INTERFACES[name])
    return _interfaces[name]


def names():
    return sorted(_contract.INTERFACES)
