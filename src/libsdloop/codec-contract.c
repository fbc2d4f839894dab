/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What a contract is configured with: ContractConfig, and the median's OnchainConfig. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "codec-internal.h"
#include "macro.h"
#include "sdloop-error.h"

/* --- ContractConfig ----------------------------------------------------------------------------------- */

static void bytes_array_free(SdloopBytes *a, size_t n) {
        for (size_t i = 0; i < n; i++)
                sdloop_bytes_done(a + i);
        free(a);
}

/* "aay": the signers' public keys. */
static int read_bytes_array(sd_bus_message *m, const char *field, SdloopBytes **ret, size_t *ret_n, sd_bus_error *error) {
        SdloopBytes *a = NULL;
        size_t n = 0, allocated = 0;
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(ret);
        assert(ret_n);

        r = sd_bus_message_enter_container(m, 'a', "ay");
        if (r <= 0)
                return bus_read_failed(error, field, "aay", r);

        for (;;) {
                const void *p;
                size_t size;

                if (sd_bus_message_at_end(m, false) > 0)
                        break;
                r = check_elements(error, field, n, SDLOOP_ORACLES_MAX);
                if (r < 0)
                        goto fail;

                r = sd_bus_message_read_array(m, 'y', &p, &size);
                if (r < 0) {
                        r = bus_read_failed(error, fieldf(sub, "%s[%zu]", field, n), "ay", r);
                        goto fail;
                }
                if (r == 0)
                        break;

                if (size > SDLOOP_PAYLOAD_MAX) {
                        r = sdloop_error_invalid(error, fieldf(sub, "%s[%zu]", field, n),
                                                 "expected at most %u bytes, got %zu", SDLOOP_PAYLOAD_MAX, size);
                        goto fail;
                }

                r = GROW(a, allocated, n);
                if (r < 0)
                        goto fail;

                r = sdloop_bytes_copy(a + n, p, size);
                if (r < 0)
                        goto fail;
                n++;
        }

        r = exit_container(m, field, "aay", error);
        if (r < 0)
                goto fail;

        *ret = a;
        *ret_n = n;
        return 0;

fail:
        bytes_array_free(a, n);
        return r;
}

/* "as", one per oracle: counted before each is copied (sd_bus_message_read_strv() would take any number). */
static int read_transmitters(sd_bus_message *m, const char *field, char ***ret, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r <= 0)
                return bus_read_failed(error, field, "as", r);

        l = new0(char *, SDLOOP_ORACLES_MAX + 1);
        if (!l)
                return -ENOMEM;
        for (;;) {
                const char *s;

                if (sd_bus_message_at_end(m, false) > 0)
                        break;
                r = check_elements(error, field, n, SDLOOP_ORACLES_MAX);
                if (r < 0)
                        return r;
                r = sd_bus_message_read_basic(m, 's', &s);
                if (r <= 0)
                        return bus_read_failed(error, field, "as", r);
                l[n] = strdup(s);
                if (!l[n])
                        return -ENOMEM;
                n++;
        }

        r = exit_container(m, field, "as", error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

int sdloop_read_contract_config(sd_bus_message *m, const char *field, SdloopContractConfig *ret, sd_bus_error *error) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig v = {};
        char sub[FIELD_MAX];
        size_t n_transmitters;
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_CONTRACT_CONFIG, error);
        if (r < 0)
                return r;

        r = sdloop_read_digest(m, fieldf(sub, "%s.digest", field), v.digest, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read_basic(m, 't', &v.config_count);
        if (r <= 0)
                return bus_read_failed(error, fieldf(sub, "%s.config_count", field), "t", r);

        r = read_bytes_array(m, fieldf(sub, "%s.signers", field), &v.signers, &v.n_signers, error);
        if (r < 0)
                return r;

        r = read_transmitters(m, fieldf(sub, "%s.transmitters", field), &v.transmitters, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read_basic(m, 'y', &v.f);
        if (r <= 0)
                return bus_read_failed(error, fieldf(sub, "%s.f", field), "y", r);

        r = sdloop_read_bytes(m, fieldf(sub, "%s.onchain_config", field), 0, &v.onchain_config, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read_basic(m, 't', &v.offchain_config_version);
        if (r <= 0)
                return bus_read_failed(error, fieldf(sub, "%s.offchain_config_version", field), "t", r);

        r = sdloop_read_bytes(m, fieldf(sub, "%s.offchain_config", field), 0, &v.offchain_config, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_CONTRACT_CONFIG ")", error);
        if (r < 0)
                return r;

        /* Signers and transmitters are indexed by oracle id, so they must pair up. */
        n_transmitters = strv_length(v.transmitters);
        if (n_transmitters != v.n_signers)
                return sdloop_error_invalid(error, fieldf(sub, "%s.transmitters", field),
                                            "expected one per signer (%zu), got %zu",
                                            v.n_signers, n_transmitters);

        /* OCR tolerates f faulty oracles out of n only if 3f < n. */
        if (v.n_signers > 0 && (size_t) v.f * 3 >= v.n_signers)
                return sdloop_error_invalid(error, fieldf(sub, "%s.f", field),
                                            "3f must be less than the number of oracles");

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_contract_config(sd_bus_message *m, const SdloopContractConfig *v) {
        int r;

        assert(m);
        assert(v);
        assert(v->signers || v->n_signers == 0);

        r = sd_bus_message_open_container(m, 'r', SIG_CONTRACT_CONFIG);
        if (r < 0)
                return r;

        r = sdloop_append_digest(m, v->digest);
        if (r < 0)
                return r;

        r = sd_bus_message_append_basic(m, 't', &v->config_count);
        if (r < 0)
                return r;

        r = sd_bus_message_open_container(m, 'a', "ay");
        if (r < 0)
                return r;
        for (size_t i = 0; i < v->n_signers; i++) {
                r = sdloop_append_bytes(m, v->signers[i].data, v->signers[i].size);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;

        /* sd-bus takes a NULL list as an empty one. */
        r = sd_bus_message_append_strv(m, v->transmitters);
        if (r < 0)
                return r;

        r = sd_bus_message_append_basic(m, 'y', &v->f);
        if (r < 0)
                return r;

        r = sdloop_append_bytes(m, v->onchain_config.data, v->onchain_config.size);
        if (r < 0)
                return r;

        r = sd_bus_message_append_basic(m, 't', &v->offchain_config_version);
        if (r < 0)
                return r;

        r = sdloop_append_bytes(m, v->offchain_config.data, v->offchain_config.size);
        if (r < 0)
                return r;

        return sd_bus_message_close_container(m);
}

void sdloop_contract_config_done(SdloopContractConfig *v) {
        if (!v)
                return;

        bytes_array_free(v->signers, v->n_signers);
        strv_free(v->transmitters);
        sdloop_bytes_done(&v->onchain_config);
        sdloop_bytes_done(&v->offchain_config);
        *v = (SdloopContractConfig) {};
}

/* --- OnchainConfig ------------------------------------------------------------------------------------ */

int sdloop_read_onchain_config(sd_bus_message *m, const char *field, SdloopOnchainConfig *ret, sd_bus_error *error) {
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_ONCHAIN_CONFIG, error);
        if (r < 0)
                return r;

        r = sdloop_read_decimal(m, fieldf(sub, "%s.min", field), &v.min, error);
        if (r < 0)
                return r;

        r = sdloop_read_decimal(m, fieldf(sub, "%s.max", field), &v.max, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_ONCHAIN_CONFIG ")", error);
        if (r < 0)
                return r;

        if (sdloop_decimal_compare(v.min, v.max) > 0)
                return sdloop_error_invalid(error, field, "min %s must not be greater than max %s",
                                            SDLOOP_QUOTE(v.min), SDLOOP_QUOTE(v.max));

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_onchain_config(sd_bus_message *m, const SdloopOnchainConfig *v) {
        assert(m);
        assert(v);

        return sd_bus_message_append(m, "(" SIG_ONCHAIN_CONFIG ")", strempty(v->min), strempty(v->max));
}

void sdloop_onchain_config_done(SdloopOnchainConfig *v) {
        if (!v)
                return;

        free(v->min);
        free(v->max);
        *v = (SdloopOnchainConfig) {};
}
