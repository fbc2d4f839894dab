/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The reporting side: org.sdloop1.PluginMedian (root of a median plugin), ReportingPluginFactory
 * (/org/sdloop1/factory/<n>) and ReportingPlugin (/org/sdloop1/reporting_plugin/<n>). */

#include "sdloop-object.h"

/* Paths of the host objects a median factory works with, all on the same connection as the factory. */
typedef struct SdloopMedianDeps {
        const char *provider;          /* proxy of the relayer's median provider */
        const char *data_source;       /* value */
        const char *juels_data_source; /* juels per fee coin */
        const char *error_log;
} SdloopMedianDeps;

typedef struct SdloopPluginMedianOps {
        /* Create a factory: an object made with sdloop_object_new(peer of @parent, @parent, "factory", …)
         * carrying org.sdloop1.ReportingPluginFactory (sdloop_reporting_plugin_factory_export()). */
        int (*new_median_factory)(void *userdata, SdloopObject *parent, const SdloopMedianDeps *deps,
                                  SdloopObject **ret, sd_bus_error *error);
} SdloopPluginMedianOps;

int sdloop_plugin_median_export(SdloopObject *root, const SdloopPluginMedianOps *ops, void *userdata);
int sdloop_plugin_median_new_median_factory(SdloopPeer *peer, const SdloopMedianDeps *deps, char **ret_factory,
                                            sd_bus_error *error);

typedef struct SdloopReportingPluginFactoryOps {
        /* Create a reporting plugin under @factory (kind "reporting_plugin") carrying
         * org.sdloop1.ReportingPlugin, and describe it in *ret_info (strings malloc'd). */
        int (*new_reporting_plugin)(void *userdata, SdloopObject *factory, const SdloopReportingPluginConfig *config,
                                    SdloopObject **ret, SdloopReportingPluginInfo *ret_info, sd_bus_error *error);
} SdloopReportingPluginFactoryOps;

int sdloop_reporting_plugin_factory_export(SdloopObject *o, const SdloopReportingPluginFactoryOps *ops, void *userdata);
int sdloop_reporting_plugin_factory_new_reporting_plugin(SdloopPeer *peer, const char *path,
                                                         const SdloopReportingPluginConfig *config,
                                                         char **ret_reporting_plugin, SdloopReportingPluginInfo *ret_info,
                                                         sd_bus_error *error);

typedef struct SdloopReportingPluginOps {
        int (*query)(void *userdata, const SdloopReportTimestamp *ts, SdloopBytes *ret_query, sd_bus_error *error);
        int (*observation)(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                           SdloopBytes *ret_observation, sd_bus_error *error);
        int (*report)(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                      const SdloopAttributed *observations, size_t n_observations, bool *ret_should_report,
                      SdloopBytes *ret_report, sd_bus_error *error);
        int (*should_accept_finalized_report)(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *report,
                                              bool *ret, sd_bus_error *error);
        int (*should_transmit_accepted_report)(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *report,
                                               bool *ret, sd_bus_error *error);
        /* ReportingPlugin.Close(): the library then closes the object (ops->close of SdloopObjectOps runs). */
} SdloopReportingPluginOps;

int sdloop_reporting_plugin_export(SdloopObject *o, const SdloopReportingPluginOps *ops, void *userdata);
int sdloop_reporting_plugin_query(SdloopPeer *peer, const char *path, const SdloopReportTimestamp *ts,
                                  SdloopBytes *ret_query, sd_bus_error *error);
int sdloop_reporting_plugin_observation(SdloopPeer *peer, const char *path, const SdloopReportTimestamp *ts,
                                        const void *query, size_t query_size, SdloopBytes *ret_observation,
                                        sd_bus_error *error);
int sdloop_reporting_plugin_report(SdloopPeer *peer, const char *path, const SdloopReportTimestamp *ts,
                                   const void *query, size_t query_size, const SdloopAttributed *observations,
                                   size_t n_observations, bool *ret_should_report, SdloopBytes *ret_report,
                                   sd_bus_error *error);
int sdloop_reporting_plugin_should_accept_finalized_report(SdloopPeer *peer, const char *path,
                                                           const SdloopReportTimestamp *ts, const void *report,
                                                           size_t size, bool *ret, sd_bus_error *error);
int sdloop_reporting_plugin_should_transmit_accepted_report(SdloopPeer *peer, const char *path,
                                                            const SdloopReportTimestamp *ts, const void *report,
                                                            size_t size, bool *ret, sd_bus_error *error);
int sdloop_reporting_plugin_close(SdloopPeer *peer, const char *path, sd_bus_error *error);
