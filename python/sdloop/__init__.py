# SPDX-License-Identifier: LGPL-2.1-or-later
"""sdloop plugins in Python: one class per interface, one run().

    import sdloop

    class Factory(sdloop.ReportingPluginFactory):
        def NewReportingPlugin(self, call, config):
            ...

    class Median(sdloop.PluginMedian):
        def NewMedianFactory(self, call, provider, data_source, juels_data_source, error_log):
            return self.export(Factory(...))

    sys.exit(sdloop.run(Median(), name="my-median", version="1.0"))

See python/README.md and sdloop-plugin(7).
"""

from .call import Call, Peer, now_usec
from .errors import (Error, Internal, InvalidArgument, NotFound, PluginUnavailable, Timeout, Unimplemented,
                     quote)
from .log import set_context as set_log_context
from .notify import notify as sd_notify
from .objects import (Object, PluginMedian, PluginRelayer, Provider, Relayer, ReportingPlugin,
                      ReportingPluginFactory)
from .runtime import PROTOCOL_VERSION, ROOT_PATH, run
from .types import (DIGEST_SIZE, Attributed, ParsedObservation, ReportingPluginConfig, ReportingPluginInfo,
                    ReportingPluginLimits, ReportTimestamp)

__all__ = [
    "Attributed", "Call", "DIGEST_SIZE", "Error", "Internal", "InvalidArgument", "NotFound", "Object",
    "ParsedObservation", "Peer", "PluginMedian", "PluginRelayer", "PluginUnavailable", "PROTOCOL_VERSION",
    "Provider", "Relayer", "ReportingPlugin", "ReportingPluginConfig", "ReportingPluginFactory",
    "ReportingPluginInfo", "ReportingPluginLimits", "ReportTimestamp", "ROOT_PATH", "Timeout",
    "Unimplemented", "sd_notify", "now_usec", "quote", "run", "set_log_context",
]
