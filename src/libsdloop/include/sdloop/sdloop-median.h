/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The reporting side: org.sdloop1.PluginMedian (root of a median plugin), ReportingPluginFactory
 * (/org/sdloop1/factory/<n>) and ReportingPlugin (/org/sdloop1/reporting_plugin/<n>). */

#include "sdloop-object.h"


/* Any op of the three tables below may defer, answering later with its typed return (see sdloop-call.h). */
typedef struct SdloopPluginMedianOps {
        /* Create a factory: an object made with sdloop_object_new(peer of @parent, @parent, "factory", …)
         * carrying org.sdloop1.ReportingPluginFactory (sdloop_reporting_plugin_factory_export()). */
        int (*new_median_factory)(void *userdata, SdloopObject *parent, const SdloopMedianDeps *deps,
                                  SdloopObject **ret, sd_bus_error *error);
} SdloopPluginMedianOps;

int sdloop_plugin_median_export(SdloopObject *root, const SdloopPluginMedianOps *ops, void *userdata);
/* Answer a deferred NewMedianFactory() with the factory created for it, which must still exist (checked as
 * for an immediate answer: on the connection of the call's root). */
int sdloop_plugin_median_new_median_factory_return(SdloopCall *c, SdloopObject *factory);

typedef struct SdloopReportingPluginFactoryOps {
        /* Create a reporting plugin under @factory (kind "reporting_plugin") carrying
         * org.sdloop1.ReportingPlugin, and describe it in *ret_info (strings malloc'd). */
        int (*new_reporting_plugin)(void *userdata, SdloopObject *factory, const SdloopReportingPluginConfig *config,
                                    SdloopObject **ret, SdloopReportingPluginInfo *ret_info, sd_bus_error *error);
} SdloopReportingPluginFactoryOps;

int sdloop_reporting_plugin_factory_export(SdloopObject *o, const SdloopReportingPluginFactoryOps *ops, void *userdata);
/* Answer a deferred NewReportingPlugin() with the plugin created for it, which must still exist under the
 * call's factory, and its @info. A plugin refused for a bad @info is closed, as for an immediate answer;
 * after -ECANCELED it is the caller's to close. */
int sdloop_reporting_plugin_factory_new_reporting_plugin_return(SdloopCall *c, SdloopObject *plugin,
                                                                const SdloopReportingPluginInfo *info);

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
/* Answer deferred ReportingPlugin calls; NULL bytes are empty. */
int sdloop_reporting_plugin_query_return(SdloopCall *c, const SdloopBytes *query);
int sdloop_reporting_plugin_observation_return(SdloopCall *c, const SdloopBytes *observation);
int sdloop_reporting_plugin_report_return(SdloopCall *c, bool should_report, const SdloopBytes *report);
int sdloop_reporting_plugin_should_accept_finalized_report_return(SdloopCall *c, bool should_accept);
int sdloop_reporting_plugin_should_transmit_accepted_report_return(SdloopCall *c, bool should_transmit);

/* The calling side: sdloop_*() and sdloop_*_async(), generated from the contract. */
#include "sdloop-client.h"
