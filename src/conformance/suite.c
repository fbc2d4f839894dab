/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "macro.h"
#include "provider-check.h"
#include "static.h"
#include "suite.h"

void conformance_objects_done(ConformanceObjects *o) {
        if (!o)
                return;
        o->relayer = mfree(o->relayer);
        o->median_provider = mfree(o->median_provider);
        o->factory = mfree(o->factory);
        o->provider_proxy = sdloop_proxy_free(o->provider_proxy);
        sdloop_object_close(o->keystore);
        sdloop_object_close(o->data_source);
        sdloop_object_close(o->juels_data_source);
        sdloop_object_close(o->error_log);
        o->keystore = o->data_source = o->juels_data_source = o->error_log = NULL;
}

int conformance_error_prefix(sd_bus_error *error, int r, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *prefix = NULL;
        va_list ap;
        int k;

        assert(r < 0);

        va_start(ap, format);
        k = vasprintf(&prefix, format, ap);
        va_end(ap);
        if (k < 0)
                return r; /* the message stays as it was */

        if (!error)
                return r;
        if (!sd_bus_error_is_set(error)) {
                (void) sd_bus_error_set_errnof(error, r, "%s: %s", prefix, strerror(-r));
                return r;
        }

        (void) sd_bus_error_move(&e, error);
        (void) sd_bus_error_setf(error, e.name, "%s: %s", prefix, strempty(e.message));
        return r;
}

int conformance_send_failed(sd_bus_error *error, SdloopPeer *peer, int r, const char *format, ...) {
        _cleanup_free_ char *prefix = NULL;
        va_list ap;
        int k;

        assert(r < 0);

        va_start(ap, format);
        k = vasprintf(&prefix, format, ap);
        va_end(ap);

        sd_bus_error_free(error);
        if (r == -EHOSTDOWN)
                (void) sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "%s: not connected",
                                         strempty(sdloop_peer_get_description(peer)));
        return conformance_error_prefix(error, r, "%s", k < 0 ? format : prefix);
}

int conformance_call_return_error(SdloopCall *call, int r, const sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        if (!sd_bus_error_is_set(error))
                return sdloop_call_return_errno(call, r, NULL);
        if (sd_bus_error_has_names(error, SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_INTERFACE,
                                   SD_BUS_ERROR_UNKNOWN_METHOD)) {
                (void) sd_bus_error_set(&e, SDLOOP_ERROR_NOT_FOUND, error->message);
                error = &e;
        }
        return sdloop_call_return_error(call, error);
}

int conformance_fail(sd_bus_error *error, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&msg, format, ap);
        va_end(ap);

        sd_bus_error_free(error);
        (void) sd_bus_error_set(error, SD_BUS_ERROR_FAILED, k < 0 ? format : msg);
        return -EIO;
}

int conformance_check_gone(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = sdloop_peer_call_method(peer, path, "org.sdloop1.Service", "Ready", NULL, &e, NULL);
        if (r >= 0)
                return conformance_fail(error, "%s still answers Service.Ready() after it was closed", path);
        if (sd_bus_error_has_names(&e, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, SDLOOP_ERROR_TIMEOUT)) {
                /* The plugin went away meanwhile: that is no verdict on Close(); say so as it is, so that a
                 * caller who recovers from it (the host's handles) can do so. */
                sd_bus_error_move(error, &e);
                return conformance_error_prefix(error, r, "%s: Service.Ready() after Close()", path);
        }
        if (!sd_bus_error_has_name(&e, SDLOOP_ERROR_NOT_FOUND))
                return conformance_fail(error, "%s: Service.Ready() after Close(): expected NotFound, got %s: %s",
                                        path, strempty(e.name), strempty(e.message));
        return 0;
}

int conformance_close(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        int r;

        r = sdloop_peer_call_method(peer, path, "org.sdloop1.Service", "Close", NULL, error, NULL);
        if (r < 0)
                return conformance_error_prefix(error, r, "%s: Service.Close()", path);
        return conformance_check_gone(peer, path, error);
}

/* --- provider components ---------------------------------------------------------------------------- */

/* One table of calls and expectations (provider-check.c), waited for here at top level. */

int conformance_check_offchain_config_digester(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        return conformance_provider_check_run(peer, path, CONFORMANCE_OFFCHAIN_CONFIG_DIGESTER, error);
}

int conformance_check_contract_config_tracker(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        return conformance_provider_check_run(peer, path, CONFORMANCE_CONTRACT_CONFIG_TRACKER, error);
}

int conformance_check_contract_transmitter(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        return conformance_provider_check_run(peer, path, CONFORMANCE_CONTRACT_TRANSMITTER, error);
}

int conformance_check_report_codec(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        return conformance_provider_check_run(peer, path, CONFORMANCE_REPORT_CODEC, error);
}

int conformance_check_median_contract(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        return conformance_provider_check_run(peer, path, CONFORMANCE_MEDIAN_CONTRACT, error);
}

int conformance_check_onchain_config_codec(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        return conformance_provider_check_run(peer, path, CONFORMANCE_ONCHAIN_CONFIG_CODEC, error);
}

int conformance_check_config_provider(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        return conformance_provider_check_run(peer, path, CONFORMANCE_CONFIG_PROVIDER, error);
}

int conformance_check_median_provider(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        return conformance_provider_check_run(peer, path, CONFORMANCE_MEDIAN_PROVIDER, error);
}

/* --- relayer ---------------------------------------------------------------------------------------- */

static int run_config_provider(SdloopPeer *peer, const char *relayer_path, sd_bus_error *error) {
        _cleanup_free_ char *provider = NULL;
        int r;

        r = sdloop_relayer_new_config_provider(peer, relayer_path, &fixture_relay_args, &provider, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "Relayer.NewConfigProvider()");
        r = conformance_check_config_provider(peer, provider, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "config provider %s", provider);
        return conformance_close(peer, provider, error);
}

static int run_plugin_provider(SdloopPeer *peer, const char *relayer_path, sd_bus_error *error) {
        SdloopRelayArgs relay_args = fixture_relay_args;
        _cleanup_free_ char *provider = NULL;
        int r;

        relay_args.provider_type = (char *) FIXTURE_PROVIDER_TYPE_PLUGIN;

        r = sdloop_relayer_new_plugin_provider(peer, relayer_path, &relay_args, &fixture_plugin_args, &provider,
                                               error);
        if (r < 0)
                return conformance_error_prefix(error, r, "Relayer.NewPluginProvider(\"plugin\")");
        r = conformance_provider_check_run(peer, provider,
                                           CONFORMANCE_CONFIG_PROVIDER | CONFORMANCE_CONTRACT_TRANSMITTER, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "plugin provider %s", provider);
        return conformance_close(peer, provider, error);
}

static int run_median_provider(SdloopPeer *peer, const char *relayer_path, ConformanceObjects *keep,
                               sd_bus_error *error) {
        _cleanup_free_ char *provider = NULL;
        int r;

        r = sdloop_relayer_new_plugin_provider(peer, relayer_path, &fixture_relay_args, &fixture_plugin_args,
                                               &provider, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "Relayer.NewPluginProvider(\"median\")");
        r = conformance_check_median_provider(peer, provider, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "median provider %s", provider);

        if (keep) {
                free(keep->median_provider);
                keep->median_provider = TAKE_PTR(provider);
                return 0;
        }
        return conformance_close(peer, provider, error);
}

int conformance_run_relayer(SdloopPeer *peer, const char *relayer_path, ConformanceObjects *keep,
                            sd_bus_error *error) {
        _cleanup_(sdloop_chain_status_done) SdloopChainStatus status = {};
        _cleanup_free_ char *next_page_token = NULL;
        SdloopNodeStatus *nodes = NULL;
        size_t n_nodes = 0;
        int32_t total;
        int r;

        r = run_config_provider(peer, relayer_path, error);
        if (r < 0)
                return r;
        r = run_median_provider(peer, relayer_path, keep, error);
        if (r < 0)
                return r;
        r = run_plugin_provider(peer, relayer_path, error);
        if (r < 0)
                return r;

        r = sdloop_relayer_get_chain_status(peer, relayer_path, &status, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "Relayer.GetChainStatus()");
        r = fixture_check_chain_status(&status, "GetChainStatus() reply.status", error);
        if (r < 0)
                return r;

        r = sdloop_relayer_list_node_statuses(peer, relayer_path, FIXTURE_PAGE_SIZE, FIXTURE_PAGE_TOKEN, &nodes,
                                              &n_nodes, &total, &next_page_token, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "Relayer.ListNodeStatuses()");
        r = fixture_check_node_statuses(nodes, n_nodes, "ListNodeStatuses() reply.nodes", error);
        sdloop_node_statuses_free(nodes, n_nodes);
        if (r < 0)
                return r;
        r = fixture_check_int(FIXTURE_TOTAL_NODES, total, "ListNodeStatuses() reply.total", error);
        if (r < 0)
                return r;
        r = fixture_check_string("", strempty(next_page_token), "ListNodeStatuses() reply.next_page_token", error);
        if (r < 0)
                return r;

        r = sdloop_relayer_transact(peer, relayer_path, FIXTURE_FROM, FIXTURE_TO, FIXTURE_AMOUNT,
                                    FIXTURE_BALANCE_CHECK, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "Relayer.Transact()");
        return 0;
}

int conformance_run_plugin_relayer(SdloopPeer *peer, ConformanceObjects *keep, sd_bus_error *error) {
        _cleanup_free_ char *relayer = NULL;
        SdloopObject *keystore, *created = NULL;
        unsigned calls;
        int r;

        keystore = sdloop_peer_find_object(peer, STATIC_KEYSTORE_PATH);
        if (!keystore) {
                r = static_keystore_new(peer, &created);
                if (r < 0)
                        return conformance_error_prefix(error, r, "exporting the keystore");
                keystore = created;
        }
        calls = static_host_object_get_calls(keystore);

        r = sdloop_plugin_relayer_new_relayer(peer, FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH, &relayer, error);
        if (r < 0) {
                conformance_error_prefix(error, r, "PluginRelayer.NewRelayer()");
                goto finish;
        }
        /* LOOP's StaticPluginRelayer calls Accounts() and Sign() before it answers. */
        if (static_host_object_get_calls(keystore) < calls + 2) {
                r = conformance_fail(error, "PluginRelayer.NewRelayer(): the plugin did not call Keystore.Accounts() "
                                     "and Keystore.Sign() (%u calls)", static_host_object_get_calls(keystore) - calls);
                goto finish;
        }

        r = conformance_run_relayer(peer, relayer, keep, error);
        if (r < 0) {
                conformance_error_prefix(error, r, "relayer %s", relayer);
                goto finish;
        }

        if (keep) {
                free(keep->relayer);
                keep->relayer = TAKE_PTR(relayer);
                if (created)
                        keep->keystore = TAKE_PTR(created);
        } else
                r = conformance_close(peer, relayer, error);

finish:
        sdloop_object_close(created);
        return r;
}

/* --- median ----------------------------------------------------------------------------------------- */

int conformance_run_reporting_plugin(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {}, observation = {}, report = {};
        bool b = false;
        int r;

        r = sdloop_reporting_plugin_query(peer, path, &fixture_report_timestamp, &query, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "ReportingPlugin.Query()");
        r = fixture_check_bytes(&fixture_query, query.data, query.size, "Query() reply.query", error);
        if (r < 0)
                return r;

        r = sdloop_reporting_plugin_observation(peer, path, &fixture_report_timestamp, fixture_query.data,
                                                fixture_query.size, &observation, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "ReportingPlugin.Observation()");
        r = fixture_check_bytes(&fixture_observation, observation.data, observation.size,
                                "Observation() reply.observation", error);
        if (r < 0)
                return r;

        r = sdloop_reporting_plugin_report(peer, path, &fixture_report_timestamp, fixture_query.data,
                                           fixture_query.size, fixture_observations, FIXTURE_N_OBSERVATIONS, &b,
                                           &report, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "ReportingPlugin.Report()");
        r = fixture_check_bool(true, b, "Report() reply.should_report", error);
        if (r < 0)
                return r;
        r = fixture_check_bytes(&fixture_report, report.data, report.size, "Report() reply.report", error);
        if (r < 0)
                return r;

        b = false;
        r = sdloop_reporting_plugin_should_accept_finalized_report(peer, path, &fixture_report_timestamp,
                                                                   fixture_report.data, fixture_report.size, &b,
                                                                   error);
        if (r < 0)
                return conformance_error_prefix(error, r, "ReportingPlugin.ShouldAcceptFinalizedReport()");
        r = fixture_check_bool(true, b, "ShouldAcceptFinalizedReport() reply.should_accept", error);
        if (r < 0)
                return r;

        b = false;
        r = sdloop_reporting_plugin_should_transmit_accepted_report(peer, path, &fixture_report_timestamp,
                                                                    fixture_report.data, fixture_report.size, &b,
                                                                    error);
        if (r < 0)
                return conformance_error_prefix(error, r, "ReportingPlugin.ShouldTransmitAcceptedReport()");
        return fixture_check_bool(true, b, "ShouldTransmitAcceptedReport() reply.should_transmit", error);
}

int conformance_run_reporting_plugin_factory(SdloopPeer *peer, const char *factory_path, sd_bus_error *error) {
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        _cleanup_free_ char *rp = NULL;
        int r;

        r = sdloop_reporting_plugin_factory_new_reporting_plugin(peer, factory_path, &fixture_reporting_plugin_config,
                                                                 &rp, &info, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "ReportingPluginFactory.NewReportingPlugin()");
        r = fixture_check_reporting_plugin_info(&info, "NewReportingPlugin() reply.info", error);
        if (r < 0)
                return r;

        r = conformance_run_reporting_plugin(peer, rp, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "reporting plugin %s", rp);

        r = sdloop_reporting_plugin_close(peer, rp, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "%s: ReportingPlugin.Close()", rp);
        return conformance_check_gone(peer, rp, error);
}

int conformance_run_plugin_median(SdloopPeer *median_peer, SdloopPeer *relayer_peer, const char *provider_path,
                                  ConformanceObjects *keep, sd_bus_error *error) {
        static unsigned n_proxies = 0;
        _cleanup_(conformance_objects_done) ConformanceObjects host = {};
        _cleanup_free_ char *proxy_path = NULL, *factory = NULL;
        SdloopMedianDeps deps;
        int r;

        r = static_data_source_new(median_peer, FIXTURE_VALUE, &host.data_source);
        if (r < 0)
                return conformance_error_prefix(error, r, "exporting the data source");
        r = static_data_source_new(median_peer, FIXTURE_JUELS_PER_FEE_COIN, &host.juels_data_source);
        if (r < 0)
                return conformance_error_prefix(error, r, "exporting the juels data source");
        r = static_error_log_new(median_peer, &host.error_log);
        if (r < 0)
                return conformance_error_prefix(error, r, "exporting the error log");

        if (asprintf(&proxy_path, SDLOOP_ROOT_PATH "/host/provider/%u", ++n_proxies) < 0)
                return -ENOMEM;
        r = sdloop_proxy_new(median_peer, proxy_path, relayer_peer, provider_path, &host.provider_proxy);
        if (r < 0)
                return conformance_error_prefix(error, r, "exporting the provider proxy %s", proxy_path);

        deps = (SdloopMedianDeps) {
                .provider = proxy_path,
                .data_source = sdloop_object_get_path(host.data_source),
                .juels_data_source = sdloop_object_get_path(host.juels_data_source),
                .error_log = sdloop_object_get_path(host.error_log),
        };
        r = sdloop_plugin_median_new_median_factory(median_peer, &deps, &factory, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "PluginMedian.NewMedianFactory()");

        /* LOOP's StaticPluginMedian observes both data sources and saves an error before it answers. */
        if (static_host_object_get_calls(host.data_source) < 1 ||
            static_host_object_get_calls(host.juels_data_source) < 1 ||
            static_host_object_get_calls(host.error_log) < 1)
                return conformance_fail(error, "PluginMedian.NewMedianFactory(): the plugin did not use the host's "
                                        "objects (data source %u, juels data source %u, error log %u calls)",
                                        static_host_object_get_calls(host.data_source),
                                        static_host_object_get_calls(host.juels_data_source),
                                        static_host_object_get_calls(host.error_log));

        r = conformance_run_reporting_plugin_factory(median_peer, factory, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "factory %s", factory);

        if (!keep)
                return conformance_close(median_peer, factory, error);

        free(keep->factory);
        keep->factory = TAKE_PTR(factory);
        sdloop_proxy_free(keep->provider_proxy);
        keep->provider_proxy = TAKE_PTR(host.provider_proxy);
        sdloop_object_close(keep->data_source);
        keep->data_source = TAKE_PTR(host.data_source);
        sdloop_object_close(keep->juels_data_source);
        keep->juels_data_source = TAKE_PTR(host.juels_data_source);
        sdloop_object_close(keep->error_log);
        keep->error_log = TAKE_PTR(host.error_log);
        return 0;
}
