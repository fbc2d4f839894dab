/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Bad input for every method of every service: one table of malformed calls (a 31-byte digest, 3f >= n,
 * a decimal with leading zeros, an unknown object, the wrong signature, …), each with the error names it
 * may get and what the message must name. Every call must be refused that way, and the object must keep
 * serving afterwards. The entries marked fixtures-only expect the static implementations' refusals of
 * anything but the fixtures, or of host objects that do not exist (the static median plugin calls them all
 * before it answers NewMedianFactory; a real one may only find out later); the others hold for any
 * implementation of the contract. */

#include "sdloop.h"

typedef enum ConformanceTarget {
        CONFORMANCE_T_RELAYER_ROOT,
        CONFORMANCE_T_RELAYER,
        CONFORMANCE_T_PROVIDER,
        CONFORMANCE_T_MEDIAN_ROOT,
        CONFORMANCE_T_FACTORY,
        CONFORMANCE_T_REPORTING_PLUGIN,
        CONFORMANCE_T_HOST_KEYSTORE,
        CONFORMANCE_T_HOST_DATA_SOURCE,
        CONFORMANCE_T_HOST_ERROR_LOG,
        _CONFORMANCE_T_MAX,
} ConformanceTarget;

/* What the bad calls are made on: a target whose peer is NULL is skipped. */
typedef struct ConformanceTargets {
        SdloopPeer *peer[_CONFORMANCE_T_MAX];
        const char *path[_CONFORMANCE_T_MAX];
        /* NewMedianFactory's arguments as the host exported them on the median connection. */
        const char *provider, *data_source, *juels_data_source, *error_log;
        /* A report timestamp and a query the reporting plugin accepts (its config's digest). */
        SdloopReportTimestamp timestamp;
        SdloopBytes query;
        /* A config NewRelayer accepts (NULL: the fixture's). */
        const char *relayer_config;
        /* Also the calls that only the static implementations refuse. */
        bool fixtures;
} ConformanceTargets;

/* After a bad call: check that the object at @target still serves (0), or say why not in @error. */
typedef int (*conformance_still_serving_fn)(const ConformanceTargets *t, ConformanceTarget target, void *userdata,
                                            sd_bus_error *error);

/* How one bad call went: @r 0 when it was refused as it must be and the object still served, otherwise
 * negative with @message saying what went wrong. */
typedef void (*conformance_bad_input_result_fn)(const char *name, int r, const char *message, void *userdata);

/* The default still-serving check: Service.Ready() on objects that carry Service, Query() on a reporting
 * plugin. */
int conformance_still_serving(const ConformanceTargets *t, ConformanceTarget target, void *userdata,
                              sd_bus_error *error);

/* Run every applicable bad call (top level only); @still_serving NULL: conformance_still_serving(). Returns
 * the number of failed calls. */
unsigned conformance_bad_input_run(const ConformanceTargets *t, conformance_still_serving_fn still_serving,
                                   conformance_bad_input_result_fn result, void *userdata);

/* How many bad calls the table has. */
size_t conformance_bad_input_count(void);
