/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libcurl's multi interface on an sd-event loop: the sockets libcurl asks to watch become I/O sources, its
 * timeout a timer source, so that transfers run without a thread and without ever blocking the loop. Who
 * adds an easy handle is told once when its transfer ends, from the loop. Used by the feed's HTTP source
 * and by sdloopd's span exporter. */

#include <curl/curl.h>
#include <systemd/sd-event.h>

typedef struct CurlEvent CurlEvent;

/* A transfer of @easy ended with @result; @easy is no longer part of the multi handle. @ce may be freed from
 * here. */
typedef void (*curl_event_done_fn)(CurlEvent *ce, CURL *easy, CURLcode result, void *userdata);

/* @description names the event sources (sd_event_source_set_description()). */
int curl_event_new(sd_event *event, const char *description, curl_event_done_fn done, void *userdata,
                   CurlEvent **ret);
/* Transfers still under way are dropped, their done not called. */
CurlEvent *curl_event_free(CurlEvent *ce);
static inline void curl_event_freep(CurlEvent **ce) {
        if (*ce)
                curl_event_free(*ce);
}

/* Start @easy (from the loop: libcurl asks for a timer first). -EIO if libcurl refuses. */
int curl_event_add(CurlEvent *ce, CURL *easy);
/* Abandon @easy's transfer; its done is not called. */
void curl_event_remove(CurlEvent *ce, CURL *easy);

/* curl_global_init() once per process. */
void curl_event_global_init(void);
