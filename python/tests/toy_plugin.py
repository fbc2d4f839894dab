#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A small median-kind plugin on the SDK for its tests: a factory whose NewReportingPlugin answers at once,
later (oracle_id 1: after the data source replied), or never (oracle_id 2), that logs the ConfigChanged
signals of its provider, and whose ReportingPlugin echoes the round as the query."""

import logging
import sys

import sdloop

log = logging.getLogger("toy")


class Toy(sdloop.ReportingPlugin):
    def Query(self, call, report_timestamp):
        return bytes([report_timestamp.round])

    def Observation(self, call, report_timestamp, query):
        # Answers later, with what the host's data source said.
        call.defer()
        call.call(self.parent.data_source, "org.sdloop1.DataSource", "Observe", report_timestamp,
                  on_done=lambda e, v: call.fail(e) if e else call.reply(v.encode()))


class Factory(sdloop.ReportingPluginFactory):
    def __init__(self, data_source):
        super().__init__()
        self.data_source = data_source
        self.hanging = []
        self.config_watch = None

    def on_close(self):
        if self.config_watch:
            self.config_watch.remove()

    def NewReportingPlugin(self, call, config):
        if config.oracle_id == 2:
            self.hanging.append(call.defer())
            call.on_cancel(lambda c: log.info("NewReportingPlugin cancelled"))
            return None
        path = self.export(Toy())
        return path, ("Toy", False, (1, 2, 3))


class Root(sdloop.PluginMedian):
    def NewMedianFactory(self, call, provider, data_source, juels_data_source, error_log):
        sdloop.set_log_context("JOB_ID", "42")
        log.info("factory for %s", provider)
        factory = Factory(data_source)
        path = self.export(factory)
        factory.config_watch = call.peer.watch(
            provider, "org.sdloop1.ContractConfigTracker", "ConfigChanged",
            lambda block, digest: log.info("%s heard ConfigChanged(%d, %s)", path, block, digest.hex()))
        return path


if __name__ == "__main__":
    sys.exit(sdloop.run(Root(), name="toy", version="0.1"))
