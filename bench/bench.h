/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the sections of sdloop-bench share: the host and its plugin, the calls, the statistics (nearest-rank
 * percentiles, as the anchor computes them) and the JSON document being assembled. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "host-handle.h"
#include "host-plugin.h"
#include "sdloop.h"

#define die(...)                                                                \
        do {                                                                    \
                fprintf(stderr, "sdloop-bench: FATAL: " __VA_ARGS__);           \
                fputc('\n', stderr);                                            \
                exit(EXIT_FAILURE);                                             \
        } while (0)

/* --- the host and the calls (sdloop-bench.c, bench-util.c) --- */

extern Host *host;
extern uint8_t payload16[16];
extern uint8_t payload64k[64 * 1024];

const char *error_text(const sd_bus_error *error, int r);
/* A synchronous Bench.Echo from top level; @verify compares the echo with the payload. */
int echo(SdloopPeer *peer, const void *data, size_t size, bool verify, sd_bus_error *error);
void echo_or_die(SdloopPeer *peer, const void *data, size_t size, bool verify);
/* Serve the host's loop for @usec (top level), as a host waiting for work does. */
void idle(uint64_t usec);
/* Turn the host's loop once (at most @usec), then the host's top-level work. */
void turn_loop(uint64_t usec);

/* --- time, progress, statistics (bench-util.c) --- */

uint64_t now_ns(void);
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef struct Samples {
        uint64_t *v; /* ns */
        size_t n, allocated;
} Samples;

void samples_add(Samples *s, uint64_t ns);
void samples_done(Samples *s);
/* Appends the distribution as a JSON object to @f (sorts the samples). */
void json_dist(FILE *f, Samples *s);
/* In µs; NAN without samples. */
double dist_p50(Samples *s);

/* The JSON document, assembled in memory and printed at the end. */
extern FILE *out;
void json_key(const char *key);

/* --- /proc --- */

long proc_status_kib(pid_t pid, const char *key);
long proc_pss_kib(pid_t pid);
uint64_t proc_cpu_ns(pid_t pid);
uint64_t self_cpu_ns(void);

/* --- sections in files of their own --- */

/* 16-byte Echo calls/s with 1 caller, 8 in flight on 1 connection, 8 connections, 8 threads, @seconds each:
 * "throughput_echo16". */
void bench_throughput(HostPlugin *p, double seconds);
/* 1, 8 and 64 Bench.Wait(@wait_usec) issued at once, @reps times each: "concurrency_wait"; then 16-byte
 * Echo latency idle and while 8 Waits are kept in flight, at least @n_pings each: "ping_16B_idle",
 * "ping_16B_while_8_waits_in_flight". */
void bench_concurrency(HostPlugin *p, uint64_t wait_usec, unsigned reps, unsigned n_pings);
/* SIGSTOP of @p (probes on) → unresponsive → treated as crashed → running → the call through @h answered,
 * @trials times: "hung_sigstop", with @recovery_p50_us (kill -9 → call answered; NAN: not measured) for the
 * figure to compare with. */
void bench_hung(HostPlugin *p, HostHandle *h, host_call_fn call, unsigned trials, double recovery_p50_us);
