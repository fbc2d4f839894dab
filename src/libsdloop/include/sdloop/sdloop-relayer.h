/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.sdloop1.Relayer — one object per relayer, /org/sdloop1/relayer/<n>. */

#include "sdloop-object.h"

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

int sdloop_relayer_new_config_provider(SdloopPeer *peer, const char *path, const SdloopRelayArgs *relay_args,
                                       char **ret_provider, sd_bus_error *error);
int sdloop_relayer_new_plugin_provider(SdloopPeer *peer, const char *path, const SdloopRelayArgs *relay_args,
                                       const SdloopPluginArgs *plugin_args, char **ret_provider, sd_bus_error *error);
int sdloop_relayer_get_chain_status(SdloopPeer *peer, const char *path, SdloopChainStatus *ret, sd_bus_error *error);
int sdloop_relayer_list_node_statuses(SdloopPeer *peer, const char *path, int32_t page_size, const char *page_token,
                                      SdloopNodeStatus **ret, size_t *ret_n, int32_t *ret_total,
                                      char **ret_next_page_token, sd_bus_error *error);
int sdloop_relayer_transact(SdloopPeer *peer, const char *path, const char *from, const char *to, const char *amount,
                            bool balance_check, sd_bus_error *error);
