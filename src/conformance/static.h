/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Static implementations of every org.sdloop1 service (LOOP's Static* types): each checks every argument
 * it receives against the fixtures (InvalidArgument naming the argument otherwise) and answers with the
 * fixture results. */

#include "sdloop.h"

/* --- host side (static-host.c) ---------------------------------------------------------------------- */

#define STATIC_KEYSTORE_PATH SDLOOP_ROOT_PATH "/host/keystore"

/* Keystore at STATIC_KEYSTORE_PATH: Accounts() → [FIXTURE_ACCOUNT], Sign(account, encoded) → signed. */
int static_keystore_new(SdloopPeer *peer, SdloopObject **ret);
/* DataSource at /org/sdloop1/host/data_source/<n>: Observe(report timestamp) → @value. */
int static_data_source_new(SdloopPeer *peer, const char *value, SdloopObject **ret);
/* ErrorLog at /org/sdloop1/host/error_log/<n>: SaveError(FIXTURE_ERROR_MESSAGE). */
int static_error_log_new(SdloopPeer *peer, SdloopObject **ret);
/* How many calls an object made by one of the above has served successfully, to tell that the plugin
 * really used it. */
unsigned static_host_object_get_calls(SdloopObject *o);

/* --- plugin side ------------------------------------------------------------------------------------ */

/* static-relayer.c: PluginRelayer on the root object; NewRelayer checks the config, calls Accounts() and
 * Sign() on the host's keystore and creates a static Relayer. */
int static_plugin_relayer_export(SdloopObject *root);

/* static-provider.c: the providers a static Relayer creates under itself. */
typedef enum StaticProviderType {
        STATIC_PROVIDER_CONFIG, /* OffchainConfigDigester, ContractConfigTracker */
        STATIC_PROVIDER_PLUGIN, /* … and ContractTransmitter */
        STATIC_PROVIDER_MEDIAN, /* … and ReportCodec, MedianContract, OnchainConfigCodec */
} StaticProviderType;

int static_provider_new(SdloopObject *relayer, StaticProviderType type, SdloopObject **ret);
/* …at @path (NULL: /org/sdloop1/provider/<n>), such as where a host puts the proxy it hands a median
 * plugin. */
int static_provider_new_at(SdloopObject *relayer, const char *path, StaticProviderType type, SdloopObject **ret);

/* static-median.c: PluginMedian on the root object; NewMedianFactory exercises every provider method through
 * the provider path it is given, both data sources and the error log, then creates a static
 * ReportingPluginFactory, whose reporting plugins are static too. */
int static_plugin_median_export(SdloopObject *root);
