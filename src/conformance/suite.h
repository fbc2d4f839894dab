/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Suite runners: drive a plugin through every method of every service with the fixtures, through the
 * library's typed client calls only, and compare every result with the fixtures. Each returns 0, or a
 * negative errno with @error saying what failed ("Relayer.GetChainStatus(): status.id: expected …"). */

#include "sdloop.h"

/* What a runner leaves open when asked to (the test introspects, closes and inspects them afterwards).
 * Without it, a runner closes everything it created. */
typedef struct ConformanceObjects {
        /* plugin side */
        char *relayer;         /* relayer connection */
        char *median_provider; /* relayer connection, a child of the relayer */
        char *factory;         /* median connection */
        /* host side */
        SdloopObject *keystore;                  /* relayer connection */
        SdloopObject *data_source;               /* median connection */
        SdloopObject *juels_data_source;         /* median connection */
        SdloopObject *error_log;                 /* median connection */
        SdloopProxy *provider_proxy;             /* median connection → median_provider */
} ConformanceObjects;

/* Frees the paths and closes the host-side objects; the plugin's objects are left alone. */
void conformance_objects_done(ConformanceObjects *o);

/* Put "<prefix>: " in front of @error's message, keeping its name (an unset error becomes the name for
 * @r). Returns @r. */
int conformance_error_prefix(sd_bus_error *error, int r, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

/* A call whose asynchronous form failed at once with @r (it could not be sent): @error as the synchronous
 * form would have set it (PluginUnavailable for a connection that is gone), prefixed as above. Returns @r. */
int conformance_send_failed(sd_bus_error *error, SdloopPeer *peer, int r, const char *format, ...)
        __attribute__((format(printf, 4, 5)));

/* Finish deferred @call with @error (unset: with @r). Answered later, only org.sdloop1 names go out as they
 * are: an object, interface or method the caller named that is not there becomes NotFound, the message
 * kept, where an immediate answer would have sent sd-bus's UnknownObject. */
int conformance_call_return_error(SdloopCall *call, int r, const sd_bus_error *error);

/* A failed expectation of the suite itself: org.freedesktop.DBus.Error.Failed. Returns -EIO. */
int conformance_fail(sd_bus_error *error, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Service.Close() on @path, then check that @path is gone. */
int conformance_close(SdloopPeer *peer, const char *path, sd_bus_error *error);
/* Check that nothing answers at @path any more (UnknownObject/UnknownMethod/NotFound). */
int conformance_check_gone(SdloopPeer *peer, const char *path, sd_bus_error *error);

/* Provider component checks; client calls only, so the median plugin uses them too. */
int conformance_check_offchain_config_digester(SdloopPeer *peer, const char *path, sd_bus_error *error);
int conformance_check_contract_config_tracker(SdloopPeer *peer, const char *path, sd_bus_error *error);
int conformance_check_contract_transmitter(SdloopPeer *peer, const char *path, sd_bus_error *error);
int conformance_check_report_codec(SdloopPeer *peer, const char *path, sd_bus_error *error);
int conformance_check_median_contract(SdloopPeer *peer, const char *path, sd_bus_error *error);
int conformance_check_onchain_config_codec(SdloopPeer *peer, const char *path, sd_bus_error *error);
/* OffchainConfigDigester + ContractConfigTracker. */
int conformance_check_config_provider(SdloopPeer *peer, const char *path, sd_bus_error *error);
/* All six. */
int conformance_check_median_provider(SdloopPeer *peer, const char *path, sd_bus_error *error);

/* LOOP's RunPluginRelayer: export the host's keystore on @peer (unless there is one), NewRelayer() with
 * it (the plugin must call Accounts() and Sign()), then conformance_run_relayer(). @keep: may be NULL. */
int conformance_run_plugin_relayer(SdloopPeer *peer, ConformanceObjects *keep, sd_bus_error *error);

/* LOOP's RunRelayer: config provider (OffchainConfigDigester, ContractConfigTracker), median provider (all
 * six), plugin provider (… and ContractTransmitter), GetChainStatus, ListNodeStatuses, Transact. The median
 * provider is kept in @keep if given. */
int conformance_run_relayer(SdloopPeer *peer, const char *relayer_path, ConformanceObjects *keep,
                            sd_bus_error *error);

/* LOOP's PluginMedian test: export two DataSources, an ErrorLog and a proxy of @provider_path (on
 * @relayer_peer) on @median_peer, NewMedianFactory() with them (the plugin must use all of them), then
 * conformance_run_reporting_plugin_factory(). */
int conformance_run_plugin_median(SdloopPeer *median_peer, SdloopPeer *relayer_peer, const char *provider_path,
                                  ConformanceObjects *keep, sd_bus_error *error);

/* NewReportingPlugin() → info equal to the fixture, every ReportingPlugin method, Close(). */
int conformance_run_reporting_plugin_factory(SdloopPeer *peer, const char *factory_path, sd_bus_error *error);

/* Query, Observation, Report, ShouldAcceptFinalizedReport, ShouldTransmitAcceptedReport (not Close). */
int conformance_run_reporting_plugin(SdloopPeer *peer, const char *path, sd_bus_error *error);
