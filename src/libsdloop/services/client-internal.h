/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the generated client calls (client-*.c, from tools/sdloop-gen-client.py) build on. Not installed. */

#include "sdloop-client.h"
#include "sdloop-codec.h"
#include "sdloop-median.h"
#include "service-util.h"

/* The reply to a generated asynchronous call: parses @reply (r >= 0) and calls @typed, the caller's typed
 * callback, with the results. */
typedef void (*client_trampoline_t)(SdloopPeer *peer, int r, sd_bus_message *reply, sd_bus_error *error,
                                    void (*typed)(void), void *userdata);

/* sdloop_peer_call_async() for generated code: no allocation beyond the call's own. */
int client_call_async(SdloopPeer *peer, sd_bus_message *m, SdloopContext *ctx, client_trampoline_t trampoline,
                      void (*typed)(void), void *userdata, sd_bus_slot **ret_slot);

/* "as" into a NULL-terminated list (empty, not NULL, for no strings). */
int client_read_strv(sd_bus_message *reply, const char *field, char ***ret, sd_bus_error *error);
/* "a{ss}" into a NULL-terminated list of key, value, key, value, … */
int client_read_pairs(sd_bus_message *reply, const char *field, char ***ret, sd_bus_error *error);
/* A ReportingPluginInfo from a reply must be sane: InvalidArgument naming "<field>.<member>" if not. */
int client_check_reporting_plugin_info(const SdloopReportingPluginInfo *info, const char *field, sd_bus_error *error);

/* Arguments the other side would refuse, refused before sending: InvalidArgument naming @field. */
int client_check_object_path(const char *path, const char *field, sd_bus_error *error);
int client_check_onchain_config(const SdloopOnchainConfig *config, const char *field, sd_bus_error *error);
int client_check_parsed_observations(const SdloopParsedObservation *obs, size_t n, const char *field,
                                     sd_bus_error *error);
int client_check_signatures(const SdloopAttributed *signatures, size_t n, const char *field, sd_bus_error *error);
