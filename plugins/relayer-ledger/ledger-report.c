/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The median report codec on MedianReport (ledger.proto). */

#include "ledger-report.h"
#include "ledger.pb-c.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"

/* A decimal is at most a sign and SDLOOP_DECIMAL_DIGITS_MAX digits: one tag byte, one length byte. */
#define REPORT_DECIMAL_FIELD_MAX (1 + 1 + 1 + SDLOOP_DECIMAL_DIGITS_MAX)
/* Tag plus a varint of 32 bits. */
#define REPORT_U32_FIELD_MAX (1 + 5)
/* Tag plus a varint of 64 bits. */
#define REPORT_LENGTH_PREFIX_MAX (1 + 10)

static void median_report_freep(Sdloop__Ledger__MedianReport **p) {
        if (*p)
                sdloop__ledger__median_report__free_unpacked(*p, NULL);
}

static int compare_by_value(const void *a, const void *b) {
        const SdloopParsedObservation *x = *(const SdloopParsedObservation * const *) a,
                                      *y = *(const SdloopParsedObservation * const *) b;
        int c;

        c = sdloop_decimal_compare(x->value, y->value);
        if (c != 0)
                return c;
        /* Equal values: order by observer, so that one set of observations has one report. */
        return x->observer < y->observer ? -1 : x->observer > y->observer;
}

static int compare_decimal_ptr(const void *a, const void *b) {
        return sdloop_decimal_compare(*(const char * const *) a, *(const char * const *) b);
}

static int compare_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return x < y ? -1 : x > y;
}

int ledger_report_build(const SdloopParsedObservation *obs, size_t n, SdloopBytes *ret, sd_bus_error *error) {
        Sdloop__Ledger__MedianReport report = SDLOOP__LEDGER__MEDIAN_REPORT__INIT;
        _cleanup_free_ const SdloopParsedObservation **sorted = NULL;
        _cleanup_free_ const char **juels = NULL;
        _cleanup_free_ uint32_t *timestamps = NULL;
        _cleanup_free_ uint8_t *observers = NULL;
        _cleanup_free_ char **values = NULL;
        uint8_t *buf;
        size_t size;

        assert(obs || n == 0);
        assert(ret);

        if (n == 0)
                return sdloop_error_invalid(error, "observations", "no observations to build a report from");
        /* One per oracle, as libocr bounds them; checked before anything is allocated for them. */
        if (n > SDLOOP_ORACLES_MAX)
                return sdloop_error_invalid(error, "observations", "expected at most %u, got %zu",
                                            SDLOOP_ORACLES_MAX, n);

        for (size_t i = 0; i < n; i++) {
                if (!sdloop_decimal_is_valid(obs[i].value))
                        return sdloop_error_invalid(error, "observations.value", "observation %zu: not a decimal", i);
                if (!sdloop_decimal_is_valid(obs[i].juels_per_fee_coin))
                        return sdloop_error_invalid(error, "observations.juels_per_fee_coin",
                                                    "observation %zu: not a decimal", i);
        }

        sorted = new0(const SdloopParsedObservation *, n);
        juels = new0(const char *, n);
        timestamps = new0(uint32_t, n);
        observers = new0(uint8_t, n);
        values = new0(char *, n);
        if (!sorted || !juels || !timestamps || !observers || !values)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                sorted[i] = obs + i;
                juels[i] = obs[i].juels_per_fee_coin;
                timestamps[i] = obs[i].timestamp;
        }
        qsort(sorted, n, sizeof(*sorted), compare_by_value);
        qsort(juels, n, sizeof(*juels), compare_decimal_ptr);
        qsort(timestamps, n, sizeof(*timestamps), compare_u32);

        for (size_t i = 0; i < n; i++) {
                observers[i] = sorted[i]->observer;
                values[i] = sorted[i]->value;
        }

        report.observations_timestamp = timestamps[n / 2];
        report.observers = (ProtobufCBinaryData) { .len = n, .data = observers };
        report.n_observations = n;
        report.observations = values;
        report.median = values[n / 2];
        report.juels_per_fee_coin = (char *) juels[n / 2];

        size = sdloop__ledger__median_report__get_packed_size(&report);
        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        (void) sdloop__ledger__median_report__pack(&report, buf);

        *ret = (SdloopBytes) { .data = buf, .size = size };
        return 0;
}

int ledger_report_median(const void *data, size_t size, char **ret_median, sd_bus_error *error) {
        _cleanup_(median_report_freep) Sdloop__Ledger__MedianReport *report = NULL;
        size_t n;
        char *median;

        assert(data || size == 0);
        assert(ret_median);

        report = sdloop__ledger__median_report__unpack(NULL, size, data);
        if (!report)
                return sdloop_error_invalid(error, "report", "not a median report (%zu bytes that do not decode)",
                                            size);

        n = report->n_observations;
        if (n == 0)
                return sdloop_error_invalid(error, "report", "median report without observations");
        if (report->observers.len != n)
                return sdloop_error_invalid(error, "report", "%zu observers for %zu observations",
                                            report->observers.len, n);
        for (size_t i = 0; i < n; i++) {
                if (!sdloop_decimal_is_valid(report->observations[i]))
                        return sdloop_error_invalid(error, "report", "observation %zu is not a decimal", i);
                if (i > 0 && sdloop_decimal_compare(report->observations[i - 1], report->observations[i]) > 0)
                        return sdloop_error_invalid(error, "report", "observations are not sorted");
        }
        if (!sdloop_decimal_is_valid(report->juels_per_fee_coin))
                return sdloop_error_invalid(error, "report", "juels_per_fee_coin is not a decimal");
        if (!streq_ptr(report->median, report->observations[n / 2]))
                return sdloop_error_invalid(error, "report", "median %s is not the middle observation %s",
                                            strempty(report->median), report->observations[n / 2]);

        median = strdup(report->median);
        if (!median)
                return -ENOMEM;
        *ret_median = median;
        return 0;
}

int ledger_report_max_length(int64_t n, int64_t *ret, sd_bus_error *error) {
        const int64_t fixed = REPORT_U32_FIELD_MAX + REPORT_LENGTH_PREFIX_MAX + 2 * REPORT_DECIMAL_FIELD_MAX,
                      per_observation = 1 /* observer id */ + REPORT_DECIMAL_FIELD_MAX;

        assert(ret);

        if (n < 0)
                return sdloop_error_invalid(error, "n", "negative number of observations %" PRIi64, n);
        if (n > (INT64_MAX - fixed) / per_observation)
                return sdloop_error_invalid(error, "n", "%" PRIi64 " observations are too many", n);

        *ret = fixed + n * per_observation;
        return 0;
}
