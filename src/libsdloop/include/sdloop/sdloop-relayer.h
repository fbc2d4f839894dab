/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.sdloop1.Relayer — one object per relayer, /org/sdloop1/relayer/<n>. */

#include "sdloop-object.h"

/* Any op may defer, answering later with the typed returns below (Transact() with
 * sdloop_call_return_empty()): see sdloop-call.h. */
typedef struct SdloopRelayerOps {
        /* Providers are objects created under @relayer (sdloop_object_new(…, relayer, "provider", …)) that
         * carry their component interfaces: OffchainConfigDigester + ContractConfigTracker for a config
         * provider; all six median interfaces for provider_type "median". An unknown provider type is
         * org.sdloop1.Error.Unimplemented naming it. */
        int (*new_config_provider)(void *userdata, SdloopObject *relayer, const SdloopRelayArgs *relay_args,
                                   SdloopObject **ret, sd_bus_error *error);
        int (*new_plugin_provider)(void *userdata, SdloopObject *relayer, const SdloopRelayArgs *relay_args,
                                   const SdloopPluginArgs *plugin_args, SdloopObject **ret, sd_bus_error *error);
        int (*get_chain_status)(void *userdata, SdloopChainStatus *ret, sd_bus_error *error);
        /* Page through the nodes; *ret_total the count of all nodes, *ret_next_page_token "" at the end. */
        int (*list_node_statuses)(void *userdata, int32_t page_size, const char *page_token, SdloopNodeStatus **ret,
                                  size_t *ret_n, int32_t *ret_total, char **ret_next_page_token, sd_bus_error *error);
        /* @amount a validated decimal. */
        int (*transact)(void *userdata, const char *from, const char *to, const char *amount, bool balance_check,
                        sd_bus_error *error);
} SdloopRelayerOps;

int sdloop_relayer_export(SdloopObject *o, const SdloopRelayerOps *ops, void *userdata);

/* Answer a deferred NewConfigProvider()/NewPluginProvider() with the provider created for it, which must
 * still exist (checked as for an immediate answer: on the connection of the call's relayer). */
int sdloop_relayer_new_config_provider_return(SdloopCall *c, SdloopObject *provider);
int sdloop_relayer_new_plugin_provider_return(SdloopCall *c, SdloopObject *provider);
/* Answer a deferred GetChainStatus(). */
int sdloop_relayer_get_chain_status_return(SdloopCall *c, const SdloopChainStatus *status);
/* Answer a deferred ListNodeStatuses() with @n nodes (at most the page size asked for); NULL
 * @next_page_token: the last page. */
int sdloop_relayer_list_node_statuses_return(SdloopCall *c, const SdloopNodeStatus *nodes, size_t n, int32_t total,
                                             const char *next_page_token);

/* The calling side: sdloop_*() and sdloop_*_async(), generated from the contract. */
#include "sdloop-client.h"
