/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The arrays of a round: a(ayy) attributed observations and signatures, a(ussy) parsed observations. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "codec-internal.h"
#include "macro.h"
#include "sdloop-error.h"

/* --- a(ayy): attributed observations and signatures --------------------------------------------------- */

static void attributed_done(SdloopAttributed *v) {
        sdloop_bytes_done(&v->data);
        v->oracle = 0;
}

static int read_attributed_elements(
                sd_bus_message *m,
                const char *field,
                size_t max_data,
                SdloopAttributed **array,
                size_t *n,
                sd_bus_error *error) {

        size_t allocated = *n;
        char sub[FIELD_MAX];
        int r;

        for (;;) {
                _cleanup_(attributed_done) SdloopAttributed e = {};

                /* Observations and signatures: one per oracle at most. */
                if (sd_bus_message_at_end(m, false) > 0)
                        return 0;
                r = check_elements(error, field, *n, SDLOOP_ORACLES_MAX);
                if (r < 0)
                        return r;

                r = sd_bus_message_enter_container(m, 'r', SIG_ATTRIBUTED);
                if (r < 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu]", field, *n), "(" SIG_ATTRIBUTED ")", r);
                if (r == 0)
                        return 0; /* end of the array */

                r = sdloop_read_bytes(m, fieldf(sub, "%s[%zu].data", field, *n), max_data, &e.data, error);
                if (r < 0)
                        return r;

                r = sd_bus_message_read_basic(m, 'y', &e.oracle);
                if (r <= 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu].oracle", field, *n), "y", r);

                r = exit_container(m, fieldf(sub, "%s[%zu]", field, *n), "(" SIG_ATTRIBUTED ")", error);
                if (r < 0)
                        return r;

                r = GROW(*array, allocated, *n);
                if (r < 0)
                        return r;

                (*array)[(*n)++] = TAKE_STRUCT(e);
        }
}

int sdloop_read_attributed_array(
                sd_bus_message *m,
                const char *field,
                size_t max_data,
                SdloopAttributed **ret,
                size_t *ret_n,
                sd_bus_error *error) {

        SdloopAttributed *a = NULL;
        size_t n = 0;
        int r;

        assert(m);
        assert(field);
        assert(ret);
        assert(ret_n);

        *ret = NULL;
        *ret_n = 0;

        r = sd_bus_message_enter_container(m, 'a', "(" SIG_ATTRIBUTED ")");
        if (r <= 0)
                return bus_read_failed(error, field, "a(" SIG_ATTRIBUTED ")", r);

        r = read_attributed_elements(m, field, max_data, &a, &n, error);
        if (r >= 0)
                r = exit_container(m, field, "a(" SIG_ATTRIBUTED ")", error);
        if (r < 0) {
                sdloop_attributed_array_free(a, n);
                return r;
        }

        *ret = a;
        *ret_n = n;
        return 0;
}

int sdloop_append_attributed_array(sd_bus_message *m, const SdloopAttributed *v, size_t n) {
        int r;

        assert(m);
        assert(v || n == 0);

        r = sd_bus_message_open_container(m, 'a', "(" SIG_ATTRIBUTED ")");
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_open_container(m, 'r', SIG_ATTRIBUTED);
                if (r < 0)
                        return r;

                r = sdloop_append_bytes(m, v[i].data.data, v[i].data.size);
                if (r < 0)
                        return r;

                r = sd_bus_message_append_basic(m, 'y', &v[i].oracle);
                if (r < 0)
                        return r;

                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }

        return sd_bus_message_close_container(m);
}

void sdloop_attributed_array_free(SdloopAttributed *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                attributed_done(v + i);
        free(v);
}

/* --- a(ussy): parsed observations --------------------------------------------------------------------- */

static void parsed_observation_done(SdloopParsedObservation *v) {
        free(v->value);
        free(v->juels_per_fee_coin);
        *v = (SdloopParsedObservation) {};
}

static int read_parsed_observation_elements(
                sd_bus_message *m,
                const char *field,
                SdloopParsedObservation **array,
                size_t *n,
                sd_bus_error *error) {

        size_t allocated = *n;
        char sub[FIELD_MAX];
        int r;

        for (;;) {
                _cleanup_(parsed_observation_done) SdloopParsedObservation e = {};

                if (sd_bus_message_at_end(m, false) > 0)
                        return 0;
                r = check_elements(error, field, *n, SDLOOP_ORACLES_MAX);
                if (r < 0)
                        return r;

                r = sd_bus_message_enter_container(m, 'r', SIG_PARSED_OBSERVATION);
                if (r < 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu]", field, *n), "(" SIG_PARSED_OBSERVATION ")", r);
                if (r == 0)
                        return 0;

                r = sd_bus_message_read_basic(m, 'u', &e.timestamp);
                if (r <= 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu].timestamp", field, *n), "u", r);

                r = sdloop_read_decimal(m, fieldf(sub, "%s[%zu].value", field, *n), &e.value, error);
                if (r < 0)
                        return r;

                r = sdloop_read_decimal(m, fieldf(sub, "%s[%zu].juels_per_fee_coin", field, *n), &e.juels_per_fee_coin, error);
                if (r < 0)
                        return r;

                r = sd_bus_message_read_basic(m, 'y', &e.observer);
                if (r <= 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu].observer", field, *n), "y", r);

                r = exit_container(m, fieldf(sub, "%s[%zu]", field, *n), "(" SIG_PARSED_OBSERVATION ")", error);
                if (r < 0)
                        return r;

                r = GROW(*array, allocated, *n);
                if (r < 0)
                        return r;

                (*array)[(*n)++] = TAKE_STRUCT(e);
        }
}

int sdloop_read_parsed_observations(
                sd_bus_message *m,
                const char *field,
                SdloopParsedObservation **ret,
                size_t *ret_n,
                sd_bus_error *error) {

        SdloopParsedObservation *a = NULL;
        size_t n = 0;
        int r;

        assert(m);
        assert(field);
        assert(ret);
        assert(ret_n);

        *ret = NULL;
        *ret_n = 0;

        r = sd_bus_message_enter_container(m, 'a', "(" SIG_PARSED_OBSERVATION ")");
        if (r <= 0)
                return bus_read_failed(error, field, "a(" SIG_PARSED_OBSERVATION ")", r);

        r = read_parsed_observation_elements(m, field, &a, &n, error);
        if (r >= 0)
                r = exit_container(m, field, "a(" SIG_PARSED_OBSERVATION ")", error);
        if (r < 0) {
                sdloop_parsed_observations_free(a, n);
                return r;
        }

        *ret = a;
        *ret_n = n;
        return 0;
}

int sdloop_append_parsed_observations(sd_bus_message *m, const SdloopParsedObservation *v, size_t n) {
        int r;

        assert(m);
        assert(v || n == 0);

        r = sd_bus_message_open_container(m, 'a', "(" SIG_PARSED_OBSERVATION ")");
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_append(m, "(" SIG_PARSED_OBSERVATION ")",
                                          v[i].timestamp,
                                          strempty(v[i].value),
                                          strempty(v[i].juels_per_fee_coin),
                                          v[i].observer);
                if (r < 0)
                        return r;
        }

        return sd_bus_message_close_container(m);
}

void sdloop_parsed_observations_free(SdloopParsedObservation *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                parsed_observation_done(v + i);
        free(v);
}
