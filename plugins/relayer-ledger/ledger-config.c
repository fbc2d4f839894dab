/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Parsing and checking the relayer config and the relay config (JSON). Errors name the JSON path of what
 * is wrong, e.g. "relay_config.config.signers[2]: expected 32 bytes, got 31". */

#include <json-c/json.h>
#include <sodium.h>

#include "ledger-config.h"
#include "ledger-onchain.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"

static void json_object_putp(json_object **j) {
        if (*j)
                json_object_put(*j);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

static int json_parse_object(const char *text, const char *field, json_object **ret, sd_bus_error *error) {
        enum json_tokener_error jerr = json_tokener_success;
        json_object *j;

        j = json_tokener_parse_verbose(strempty(text), &jerr);
        if (!j)
                return sdloop_error_invalid(error, field, "not JSON: %s", json_tokener_error_desc(jerr));
        if (!json_object_is_type(j, json_type_object)) {
                json_object_put(j);
                return sdloop_error_invalid(error, field, "expected a JSON object");
        }
        *ret = j;
        return 0;
}

/* Only the listed keys may appear in a strict object: a misspelt key would otherwise be silently ignored. */
static int json_check_keys(json_object *j, const char *field, const char * const *allowed, sd_bus_error *error) {
        json_object_object_foreach(j, key, value) {
                bool found = false;

                (void) value;
                for (const char * const *a = allowed; *a; a++)
                        if (streq(*a, key)) {
                                found = true;
                                break;
                        }
                if (!found)
                        return sdloop_error_invalid(error, field, "unknown key %s", SDLOOP_QUOTE(key));
        }
        return 0;
}

static int json_get_string(json_object *j, const char *key, const char *field, bool required, char **ret,
                           sd_bus_error *error) {
        json_object *v;
        char *s;

        if (!json_object_object_get_ex(j, key, &v) || json_object_is_type(v, json_type_null)) {
                if (required)
                        return sdloop_error_invalid(error, field, "missing \"%s\"", key);
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return sdloop_error_invalid(error, field, "\"%s\" must be a string", key);
        s = strdup(json_object_get_string(v));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int json_get_uint64(json_object *j, const char *key, const char *field, bool required, uint64_t def,
                           uint64_t *ret, sd_bus_error *error) {
        json_object *v;
        int64_t i;

        if (!json_object_object_get_ex(j, key, &v) || json_object_is_type(v, json_type_null)) {
                if (required)
                        return sdloop_error_invalid(error, field, "missing \"%s\"", key);
                *ret = def;
                return 0;
        }
        if (!json_object_is_type(v, json_type_int))
                return sdloop_error_invalid(error, field, "\"%s\" must be an integer", key);
        /* json-c keeps integers above INT64_MAX as unsigned; below 0 they are negative int64. */
        i = json_object_get_int64(v);
        if (i < 0)
                return sdloop_error_invalid(error, field, "\"%s\" must not be negative", key);
        *ret = i == INT64_MAX ? json_object_get_uint64(v) : (uint64_t) i;
        return 0;
}

/* A decimal given as a JSON string (any size) or a JSON integer. */
static int json_get_decimal(json_object *v, const char *field, char **ret, sd_bus_error *error) {
        char *s;

        if (json_object_is_type(v, json_type_string)) {
                if (!sdloop_decimal_is_valid(json_object_get_string(v)))
                        return sdloop_error_invalid(error, field, "%s is not a decimal integer",
                                                    SDLOOP_QUOTE(json_object_get_string(v)));
                s = strdup(json_object_get_string(v));
        } else if (json_object_is_type(v, json_type_int)) {
                if (asprintf(&s, "%" PRIi64, json_object_get_int64(v)) < 0)
                        s = NULL;
        } else
                return sdloop_error_invalid(error, field, "expected a decimal string or an integer");
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int hex_decode(const char *hex, const char *field, SdloopBytes *ret, sd_bus_error *error) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len, n = 0;

        if (strncmp(hex, "0x", 2) == 0 || strncmp(hex, "0X", 2) == 0)
                hex += 2;
        len = strlen(hex);
        if (len % 2 != 0)
                return sdloop_error_invalid(error, field, "odd number of hex digits");
        buf = malloc(len / 2 + 1);
        if (!buf)
                return -ENOMEM;
        if (sodium_hex2bin(buf, len / 2 + 1, hex, len, NULL, &n, NULL) != 0 || n != len / 2)
                return sdloop_error_invalid(error, field, "not hex");

        *ret = (SdloopBytes) { .data = n > 0 ? TAKE_PTR(buf) : NULL, .size = n };
        return 0;
}

void ledger_node_array_free(LedgerNode *nodes, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(nodes[i].name);
                free(nodes[i].config);
                free(nodes[i].state);
        }
        free(nodes);
}

static void balance_array_free(LedgerBalance *b, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(b[i].account);
                free(b[i].amount);
        }
        free(b);
}

/* --- relayer config ------------------------------------------------------------------------------------- */

static int parse_nodes(json_object *j, LedgerRelayerConfig *c, sd_bus_error *error) {
        static const char * const keys[] = { "name", "config", "state", NULL };
        json_object *nodes;
        size_t n;
        int r;

        if (!json_object_object_get_ex(j, "nodes", &nodes) || json_object_is_type(nodes, json_type_null))
                return 0;
        if (!json_object_is_type(nodes, json_type_array))
                return sdloop_error_invalid(error, "config.nodes", "expected an array");

        n = json_object_array_length(nodes);
        c->nodes = new0(LedgerNode, n);
        if (!c->nodes)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                json_object *node = json_object_array_get_idx(nodes, i), *config;
                LedgerNode *ln = c->nodes + c->n_nodes;
                char field[64];

                snprintf(field, sizeof(field), "config.nodes[%zu]", i);
                if (!json_object_is_type(node, json_type_object))
                        return sdloop_error_invalid(error, field, "expected an object");
                r = json_check_keys(node, field, keys, error);
                if (r < 0)
                        return r;

                c->n_nodes++;
                r = json_get_string(node, "name", field, true, &ln->name, error);
                if (r < 0)
                        return r;
                if (isempty(ln->name))
                        return sdloop_error_invalid(error, field, "empty name");
                for (size_t k = 0; k + 1 < c->n_nodes; k++)
                        if (streq(c->nodes[k].name, ln->name))
                                return sdloop_error_invalid(error, field, "duplicate node name %s",
                                                            SDLOOP_QUOTE(ln->name));

                r = json_get_string(node, "state", field, false, &ln->state, error);
                if (r < 0)
                        return r;
                if (!ln->state && !(ln->state = strdup("Alive")))
                        return -ENOMEM;

                /* A node's config is free-form: a string as is, anything else as its JSON text. */
                if (!json_object_object_get_ex(node, "config", &config) || json_object_is_type(config, json_type_null))
                        ln->config = strdup("");
                else if (json_object_is_type(config, json_type_string))
                        ln->config = strdup(json_object_get_string(config));
                else
                        ln->config = strdup(json_object_to_json_string_ext(
                                        config, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                if (!ln->config)
                        return -ENOMEM;
        }
        return 0;
}

static int parse_balances(json_object *j, LedgerRelayerConfig *c, sd_bus_error *error) {
        json_object *balances;
        size_t n;
        int r;

        if (!json_object_object_get_ex(j, "balances", &balances) || json_object_is_type(balances, json_type_null))
                return 0;
        if (!json_object_is_type(balances, json_type_object))
                return sdloop_error_invalid(error, "config.balances", "expected an object of account: decimal");

        n = (size_t) json_object_object_length(balances);
        c->balances = new0(LedgerBalance, n);
        if (!c->balances)
                return -ENOMEM;

        json_object_object_foreach(balances, account, value) {
                LedgerBalance *b = c->balances + c->n_balances;
                _cleanup_free_ char *field = NULL;
                __int128 v;

                /* The account is the config's own text: quoted, so that the field name stays short. */
                if (asprintf(&field, "config.balances.%s", SDLOOP_QUOTE(account)) < 0)
                        return -ENOMEM;
                if (isempty(account))
                        return sdloop_error_invalid(error, "config.balances", "empty account name");

                c->n_balances++;
                b->account = strdup(account);
                if (!b->account)
                        return -ENOMEM;
                r = json_get_decimal(value, field, &b->amount, error);
                if (r < 0)
                        return r;
                r = sdloop_decimal_to_i128(b->amount, &v);
                if (r < 0)
                        return sdloop_error_invalid(error, field, "%s does not fit in 128 bits",
                                                    SDLOOP_QUOTE(b->amount));
                if (v < 0)
                        return sdloop_error_invalid(error, field, "negative balance %s", SDLOOP_QUOTE(b->amount));
        }
        return 0;
}

static int parse_ledger_path(json_object *j, const char *field, char **ret, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = json_get_string(j, "ledger", field, false, &path, error);
        if (r < 0)
                return r;
        /* Relative to what? Plugins run with / as their working directory: ask for the whole path. */
        if (path && path[0] != '/')
                return sdloop_error_invalid(error, field, "\"ledger\" must be an absolute path, got %s",
                                            SDLOOP_QUOTE(path));
        *ret = TAKE_PTR(path);
        return 0;
}

int ledger_relayer_config_parse(const char *json, LedgerRelayerConfig *ret, sd_bus_error *error) {
        static const char * const keys[] = {
                "chain_id", "ledger", "nodes", "balances", "poll_interval_usec", "test_forge_reports", NULL
        };
        _cleanup_(ledger_relayer_config_done) LedgerRelayerConfig c = {};
        _cleanup_json_ json_object *j = NULL;
        json_object *v;
        int r;

        assert(ret);

        r = json_parse_object(json, "config", &j, error);
        if (r < 0)
                return r;
        r = json_check_keys(j, "config", keys, error);
        if (r < 0)
                return r;

        r = json_get_string(j, "chain_id", "config", true, &c.chain_id, error);
        if (r < 0)
                return r;
        if (isempty(c.chain_id))
                return sdloop_error_invalid(error, "config.chain_id", "empty chain id");

        r = parse_ledger_path(j, "config", &c.ledger, error);
        if (r < 0)
                return r;
        r = parse_nodes(j, &c, error);
        if (r < 0)
                return r;
        r = parse_balances(j, &c, error);
        if (r < 0)
                return r;
        r = json_get_uint64(j, "poll_interval_usec", "config", false, LEDGER_POLL_INTERVAL_USEC_DEFAULT,
                            &c.poll_interval_usec, error);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(j, "test_forge_reports", &v)) {
                if (!json_object_is_type(v, json_type_boolean))
                        return sdloop_error_invalid(error, "config.test_forge_reports", "expected true or false");
                c.test_forge_reports = json_object_get_boolean(v);
        }

        *ret = c;
        c = (LedgerRelayerConfig) {};
        return 0;
}

void ledger_relayer_config_done(LedgerRelayerConfig *c) {
        if (!c)
                return;
        free(c->chain_id);
        free(c->ledger);
        ledger_node_array_free(c->nodes, c->n_nodes);
        balance_array_free(c->balances, c->n_balances);
        *c = (LedgerRelayerConfig) {};
}

/* --- relay config ----------------------------------------------------------------------------------------- */

static int parse_signers(json_object *seed, SdloopContractConfig *c, sd_bus_error *error) {
        const char *field = "relay_config.config.signers";
        json_object *a;
        size_t n;
        int r;

        if (!json_object_object_get_ex(seed, "signers", &a))
                return sdloop_error_invalid(error, "relay_config.config", "missing \"signers\"");
        if (!json_object_is_type(a, json_type_array))
                return sdloop_error_invalid(error, field, "expected an array of hex public keys");

        n = json_object_array_length(a);
        c->signers = new0(SdloopBytes, n);
        if (!c->signers)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(a, i);
                char sub[64];

                snprintf(sub, sizeof(sub), "%s[%zu]", field, i);
                if (!json_object_is_type(v, json_type_string))
                        return sdloop_error_invalid(error, sub, "expected a hex string");
                r = hex_decode(json_object_get_string(v), sub, c->signers + i, error);
                if (r < 0)
                        return r;
                c->n_signers++;
        }
        return 0;
}

static int parse_transmitters(json_object *seed, SdloopContractConfig *c, sd_bus_error *error) {
        const char *field = "relay_config.config.transmitters";
        json_object *a;
        size_t n;

        if (!json_object_object_get_ex(seed, "transmitters", &a))
                return sdloop_error_invalid(error, "relay_config.config", "missing \"transmitters\"");
        if (!json_object_is_type(a, json_type_array))
                return sdloop_error_invalid(error, field, "expected an array of accounts");

        n = json_object_array_length(a);
        c->transmitters = new0(char *, n + 1);
        if (!c->transmitters)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(a, i);

                if (!json_object_is_type(v, json_type_string))
                        return sdloop_error_invalid(error, field, "transmitter %zu is not a string", i);
                c->transmitters[i] = strdup(json_object_get_string(v));
                if (!c->transmitters[i])
                        return -ENOMEM;
        }
        return 0;
}

static int parse_onchain_config(json_object *seed, SdloopContractConfig *c, sd_bus_error *error) {
        static const char * const keys[] = { "min", "max", NULL };
        _cleanup_free_ char *min = NULL, *max = NULL;
        const char *field = "relay_config.config.onchain_config";
        json_object *o, *v;
        int r;

        if (!json_object_object_get_ex(seed, "onchain_config", &o))
                return sdloop_error_invalid(error, "relay_config.config", "missing \"onchain_config\"");
        if (!json_object_is_type(o, json_type_object))
                return sdloop_error_invalid(error, field, "expected {\"min\": decimal, \"max\": decimal}");
        r = json_check_keys(o, field, keys, error);
        if (r < 0)
                return r;

        if (!json_object_object_get_ex(o, "min", &v))
                return sdloop_error_invalid(error, field, "missing \"min\"");
        r = json_get_decimal(v, "relay_config.config.onchain_config.min", &min, error);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "max", &v))
                return sdloop_error_invalid(error, field, "missing \"max\"");
        r = json_get_decimal(v, "relay_config.config.onchain_config.max", &max, error);
        if (r < 0)
                return r;

        r = ledger_onchain_config_encode(&(SdloopOnchainConfig) { .min = min, .max = max }, &c->onchain_config, error);
        if (r == -EINVAL) {
                /* Re-anchor the codec's field name under the relay config. */
                _cleanup_free_ char *msg = strdup(strempty(error ? error->message : NULL));

                if (error)
                        sd_bus_error_free(error);
                return sdloop_error_invalid(error, "relay_config.config", "%s", msg ?: "invalid onchain_config");
        }
        return r;
}

static int parse_seed(json_object *seed, SdloopContractConfig *c, sd_bus_error *error) {
        static const char * const keys[] = {
                "signers", "transmitters", "f", "onchain_config", "offchain_config_version", "offchain_config", NULL
        };
        _cleanup_free_ char *offchain = NULL;
        uint64_t f;
        int r;

        if (!json_object_is_type(seed, json_type_object))
                return sdloop_error_invalid(error, "relay_config.config", "expected an object");
        r = json_check_keys(seed, "relay_config.config", keys, error);
        if (r < 0)
                return r;

        r = parse_signers(seed, c, error);
        if (r < 0)
                return r;
        r = parse_transmitters(seed, c, error);
        if (r < 0)
                return r;
        r = json_get_uint64(seed, "f", "relay_config.config", true, 0, &f, error);
        if (r < 0)
                return r;
        if (f > UINT8_MAX)
                return sdloop_error_invalid(error, "relay_config.config.f", "%" PRIu64 " does not fit in 8 bits", f);
        c->f = (uint8_t) f;
        r = parse_onchain_config(seed, c, error);
        if (r < 0)
                return r;
        r = json_get_uint64(seed, "offchain_config_version", "relay_config.config", false, 0,
                            &c->offchain_config_version, error);
        if (r < 0)
                return r;
        r = json_get_string(seed, "offchain_config", "relay_config.config", false, &offchain, error);
        if (r < 0)
                return r;
        if (offchain) {
                r = hex_decode(offchain, "relay_config.config.offchain_config", &c->offchain_config, error);
                if (r < 0)
                        return r;
        }

        return ledger_contract_config_validate(c, "relay_config.config", error);
}

int ledger_relay_config_parse(const char *json, LedgerRelayConfig *ret, sd_bus_error *error) {
        _cleanup_(ledger_relay_config_done) LedgerRelayConfig c = {};
        _cleanup_json_ json_object *j = NULL;
        json_object *seed;
        int r;

        assert(ret);

        /* Other keys are left alone: a job's relay config may carry settings for others. */
        r = json_parse_object(json, "relay_config", &j, error);
        if (r < 0)
                return r;
        r = parse_ledger_path(j, "relay_config", &c.ledger, error);
        if (r < 0)
                return r;

        if (json_object_object_get_ex(j, "config", &seed) && !json_object_is_type(seed, json_type_null)) {
                r = parse_seed(seed, &c.seed, error);
                if (r < 0)
                        return r;
                c.has_seed = true;
        }

        *ret = c;
        c = (LedgerRelayConfig) {};
        return 0;
}

void ledger_relay_config_done(LedgerRelayConfig *c) {
        if (!c)
                return;
        free(c->ledger);
        sdloop_contract_config_done(&c->seed);
        *c = (LedgerRelayConfig) {};
}

/* --- configuration rules ---------------------------------------------------------------------------------- */

int ledger_contract_config_validate(const SdloopContractConfig *c, const char *field, sd_bus_error *error) {
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig onchain = {};
        size_t n = c->n_signers, n_transmitters = strv_length(c->transmitters);
        _cleanup_free_ char *sub = NULL;
        int r;

        if (asprintf(&sub, "%s.signers", field) < 0)
                return -ENOMEM;
        if (n == 0 || n > LEDGER_ORACLES_MAX)
                return sdloop_error_invalid(error, sub, "expected 1 to %u signers, got %zu", LEDGER_ORACLES_MAX, n);
        for (size_t i = 0; i < n; i++) {
                if (c->signers[i].size != LEDGER_SIGNER_KEY_SIZE)
                        return sdloop_error_invalid(error, sub, "signer %zu: expected a %u-byte Ed25519 public key, "
                                                    "got %zu bytes", i, LEDGER_SIGNER_KEY_SIZE, c->signers[i].size);
                for (size_t k = 0; k < i; k++)
                        if (memcmp(c->signers[k].data, c->signers[i].data, LEDGER_SIGNER_KEY_SIZE) == 0)
                                return sdloop_error_invalid(error, sub, "signers %zu and %zu are the same key", k, i);
        }

        free(sub);
        if (asprintf(&sub, "%s.transmitters", field) < 0)
                return -ENOMEM;
        if (n_transmitters != n)
                return sdloop_error_invalid(error, sub, "%zu transmitters for %zu signers: one per oracle",
                                            n_transmitters, n);
        for (size_t i = 0; i < n_transmitters; i++) {
                if (isempty(c->transmitters[i]))
                        return sdloop_error_invalid(error, sub, "transmitter %zu is empty", i);
                for (size_t k = 0; k < i; k++)
                        if (streq(c->transmitters[k], c->transmitters[i]))
                                return sdloop_error_invalid(error, sub, "transmitter %s appears twice",
                                                            SDLOOP_QUOTE(c->transmitters[i]));
        }

        free(sub);
        if (asprintf(&sub, "%s.f", field) < 0)
                return -ENOMEM;
        if (c->f == 0 || 3U * c->f >= n)
                return sdloop_error_invalid(error, sub, "f = %u with %zu oracles: need 0 < f and 3f < n", c->f, n);

        free(sub);
        if (asprintf(&sub, "%s.onchain_config", field) < 0)
                return -ENOMEM;
        r = ledger_onchain_config_decode(c->onchain_config.data, c->onchain_config.size, &onchain, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sdloop_error_invalid(error, sub,
                                            "not a median onchain config (version 1, 65 bytes, min <= max)");
        return 0;
}
