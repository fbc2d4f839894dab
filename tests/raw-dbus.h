/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALIGN8(x) (((x) + 7) & ~(size_t) 7)
#define ALIGN4(x) (((x) + 3) & ~(size_t) 3)

/* How long a read may take before the test gives up: a guard against hanging, never a measurement. */
#define READ_GUARD_MSEC (20 * 1000)

/* A plugin's log, read from a pipe as it comes: all of it counted, the first LOG_KEEP bytes kept. */
#define LOG_KEEP (1024U * 1024U)

typedef struct Message {
        uint8_t buf[512];
        size_t size;
} Message;
typedef struct PluginLog {
        int fd;
        char *text;
        size_t size;
        size_t n_lines;
} PluginLog;
typedef struct RawClient {
        int fd;
        uint8_t buf[64 * 1024];
        size_t size;
        bool authenticated;
        PluginLog *log; /* drained while waiting, so that a plugin logging a lot never blocks on it */
} RawClient;

Message raw_method_call(uint32_t serial, const char *path, const char *interface, const char *member);
Message raw_hello(uint32_t serial);
Message raw_ready(uint32_t serial);
void plugin_log_read(PluginLog *l);
void raw_connect(RawClient *c, const char *path);
void raw_close(RawClient *c);
size_t raw_auth_lines(char *buf, size_t size);
void raw_send(RawClient *c, const void *data, size_t n);
void raw_fill(RawClient *c);
void raw_consume(RawClient *c, size_t n);
void raw_wait_auth(RawClient *c);
uint32_t raw_get_u32(const uint8_t *p);
uint8_t raw_read_reply(RawClient *c, uint32_t *ret_reply_serial);
void raw_expect_return(RawClient *c, uint32_t serial);
size_t plugin_log_count(const char *s, const char *needle);
void plugin_log_wait(PluginLog *l, const char *needle);
