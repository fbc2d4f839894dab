# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.sdloop1.PluginMedian, its factories and reporting plugins, as plugins/median does them in C.

An operation that needs the host (a data source, the error log, the provider) defers its call and goes
on in the reply handlers of its calls to the host, which carry the caller's deadline; a cancelled call
drops them (sdloop.Call.call)."""

import logging
import time

import sdloop
from sdloop.types import PAYLOAD_MAX, decimal_is_valid

from . import codec, rules

log = logging.getLogger("sdloop-median")

MC = "org.sdloop1.MedianContract"
RC = "org.sdloop1.ReportCodec"
OCC = "org.sdloop1.OnchainConfigCodec"
ERROR_LOG_MESSAGE_MAX = 64 * 1024


def now_nsec():
    """Wall-clock time: it is compared with on-chain timestamps."""
    return time.time_ns()


def fail(call, error, prefix=None):
    """Finish call with what a call to the host failed with, its name kept, prefix put before its text."""
    if prefix:
        error = sdloop.Error(f"{prefix}: {error.message}", name=error.name)
    call.fail(error)


def transmission_from_reply(reply):
    digest, epoch, round_, answer, ts = reply
    if not decimal_is_valid(answer):
        raise sdloop.InvalidArgument("LatestTransmissionDetails reply.latest_answer",
                                     f"not a decimal: {answer}")
    return rules.Transmission(digest, (epoch, round_), int(answer), ts)


class MedianReportingPlugin(sdloop.ReportingPlugin):
    def __init__(self, factory, config, offchain, onchain_min, onchain_max, max_report_length):
        super().__init__()
        self.factory = factory
        self.config_digest = config.digest
        self.n = config.n
        self.f = config.f
        self.offchain = offchain
        self.onchain_min = onchain_min
        self.onchain_max = onchain_max
        self.max_report_length = max_report_length
        self.accept = rules.AcceptState()

    @property
    def service_name(self):
        return rules.PLUGIN_NAME

    def Query(self, call, report_timestamp):
        # The median protocol needs no query: the leader asks everybody for the same thing.
        return b""

    def Observation(self, call, report_timestamp, query):
        if query:
            raise sdloop.InvalidArgument("query", f"expected an empty query, got {len(query)} bytes")
        call.defer()
        fac = self.factory
        sources = [(fac.data_source, "DataSource"), (fac.juels_data_source, "JuelsPerFeeCoinDataSource")]
        results = [None, None]  # (value, failure)

        def finish():
            failures = [r[1] for r in results if r[1]]
            if failures:
                call.fail(sdloop.Internal("error in Observation: " + "; ".join(failures)))
                return
            call.reply(codec.observation_encode(int(time.time()) & 0xFFFFFFFF, results[0][0], results[1][0]))

        def save_errors():
            waiting = [0]

            def saved(error, _):
                if error:
                    log.warning("%s: failed to save the error in ErrorLog %s, ignoring: %s", self.path,
                                fac.error_log, error.message)
                waiting[0] -= 1
                if waiting[0] == 0:
                    finish()

            for _, failure in results:
                if failure:
                    log.warning("%s: %s", self.path, failure)
                    waiting[0] += 1
                    call.call(fac.error_log, "org.sdloop1.ErrorLog", "SaveError", failure, on_done=saved)
            if waiting[0] == 0:
                finish()

        def observed(i):
            def done(error, value):
                what = sources[i][1]
                if error is None:
                    if not decimal_is_valid(value):
                        error = sdloop.InvalidArgument("value", f"not a decimal: {value}")
                    else:
                        try:
                            codec.int192_encode(int(value))
                        except OverflowError:
                            error = sdloop.InvalidArgument("value",
                                                           f"{value} does not fit in a signed 192-bit integer")
                if error is None:
                    results[i] = (int(value), None)
                else:
                    text = f"{what}.Observe returned an error: {error.message}"
                    results[i] = (None, text[:ERROR_LOG_MESSAGE_MAX - 1])
                if all(r is not None for r in results):
                    save_errors()
            return done

        # Both are asked even if one fails, as libocr asks both, so that the ErrorLog hears of both.
        for i, (path, _) in enumerate(sources):
            call.call(path, "org.sdloop1.DataSource", "Observe", report_timestamp, on_done=observed(i))

    def _parse(self, observations):
        parsed, seen = [], set()
        for i, a in enumerate(observations):
            if a.oracle >= self.n:
                log.warning("%s: dropping observation %d: observer %d is not one of the %d oracles.", self.path,
                            i, a.oracle, self.n)
                continue
            if a.oracle in seen:
                log.warning("%s: dropping observation %d: observer %d appears more than once.", self.path, i,
                            a.oracle)
                continue
            seen.add(a.oracle)
            try:
                o = codec.observation_decode(a.data)
            except codec.DecodeError as e:
                log.warning("%s: dropping invalid observation %d of observer %d: %s", self.path, i, a.oracle, e)
                continue
            parsed.append(sdloop.ParsedObservation(o.timestamp, o.value, o.juels_per_fee_coin, a.oracle))
        return parsed

    def Report(self, call, report_timestamp, query, observations):
        if query:
            raise sdloop.InvalidArgument("query", f"expected an empty query, got {len(query)} bytes")
        parsed = self._parse(observations)
        if not rules.enough(len(parsed), self.f):
            raise sdloop.InvalidArgument("observations", f"only received {len(parsed)} valid attributed "
                                         f"observations, but need at least f+1 ({self.f + 1})")
        call.defer()
        fac = self.factory
        ts = report_timestamp

        def built(error, report):
            if error:
                return fail(call, error, "error during BuildReport")
            if len(report) > self.max_report_length:
                return call.fail(sdloop.Internal(f"report violates MaxReportLength limit set by ReportCodec "
                                                 f"({len(report)} vs {self.max_report_length})"))
            call.reply(True, report)

        def round_requested(error, reply, transmission):
            if error:
                return fail(call, error, "error during LatestRoundRequested")
            digest, epoch, round_ = reply
            ordered = rules.sort_observations(parsed)
            answer = rules.median(ordered)
            decision = rules.should_report(self.offchain, self.onchain_min, self.onchain_max, ts.digest, answer,
                                           transmission, digest, (epoch, round_), now_nsec())
            (log.info if decision.yes else log.debug)(
                "%s: Report(%s…, epoch %d, round %d): median %d of %d observations: %s.", self.path,
                ts.digest[:8].hex(), ts.epoch, ts.round, answer, len(ordered), decision.value)
            if not decision.yes:
                return call.reply(False, b"")
            call.call(fac.provider, RC, "BuildReport",
                      [(o.timestamp, str(o.value), str(o.juels_per_fee_coin), o.observer) for o in ordered],
                      on_done=built)

        def details(error, reply):
            if error:
                return fail(call, error, "error during LatestTransmissionDetails")
            try:
                transmission = transmission_from_reply(reply)
            except sdloop.Error as e:
                return call.fail(e)
            call.call(fac.provider, MC, "LatestRoundRequested",
                      rules.delta_c_lookback_usec(self.offchain.delta_c_nsec),
                      on_done=lambda e, r: round_requested(e, r, transmission))

        call.call(fac.provider, MC, "LatestTransmissionDetails", on_done=details)

    def ShouldAcceptFinalizedReport(self, call, report_timestamp, report):
        er = (report_timestamp.epoch, report_timestamp.round)
        # A report not newer than the latest accepted one needs no look at the contract.
        decision = rules.accept_check_local(self.accept, er)
        if decision is not rules.Accept.UNDECIDED:
            return decision.yes
        call.defer()

        def finish(decision):
            log.debug("%s: ShouldAcceptFinalizedReport(epoch %d, round %d) = %s.", self.path, er[0], er[1],
                      decision.value)
            call.reply(decision.yes)

        def median_read(error, text, contract_er):
            if error:
                return fail(call, error, "error during MedianFromReport")
            if not decimal_is_valid(text):
                return call.fail(sdloop.InvalidArgument("MedianFromReport reply.median", f"not a decimal: {text}"))
            # Another call may have accepted a newer report while this one waited.
            d = rules.accept_check_local(self.accept, er)
            if d is rules.Accept.UNDECIDED:
                d = rules.accept_decide(self.offchain, self.accept, contract_er, er, int(text))
            finish(d)

        def details(error, reply):
            if error:
                return fail(call, error, "error during LatestTransmissionDetails")
            try:
                t = transmission_from_reply(reply)
            except sdloop.Error as e:
                return call.fail(e)
            d = rules.accept_check_contract(self.accept, self.config_digest, t.digest, t.epoch_round, er,
                                            len(report), self.max_report_length)
            if d is not rules.Accept.UNDECIDED:
                return finish(d)
            call.call(self.factory.provider, RC, "MedianFromReport", report,
                      on_done=lambda e, m: median_read(e, m, t.epoch_round))

        call.call(self.factory.provider, MC, "LatestTransmissionDetails", on_done=details)

    def ShouldTransmitAcceptedReport(self, call, report_timestamp, report):
        er = (report_timestamp.epoch, report_timestamp.round)
        call.defer()

        def details(error, reply):
            if error:
                return fail(call, error, "error during LatestTransmissionDetails")
            try:
                t = transmission_from_reply(reply)
            except sdloop.Error as e:
                return call.fail(e)
            transmit = rules.should_transmit(self.config_digest, t.digest, t.epoch_round, er)
            log.debug("%s: ShouldTransmitAcceptedReport(epoch %d, round %d) = %s.", self.path, er[0], er[1],
                      "yes" if transmit else "no")
            call.reply(transmit)

        call.call(self.factory.provider, MC, "LatestTransmissionDetails", on_done=details)


def check_config(config):
    # Oracle ids are one byte; libocr tolerates at most f faulty oracles out of n > 3f.
    if config.n == 0 or config.n > 256:
        raise sdloop.InvalidArgument("config.n", f"{config.n} oracles, expected 1…256")
    if config.oracle_id >= config.n:
        raise sdloop.InvalidArgument("config.oracle_id", f"{config.oracle_id} is not below n={config.n}")
    if config.f * 3 >= config.n:
        raise sdloop.InvalidArgument("config.f", f"f={config.f} needs more than 3f oracles, n={config.n}")


class ConfigChanges:
    """What a factory heard of its provider's configuration through ConfigChanged: how many
    announcements, and the latest one's block and digest (0 and 32 zero bytes before the first)."""

    def __init__(self):
        self.n = 0
        self.changed_in_block = 0
        self.digest = bytes(sdloop.DIGEST_SIZE)


class MedianFactory(sdloop.ReportingPluginFactory):
    def __init__(self, provider, data_source, juels_data_source, error_log):
        super().__init__()
        self.provider = provider
        self.data_source = data_source
        self.juels_data_source = juels_data_source
        self.error_log = error_log
        self.config_changes = ConfigChanges()
        self.config_watch = None

    @property
    def service_name(self):
        return "MedianFactory"

    def watch_config(self, peer):
        """Listen to the provider's ContractConfigTracker.ConfigChanged on the connection of the host that
        made this factory: the host forwards its relayer's signals under the provider path it gave."""
        self.config_watch = peer.watch(self.provider, "org.sdloop1.ContractConfigTracker", "ConfigChanged",
                                       self.on_config_changed)

    def on_config_changed(self, changed_in_block, digest):
        # The reporting plugins keep their configuration: libocr creates new ones once it has read the new
        # one. Here it is recorded and told, as the C plugin does.
        c = self.config_changes
        c.n += 1
        c.changed_in_block = changed_in_block
        c.digest = digest
        log.info("%s: provider %s has a new configuration %s from block %d (change %d seen by this factory).",
                 self.path, self.provider, digest.hex(), changed_in_block, c.n)

    def on_close(self):
        if self.config_watch:
            self.config_watch.remove()
            self.config_watch = None

    def NewReportingPlugin(self, call, config):
        check_config(config)
        try:
            offchain, unknown = codec.offchain_config_decode(config.offchain_config)
        except codec.DecodeError as e:
            raise sdloop.InvalidArgument("config.offchain_config", str(e)) from None
        if unknown:
            log.warning("NewReportingPlugin: the offchain config carries fields this plugin does not know, "
                        "ignoring them.")
        call.defer()
        state = {}

        def max_length(error, value):
            if error:
                return fail(call, error, "ReportCodec.MaxReportLength failed")
            if value < 0 or value > PAYLOAD_MAX:
                return call.fail(sdloop.Internal(f"ReportCodec.MaxReportLength({config.n}) returned {value}, "
                                                 f"outside 0…{PAYLOAD_MAX}"))
            plugin = MedianReportingPlugin(self, config, offchain, state["min"], state["max"], value)
            path = self.export(plugin)
            log.info("%s: config %s…, oracle %d of n=%d, f=%d, alpha_report %s%d ppb, alpha_accept %s%d ppb, "
                     "deltaC %d ns, answers in [%d, %d], reports up to %d bytes.", path, config.digest[:8].hex(),
                     config.oracle_id, config.n, config.f, "infinite, " if offchain.alpha_report_infinite else "",
                     offchain.alpha_report_ppb, "infinite, " if offchain.alpha_accept_infinite else "",
                     offchain.alpha_accept_ppb, offchain.delta_c_nsec, state["min"], state["max"], value)
            if not call.reply(path, (rules.PLUGIN_NAME, False, (0, rules.MAX_OBSERVATION_LENGTH, value))):
                plugin.close()

        def decoded(error, onchain):
            if error:
                return fail(call, error, "config.onchain_config: OnchainConfigCodec.Decode failed")
            if not decimal_is_valid(onchain.min) or not decimal_is_valid(onchain.max):
                return call.fail(sdloop.InvalidArgument("config.onchain_config", "min or max is not a decimal"))
            if int(onchain.min) > int(onchain.max):
                return call.fail(sdloop.InvalidArgument("config.onchain_config",
                                                        f"min {onchain.min} is greater than max {onchain.max}"))
            state["min"], state["max"] = int(onchain.min), int(onchain.max)
            call.call(self.provider, RC, "MaxReportLength", config.n, on_done=max_length)

        call.call(self.provider, OCC, "Decode", config.onchain_config, on_done=decoded)


class Median(sdloop.PluginMedian):
    def NewMedianFactory(self, call, provider, data_source, juels_data_source, error_log):
        factory = MedianFactory(provider, data_source, juels_data_source, error_log)
        path = self.export(factory)
        factory.watch_config(call.peer)
        log.info("%s: median factory for provider %s, data sources %s and %s, error log %s.", path, provider,
                 data_source, juels_data_source, error_log)
        return path


VERSION = "1.0"


def main(argv=None):
    return sdloop.run(Median(), name="median-python", version=VERSION, argv=argv)
