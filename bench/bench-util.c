/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-bench: the helpers its sections share (see bench.h). */

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "macro.h"

uint64_t now_ns(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

void progress(const char *fmt, ...) {
        va_list ap;

        fputs("  .. ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* ---------- statistics (nearest rank, as the anchor) ---------- */

void samples_add(Samples *s, uint64_t ns) {
        if (s->n == s->allocated) {
                s->allocated = MAX(s->allocated * 2, (size_t) 64);
                s->v = reallocarray(s->v, s->allocated, sizeof(uint64_t));
                if (!s->v)
                        die("out of memory");
        }
        s->v[s->n++] = ns;
}

void samples_done(Samples *s) {
        s->v = mfree(s->v);
        s->n = s->allocated = 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *s, size_t n, double p) {
        long i = (long) ceil(p * (double) n) - 1;

        if (i < 0)
                i = 0;
        if ((size_t) i >= n)
                i = (long) n - 1;
        return (double) s[i] / 1000.0;
}

void json_dist(FILE *f, Samples *s) {
        double sum = 0;

        if (s->n == 0) {
                fputs("{\"n\": 0}", f);
                return;
        }
        qsort(s->v, s->n, sizeof(uint64_t), cmp_u64);
        for (size_t i = 0; i < s->n; i++)
                sum += (double) s->v[i];
        fprintf(f, "{\"n\": %zu, \"min_us\": %.2f, \"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, "
                "\"p999_us\": %.2f, \"max_us\": %.2f, \"mean_us\": %.2f}",
                s->n, (double) s->v[0] / 1000.0, pct_us(s->v, s->n, .50), pct_us(s->v, s->n, .90),
                pct_us(s->v, s->n, .99), pct_us(s->v, s->n, .999), (double) s->v[s->n - 1] / 1000.0,
                sum / (double) s->n / 1000.0);
}

double dist_p50(Samples *s) {
        if (s->n == 0)
                return NAN;
        qsort(s->v, s->n, sizeof(uint64_t), cmp_u64);
        return pct_us(s->v, s->n, .50);
}

FILE *out;
static bool out_first = true;

void json_key(const char *key) {
        fprintf(out, "%s\n  \"%s\": ", out_first ? "" : ",", key);
        out_first = false;
}

/* ---------- /proc ---------- */

long proc_status_kib(pid_t pid, const char *key) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[256];
        size_t l = strlen(key);

        snprintf(path, sizeof(path), "/proc/%i/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, l) == 0 && line[l] == ':')
                        return strtol(line + l + 1, NULL, 10);
        return -1;
}

long proc_pss_kib(pid_t pid) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[256];

        snprintf(path, sizeof(path), "/proc/%i/smaps_rollup", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "Pss:", 4) == 0)
                        return strtol(line + 4, NULL, 10);
        return -1;
}

/* CPU time of a process in ns. The plugin is single-threaded: the run time the scheduler keeps for its
 * main thread (/proc/PID/schedstat, exact); /proc/PID/stat's clock ticks where that is missing. */
uint64_t proc_cpu_ns(pid_t pid) {
        char path[64], line[512];
        uint64_t sum = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%i/schedstat", (int) pid);
        f = fopen(path, "re");
        if (f) {
                unsigned long long ns;
                bool ok = fgets(line, sizeof(line), f) && sscanf(line, "%llu", &ns) == 1;

                fclose(f);
                if (ok)
                        return ns;
        }

        snprintf(path, sizeof(path), "/proc/%i/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (fgets(line, sizeof(line), f)) {
                const char *s = strrchr(line, ')');
                unsigned long long ut = 0, st = 0;

                if (s && sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
                        sum = (ut + st) * (1000000000ULL / (uint64_t) sysconf(_SC_CLK_TCK));
        }
        fclose(f);
        return sum;
}

uint64_t self_cpu_ns(void) {
        struct rusage ru;

        (void) getrusage(RUSAGE_SELF, &ru);
        return ((uint64_t) ru.ru_utime.tv_sec + (uint64_t) ru.ru_stime.tv_sec) * 1000000000ULL +
               ((uint64_t) ru.ru_utime.tv_usec + (uint64_t) ru.ru_stime.tv_usec) * 1000ULL;
}

/* ---------- calls ---------- */

const char *error_text(const sd_bus_error *error, int r) {
        return error && error->message ? error->message : strerror(-r);
}

int echo(SdloopPeer *peer, const void *data, size_t size, bool verify, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const void *d;
        size_t n;
        int r;

        r = sdloop_peer_new_call(peer, SDLOOP_ROOT_PATH, "org.sdloop1.Bench", "Echo", &m);
        if (r < 0)
                return r;
        r = sdloop_append_bytes(m, data, size);
        if (r < 0)
                return r;
        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(reply, 'y', &d, &n);
        if (r < 0)
                return sdloop_error_invalid(error, "Echo reply.echo", "%s", strerror(-r));
        if (n != size || (verify && memcmp(d, data, n) != 0))
                return sdloop_error_invalid(error, "Echo reply.echo", "not the payload sent (%zu bytes, sent %zu)",
                                            n, size);
        return 0;
}

void echo_or_die(SdloopPeer *peer, const void *data, size_t size, bool verify) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = echo(peer, data, size, verify, &error);
        if (r < 0)
                die("Echo: %s", error_text(&error, r));
}

void turn_loop(uint64_t usec) {
        (void) sd_event_run(host->event, usec);
}

void idle(uint64_t usec) {
        uint64_t end = host_now() + usec;

        for (uint64_t n = host_now(); n < end; n = host_now())
                turn_loop(end - n);
}
