/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Trace context (W3C traceparent) and spans. A trace is begun at a root (the feed's round) with the
 * sampling decision in its flags; every call made in it is a client span, every call served a server
 * span, each under the span of the context it was made in. A sampled span, when tracing is on in this
 * process (sdloop_tracing_set_enabled(), CL_TRACING_ENABLED), is written to the journal as one structured
 * entry, so that `journalctl TRACE_ID=…` shows a round across processes. Ids come from a per-thread
 * generator seeded from getrandom(): they need to be unique, not secret. */

#include <sys/random.h>

#include "macro.h"
#include "util.h"
#include "sdloop-internal.h"
#include "sdloop-log.h"
#include "sdloop-trace.h"

static __thread uint64_t rng_state;
static int tracing = -1; /* unset: CL_TRACING_ENABLED decides */
static double sampling_ratio = -1; /* unset: CL_TRACING_SAMPLING_RATIO decides */

static uint64_t rng_next(void) {
        uint64_t x = rng_state;

        if (x == 0) {
                if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
                        x = now_monotonic_usec() ^ ((uint64_t) getpid() << 32) ^ (uint64_t) (uintptr_t) &x;
                x |= 1;
        }
        /* xorshift64* */
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng_state = x;
        return x * 2685821657736338717ULL;
}

static void random_id(uint8_t *b, size_t n) {
        for (size_t i = 0; i < n; i += 8) {
                uint64_t v = rng_next();

                memcpy(b + i, &v, MIN(n - i, sizeof(v)));
        }
}

void trace_new_span_id(uint8_t ret[static 8]) {
        random_id(ret, 8);
}

void trace_new_root(Trace *t, bool sampled) {
        *t = (Trace) {
                .set = true,
                .flags = sampled ? TRACE_FLAG_SAMPLED : 0,
        };
        random_id(t->trace_id, sizeof(t->trace_id));
        trace_new_span_id(t->span);
}

bool trace_sample(double ratio) {
        if (ratio >= 1)
                return true;
        if (!(ratio > 0))
                return false;
        return (double) (rng_next() >> 11) / (double) (1ULL << 53) < ratio;
}

void trace_hex(const uint8_t *b, size_t n, char *ret) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                ret[2 * i] = digits[b[i] >> 4];
                ret[2 * i + 1] = digits[b[i] & 15];
        }
        ret[2 * n] = 0;
}

static int unhex(const char *s, uint8_t *b, size_t n) {
        bool zero = true;

        for (size_t i = 0; i < 2 * n; i++) {
                int d;

                /* W3C: lowercase only. */
                if (s[i] >= '0' && s[i] <= '9')
                        d = s[i] - '0';
                else if (s[i] >= 'a' && s[i] <= 'f')
                        d = s[i] - 'a' + 10;
                else
                        return -EINVAL;
                if (i % 2 == 0)
                        b[i / 2] = (uint8_t) (d << 4);
                else
                        b[i / 2] |= (uint8_t) d;
                if (d != 0)
                        zero = false;
        }
        return zero ? -EINVAL : 0;
}

int trace_parse_traceparent(const char *s, Trace *t) {
        Trace n = { .set = true };
        uint8_t flags;

        /* 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>; all-zero ids are invalid. */
        if (!s || strlen(s) != SDLOOP_TRACEPARENT_SIZE - 1 || strncmp(s, "00-", 3) != 0 || s[35] != '-' ||
            s[52] != '-')
                return -EINVAL;
        if (unhex(s + 3, n.trace_id, sizeof(n.trace_id)) < 0 || unhex(s + 36, n.span, sizeof(n.span)) < 0)
                return -EINVAL;
        if (unhex(s + 53, &flags, 1) < 0 && !streq(s + 53, "00"))
                return -EINVAL;
        n.flags = streq(s + 53, "00") ? 0 : flags;
        *t = n;
        return 0;
}

void trace_format_traceparent(const Trace *t, const uint8_t span[static 8], char ret[static 56]) {
        memcpy(ret, "00-", 3);
        trace_hex(t->trace_id, sizeof(t->trace_id), ret + 3);
        ret[35] = '-';
        trace_hex(span, 8, ret + 36);
        ret[52] = '-';
        trace_hex(&t->flags, 1, ret + 53);
}

int sdloop_tracing_set_sampling_ratio(double ratio) {
        if (!(ratio >= 0 && ratio <= 1))
                return -EINVAL;
        sampling_ratio = ratio;
        return 0;
}

double sdloop_tracing_get_sampling_ratio(void) {
        if (sampling_ratio < 0) {
                const char *e = getenv("CL_TRACING_SAMPLING_RATIO");
                char *end = NULL;
                double d;

                /* The strict reading, with its error, is sdloop_env_parse()'s; here a bad value samples none. */
                errno = 0;
                d = e ? strtod(e, &end) : 0;
                sampling_ratio = e && errno == 0 && end != e && *end == 0 && d >= 0 && d <= 1 ? d : 0;
        }
        return trace_enabled() ? sampling_ratio : 0;
}

void sdloop_tracing_set_enabled(bool b) {
        __atomic_store_n(&tracing, b ? 1 : 0, __ATOMIC_RELAXED);
}

bool trace_enabled(void) {
        int t = __atomic_load_n(&tracing, __ATOMIC_RELAXED);

        if (t < 0) {
                const char *e = getenv("CL_TRACING_ENABLED");

                t = e && (streq(e, "true") || streq(e, "1"));
                __atomic_store_n(&tracing, t, __ATOMIC_RELAXED);
        }
        return t > 0;
}

void trace_write_span(const Trace *t, const char *kind, const char *interface, const char *member,
                      uint64_t start, const char *outcome) {
        char trace_id[33], span[17], parent[17];
        uint64_t now;

        if (!t || !t->set || !(t->flags & TRACE_FLAG_SAMPLED) || !trace_enabled())
                return;

        now = now_monotonic_usec();
        trace_hex(t->trace_id, sizeof(t->trace_id), trace_id);
        trace_hex(t->span, sizeof(t->span), span);
        trace_hex(t->parent, sizeof(t->parent), parent);
        log_span(trace_id, span, streq(parent, "0000000000000000") ? NULL : parent, kind, interface, member,
                 now > start ? now - start : 0, outcome);
}

int sdloop_context_end_span(const SdloopContext *c, const char *name, uint64_t start_usec, const char *outcome) {
        const Trace *t = context_get_trace(c);

        if (!t || !name)
                return -EINVAL;
        trace_write_span(t, "internal", NULL, name, start_usec, outcome ?: "ok");
        return 0;
}
