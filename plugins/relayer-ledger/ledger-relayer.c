/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The relayer: one chain, one ledger file, the providers of its jobs, and the chain service (status, nodes,
 * transfers). */

#include <sys/stat.h>
#include <systemd/sd-event.h>

#include "ledger-config.h"
#include "ledger-provider.h"
#include "ledger-relayer.h"
#include "ledger-store.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"
#include "sdloop-keystore.h"
#include "sdloop-log.h"

typedef struct LedgerRelayer {
        LedgerRelayerConfig config;
        char *config_text; /* as given, for GetChainStatus */
        char *keystore_path;
        SdloopObject *object;

        /* NULL until known: from the relayer config, else from the first relay config naming one. */
        LedgerStore *store;
        LedgerProvider *providers;

        /* Other processes may write the same ledger: look for their commits now and then. */
        sd_event_source *poll;
        int64_t data_version;
} LedgerRelayer;

static void relayer_free(LedgerRelayer *rl) {
        if (!rl)
                return;
        /* Providers are children of the relayer's object and closed before it. */
        assert(!rl->providers);
        sd_event_source_disable_unref(rl->poll);
        ledger_store_unref(rl->store);
        ledger_relayer_config_done(&rl->config);
        free(rl->config_text);
        free(rl->keystore_path);
        free(rl);
}

static void relayer_refresh_providers(LedgerRelayer *rl) {
        for (LedgerProvider *p = rl->providers; p; p = p->next)
                (void) ledger_provider_refresh(p);
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        LedgerRelayer *rl = userdata;
        int64_t version;
        int r;

        r = ledger_store_data_version(rl->store, &version, &error);
        if (r < 0)
                log_warning_errno(r, "Failed to poll ledger %s: %s", ledger_store_get_path(rl->store),
                                  error.message ?: strerror(-r));
        else if (version != rl->data_version) {
                rl->data_version = version;
                relayer_refresh_providers(rl);
        }

        r = sd_event_source_set_time_relative(s, rl->config.poll_interval_usec);
        if (r < 0)
                return log_warning_errno(r, "Failed to re-arm ledger poll, no longer watching for changes: %m");
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int relayer_start_poll(LedgerRelayer *rl) {
        int r;

        if (rl->config.poll_interval_usec == 0 || rl->poll)
                return 0;

        r = ledger_store_data_version(rl->store, &rl->data_version, NULL);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(sdloop_peer_get_event(sdloop_object_get_peer(rl->object)), &rl->poll,
                                       CLOCK_MONOTONIC, rl->config.poll_interval_usec,
                                       rl->config.poll_interval_usec / 10, on_poll, rl);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(rl->poll, "ledger-poll");
        return 0;
}

/* Open the ledger and bring the relayer config's nodes and balances into it. */
static int relayer_open_store(LedgerRelayer *rl, const char *path, sd_bus_error *error) {
        _cleanup_(ledger_store_unrefp) LedgerStore *store = NULL;
        uint64_t height;
        int r;

        r = ledger_store_open(path, rl->config.chain_id, &store, error);
        if (r < 0)
                return r;
        r = ledger_store_seed_nodes(store, rl->config.nodes, rl->config.n_nodes, error);
        if (r < 0)
                return r;
        r = ledger_store_seed_balances(store, rl->config.balances, rl->config.n_balances, error);
        if (r < 0)
                return r;
        r = ledger_store_block_height(store, &height, error);
        if (r < 0)
                return r;

        log_info("Opened ledger %s of chain %s at block %" PRIu64 ".", path, rl->config.chain_id, height);
        rl->store = TAKE_PTR(store);

        if (rl->object) {
                r = relayer_start_poll(rl);
                if (r < 0)
                        log_warning_errno(r, "Failed to watch %s for changes by other processes, ignoring: %m", path);
        }
        return 0;
}

static bool same_file(const char *a, const char *b) {
        struct stat sa, sb;

        if (streq(a, b))
                return true;
        return stat(a, &sa) >= 0 && stat(b, &sb) >= 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* One relayer, one chain, one ledger: a relay config may name the ledger only if the relayer has none yet,
 * or to repeat the one it has. */
static int relayer_get_store(LedgerRelayer *rl, const char *path, LedgerStore **ret, sd_bus_error *error) {
        int r;

        if (rl->store) {
                if (path && !same_file(path, ledger_store_get_path(rl->store)))
                        return sdloop_error_invalid(error, "relay_config.ledger",
                                                    "%s is not the ledger of this relayer (%s)", path,
                                                    ledger_store_get_path(rl->store));
        } else {
                if (!path)
                        return sdloop_error_invalid(error, "relay_config.ledger",
                                                    "no ledger: name it here or as \"ledger\" in the relayer config");
                r = relayer_open_store(rl, path, error);
                if (r < 0)
                        return r;
        }

        *ret = rl->store;
        return 0;
}

static int relayer_require_store(LedgerRelayer *rl, sd_bus_error *error) {
        if (rl->store)
                return 0;
        return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND,
                                 "relayer of chain %s has no ledger yet: set \"ledger\" in the relayer config or "
                                 "create a provider whose relay_config names one", rl->config.chain_id);
}

/* --- providers ------------------------------------------------------------------------------------------- */

static void provider_closed(LedgerProvider *p, void *userdata) {
        LedgerRelayer *rl = userdata;

        if (p->prev)
                p->prev->next = p->next;
        else
                rl->providers = p->next;
        if (p->next)
                p->next->prev = p->prev;
        p->next = p->prev = NULL;
}

/* The rest of the call is about this job and contract: its context says so (log lines, calls it makes). */
static void log_context_set(const SdloopRelayArgs *relay_args, const char *job) {
        SdloopContext *c = sdloop_context_current();

        (void) sdloop_context_set_value(c, SDLOOP_LOG_JOB_ID, job);
        (void) sdloop_context_set_value(c, SDLOOP_LOG_CONTRACT_ID, relay_args->contract_id);
}

static int relayer_new_provider(LedgerRelayer *rl, SdloopObject *relayer, LedgerProviderType type,
                                const SdloopRelayArgs *relay_args, const SdloopPluginArgs *plugin_args,
                                SdloopObject **ret, sd_bus_error *error) {
        _cleanup_(ledger_relay_config_done) LedgerRelayConfig rc = {};
        _cleanup_(ledger_provider_freep) LedgerProvider *p = NULL;
        LedgerStore *store = NULL;
        LedgerProvider *published;
        bool changed = false;
        char job[16];
        int r;

        snprintf(job, sizeof(job), "%" PRIi32, relay_args->job_id);
        log_context_set(relay_args, job);

        if (isempty(relay_args->contract_id)) {
                r = sdloop_error_invalid(error, "relay_args.contract_id", "empty contract id");
                goto finish;
        }

        r = ledger_relay_config_parse(relay_args->relay_config, &rc, error);
        if (r < 0)
                goto finish;
        r = relayer_get_store(rl, rc.ledger, &store, error);
        if (r < 0)
                goto finish;

        if (rc.has_seed) {
                r = ledger_store_seed_config(store, relay_args->contract_id, &rc.seed, &changed, error);
                if (r < 0)
                        goto finish;
                if (changed) {
                        log_info("Contract %s has a new configuration from the relay config of job %s.",
                                 relay_args->contract_id, job);
                        relayer_refresh_providers(rl);
                        /* The providers logged under their own context; back to ours. */
                        log_context_set(relay_args, job);
                }
        }

        r = ledger_provider_new(store, type, relay_args->contract_id, plugin_args ? plugin_args->transmitter_id : NULL,
                                &p, error);
        if (r < 0)
                goto finish;

        if (rl->config.test_forge_reports && type == LEDGER_PROVIDER_MEDIAN) {
                p->forge_keystore = strdup(rl->keystore_path);
                if (!p->forge_keystore) {
                        r = -ENOMEM;
                        goto finish;
                }
        }

        published = TAKE_PTR(p);
        r = ledger_provider_publish(published, relayer, error);
        if (r < 0)
                goto finish;

        published->on_close = provider_closed;
        published->on_close_userdata = rl;
        published->next = rl->providers;
        if (rl->providers)
                rl->providers->prev = published;
        rl->providers = published;

        log_info("Created %s provider %s for contract %s (job %s%s%s).",
                 type == LEDGER_PROVIDER_MEDIAN ? "median" : type == LEDGER_PROVIDER_PLUGIN ? "plugin" : "config",
                 sdloop_object_get_path(published->object), relay_args->contract_id, job,
                 published->transmitter_id ? ", transmitting from " : "", strempty(published->transmitter_id));
        *ret = published->object;
        r = 0;

finish:
        if (r < 0)
                log_notice("Refused provider for contract %s (job %s): %s", strempty(relay_args->contract_id), job,
                           error && error->message ? error->message : strerror(-r));
        return r;
}

static int relayer_new_config_provider(void *userdata, SdloopObject *relayer, const SdloopRelayArgs *relay_args,
                                       SdloopObject **ret, sd_bus_error *error) {
        return relayer_new_provider(userdata, relayer, LEDGER_PROVIDER_CONFIG, relay_args, NULL, ret, error);
}

static int relayer_new_plugin_provider(void *userdata, SdloopObject *relayer, const SdloopRelayArgs *relay_args,
                                       const SdloopPluginArgs *plugin_args, SdloopObject **ret, sd_bus_error *error) {
        LedgerProviderType type;

        if (streq_ptr(relay_args->provider_type, "median"))
                type = LEDGER_PROVIDER_MEDIAN;
        else if (streq_ptr(relay_args->provider_type, "plugin"))
                type = LEDGER_PROVIDER_PLUGIN;
        else
                return sdloop_error_setf(error, SDLOOP_ERROR_UNIMPLEMENTED,
                                         "provider type not supported by the ledger relayer: %s",
                                         strempty(relay_args->provider_type));

        return relayer_new_provider(userdata, relayer, type, relay_args, plugin_args, ret, error);
}

/* --- chain service --------------------------------------------------------------------------------------- */

static int relayer_get_chain_status(void *userdata, SdloopChainStatus *ret, sd_bus_error *error) {
        LedgerRelayer *rl = userdata;
        _cleanup_free_ char *id = NULL, *config = NULL;

        id = strdup(rl->config.chain_id);
        config = strdup(rl->config_text);
        if (!id || !config)
                return -ENOMEM;

        *ret = (SdloopChainStatus) {
                .id = TAKE_PTR(id),
                .enabled = true,
                .config = TAKE_PTR(config),
        };
        return 0;
}

static int parse_page_token(const char *token, uint64_t *ret, sd_bus_error *error) {
        __int128 v;

        if (isempty(token)) {
                *ret = 0;
                return 0;
        }
        if (sdloop_decimal_to_i128(token, &v) < 0 || v < 0 || v > INT32_MAX)
                return sdloop_error_invalid(error, "page_token", "\"%s\" is not a token this relayer handed out",
                                            token);
        *ret = (uint64_t) v;
        return 0;
}

static int relayer_list_node_statuses(void *userdata, int32_t page_size, const char *page_token,
                                      SdloopNodeStatus **ret, size_t *ret_n, int32_t *ret_total,
                                      char **ret_next_page_token, sd_bus_error *error) {
        LedgerRelayer *rl = userdata;
        _cleanup_free_ SdloopNodeStatus *statuses = NULL;
        _cleanup_free_ char *next = NULL;
        LedgerNode *nodes = NULL;
        uint64_t offset = 0, total = 0;
        size_t n = 0;
        int r;

        if (page_size < 0)
                return sdloop_error_invalid(error, "page_size", "negative page size %" PRIi32, page_size);
        r = parse_page_token(page_token, &offset, error);
        if (r < 0)
                return r;
        r = relayer_require_store(rl, error);
        if (r < 0)
                return r;

        /* page_size 0: everything from the token on. */
        r = ledger_store_list_nodes(rl->store, offset, (uint64_t) page_size, &nodes, &n, &total, error);
        if (r < 0)
                return r;

        statuses = new0(SdloopNodeStatus, n);
        if (!statuses) {
                ledger_node_array_free(nodes, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                statuses[i] = (SdloopNodeStatus) {
                        .chain_id = strdup(rl->config.chain_id),
                        .name = TAKE_PTR(nodes[i].name),
                        .config = TAKE_PTR(nodes[i].config),
                        .state = TAKE_PTR(nodes[i].state),
                };
        ledger_node_array_free(nodes, n);
        for (size_t i = 0; i < n; i++)
                if (!statuses[i].chain_id) {
                        sdloop_node_statuses_free(TAKE_PTR(statuses), n);
                        return -ENOMEM;
                }

        /* The next page starts where this one ends; "" says there is none. */
        if (offset + n < total) {
                if (asprintf(&next, "%" PRIu64, offset + n) < 0)
                        next = NULL;
        } else
                next = strdup("");
        if (!next) {
                sdloop_node_statuses_free(TAKE_PTR(statuses), n);
                return -ENOMEM;
        }

        *ret = TAKE_PTR(statuses);
        *ret_n = n;
        *ret_total = (int32_t) MIN(total, (uint64_t) INT32_MAX);
        *ret_next_page_token = TAKE_PTR(next);
        return 0;
}

static int relayer_transact(void *userdata, const char *from, const char *to, const char *amount, bool balance_check,
                            sd_bus_error *error) {
        LedgerRelayer *rl = userdata;
        __int128 v;
        uint64_t block;
        int r;

        r = sdloop_decimal_to_i128(amount, &v);
        if (r == -ERANGE)
                return sdloop_error_invalid(error, "amount", "%s does not fit in 128 bits", amount);
        if (r < 0)
                return sdloop_error_invalid(error, "amount", "\"%s\" is not a decimal", strempty(amount));
        r = relayer_require_store(rl, error);
        if (r < 0)
                return r;

        r = ledger_store_transact(rl->store, from, to, v, balance_check, &block, error);
        if (r < 0) {
                log_notice("Refused transfer of %s from %s to %s: %s", amount, from, to,
                           error && error->message ? error->message : strerror(-r));
                return r;
        }

        log_info("Transferred %s from %s to %s in block %" PRIu64 ".", amount, from, to, block);
        return 0;
}

const SdloopRelayerOps ledger_relayer_ops = {
        .new_config_provider = relayer_new_config_provider,
        .new_plugin_provider = relayer_new_plugin_provider,
        .get_chain_status = relayer_get_chain_status,
        .list_node_statuses = relayer_list_node_statuses,
        .transact = relayer_transact,
};

/* --- the relayer object ---------------------------------------------------------------------------------- */

static int relayer_health_report(void *userdata, SdloopHealth *health) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        LedgerRelayer *rl = userdata;
        const char *name = sdloop_object_get_name(rl->object);
        uint64_t height;
        int r;

        if (!rl->store)
                return sdloop_health_add(health, name, "");
        r = ledger_store_block_height(rl->store, &height, &error);
        if (r < 0)
                return sdloop_health_addf(health, name, "ledger %s unreadable: %s", ledger_store_get_path(rl->store),
                                          error.message ?: strerror(-r));
        return sdloop_health_add(health, name, "");
}

static void relayer_object_close(void *userdata) {
        LedgerRelayer *rl = userdata;

        log_info("Relayer of chain %s closed.", rl->config.chain_id);
        relayer_free(rl);
}

/* The rest of NewRelayer() once the keystore answered: the ledger, the object. On success the object owns
 * *rlp (taken). */
static int relayer_create(LedgerRelayer **rlp, SdloopObject *parent, SdloopObject **ret, sd_bus_error *error) {
        static const SdloopObjectOps ops = {
                .health_report = relayer_health_report,
                .close = relayer_object_close,
        };
        LedgerRelayer *rl = *rlp;
        SdloopObject *o;
        int r;

        if (!rl->config.ledger) {
                /* Under a unit with StateDirectory= (what sdloopd gives every plugin), the ledger lives
                 * there unless the config says otherwise. */
                const char *state = getenv("STATE_DIRECTORY");

                if (!isempty(state) && state[0] == '/' &&
                    asprintf(&rl->config.ledger, "%s/%s.sqlite", state, rl->config.chain_id) < 0)
                        return -ENOMEM;
        }
        if (rl->config.ledger) {
                r = relayer_open_store(rl, rl->config.ledger, error);
                if (r < 0)
                        return r;
        }

        r = sdloop_object_new(sdloop_object_get_peer(parent), parent, "relayer", &ops, rl, &o);
        if (r < 0)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "creating relayer object: %s", strerror(-r));
        rl->object = o;
        /* From here on the object owns the relayer. */
        *rlp = NULL;

        r = sdloop_relayer_export(o, &ledger_relayer_ops, rl);
        if (r < 0) {
                sdloop_object_close(o);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "exporting relayer: %s", strerror(-r));
        }
        if (rl->store) {
                r = relayer_start_poll(rl);
                if (r < 0)
                        log_warning_errno(r, "Failed to watch %s for changes by other processes, ignoring: %m",
                                          ledger_store_get_path(rl->store));
        }

        log_info("Relayer %s serves chain %s%s%s.", sdloop_object_get_path(o), rl->config.chain_id,
                 rl->store ? " from ledger " : "", rl->store ? ledger_store_get_path(rl->store) : "");
        *ret = o;
        return 0;
}

/* One NewRelayer() waiting for the keystore's Accounts(). */
typedef struct NewRelayer {
        SdloopCall *call;
        LedgerRelayer *rl;
        sd_bus_slot *slot;
} NewRelayer;

static NewRelayer *new_relayer_free(NewRelayer *n) {
        if (!n)
                return NULL;
        sd_bus_slot_unref(n->slot);
        sdloop_call_unref(n->call);
        relayer_free(n->rl);
        return mfree(n);
}

static void new_relayer_freep(NewRelayer **n) {
        new_relayer_free(*n);
}

static void new_relayer_cancelled(SdloopCall *call, void *userdata) {
        NewRelayer *n = userdata;

        log_info("Relayer of chain %s not created: NewRelayer() was cancelled.", n->rl->config.chain_id);
        new_relayer_free(n);
}

/* Answer with @error if it says something, else with @r. Frees @n. */
static void new_relayer_fail(NewRelayer *n, int r, const sd_bus_error *error) {
        if (error && sd_bus_error_is_set(error))
                (void) sdloop_call_return_error(n->call, error);
        else
                (void) sdloop_call_return_errno(n->call, r, NULL);
        new_relayer_free(n);
}

static void on_keystore_accounts(SdloopPeer *peer, int r, char ***accounts, sd_bus_error *error, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        NewRelayer *n = userdata;
        const char *keystore_path = n->rl->keystore_path;
        SdloopObject *o = NULL;
        size_t k;

        n->slot = sd_bus_slot_unref(n->slot);

        /* The keystore holds the accounts we transmit from: a relayer that cannot reach it is useless. */
        if (r < 0) {
                log_error_errno(r, "Keystore %s is not reachable: %s", keystore_path,
                                error && error->message ? error->message : strerror(-r));
                new_relayer_fail(n, r, error);
                return;
        }
        k = strv_length(*accounts);
        log_info("Keystore %s holds %zu account%s.", keystore_path, k, k == 1 ? "" : "s");

        r = relayer_create(&n->rl, sdloop_call_get_object(n->call), &o, &e);
        if (r < 0) {
                new_relayer_fail(n, r, &e);
                return;
        }
        r = sdloop_plugin_relayer_new_relayer_return(n->call, o);
        if (r < 0) {
                /* Refused (Internal went out) or no longer wanted: nobody will use it. */
                log_warning_errno(r, "Relayer %s not handed out, closing it: %m", sdloop_object_get_path(o));
                sdloop_object_close(o);
        }
        new_relayer_free(n);
}

static int plugin_new_relayer(void *userdata, SdloopObject *parent, const char *config, const char *keystore_path,
                              SdloopObject **ret, sd_bus_error *error) {
        _cleanup_(new_relayer_freep) NewRelayer *n = NULL;
        int r;

        n = new0(NewRelayer, 1);
        if (!n)
                return -ENOMEM;
        n->rl = new0(LedgerRelayer, 1);
        if (!n->rl)
                return -ENOMEM;

        r = ledger_relayer_config_parse(config, &n->rl->config, error);
        if (r < 0)
                return r;
        n->rl->config_text = strdup(config);
        n->rl->keystore_path = strdup(keystore_path);
        if (!n->rl->config_text || !n->rl->keystore_path)
                return -ENOMEM;

        /* The rest waits for the keystore. */
        n->call = sdloop_call_defer();
        if (!n->call)
                return -ENOMEM;
        sdloop_call_set_cancel_handler(n->call, new_relayer_cancelled, n);

        r = sdloop_keystore_accounts_async(sdloop_object_get_peer(parent), keystore_path,
                                           sdloop_call_get_context(n->call), on_keystore_accounts, n, &n->slot);
        if (r < 0) {
                log_error_errno(r, "Keystore %s is not reachable: %m", keystore_path);
                new_relayer_fail(TAKE_PTR(n), r, NULL);
                return 0;
        }

        /* The reply or the cancel handler own it now. */
        TAKE_PTR(n);
        return 0;
}

const SdloopPluginRelayerOps ledger_plugin_relayer_ops = {
        .new_relayer = plugin_new_relayer,
};

int ledger_plugin_relayer_setup(SdloopObject *root) {
        return sdloop_plugin_relayer_export(root, &ledger_plugin_relayer_ops, NULL);
}
