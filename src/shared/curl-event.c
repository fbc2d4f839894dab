/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "curl-event.h"
#include "macro.h"
#include "util.h"

typedef struct CurlSocket {
        curl_socket_t fd;
        sd_event_source *io;
        struct CurlSocket *next;
} CurlSocket;

struct CurlEvent {
        sd_event *event;
        char *description;
        CURLM *multi;
        CurlSocket *sockets;
        sd_event_source *timer;
        curl_event_done_fn done;
        void *userdata;
        unsigned dispatching; /* done() is being called: freeing waits until it returns */
        bool freed;
};

void curl_event_global_init(void) {
        static bool initialized = false;

        if (!initialized && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
                initialized = true;
}

static CurlSocket *socket_find(CurlEvent *ce, curl_socket_t fd) {
        for (CurlSocket *c = ce->sockets; c; c = c->next)
                if (c->fd == fd)
                        return c;
        return NULL;
}

static void socket_remove(CurlEvent *ce, curl_socket_t fd) {
        for (CurlSocket **c = &ce->sockets; *c; c = &(*c)->next)
                if ((*c)->fd == fd) {
                        CurlSocket *dead = *c;

                        *c = dead->next;
                        sd_event_source_disable_unref(dead->io);
                        free(dead);
                        return;
                }
}

static void really_free(CurlEvent *ce) {
        if (ce->multi)
                curl_multi_cleanup(ce->multi);
        /* Sockets libcurl did not say goodbye to (a cached connection). */
        while (ce->sockets)
                socket_remove(ce, ce->sockets->fd);
        sd_event_source_disable_unref(ce->timer);
        sd_event_unref(ce->event);
        free(ce->description);
        free(ce);
}

CurlEvent *curl_event_free(CurlEvent *ce) {
        if (!ce)
                return NULL;
        if (ce->dispatching > 0)
                ce->freed = true;
        else
                really_free(ce);
        return NULL;
}

/* Tell whoever waits for each finished transfer; stop if one of them freed @ce. */
static void check_done(CurlEvent *ce) {
        CURLMsg *msg;
        int left;

        ce->dispatching++;
        while (!ce->freed && (msg = curl_multi_info_read(ce->multi, &left))) {
                CURL *easy = msg->easy_handle;
                CURLcode result = msg->data.result;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                (void) curl_multi_remove_handle(ce->multi, easy);
                ce->done(ce, easy, result, ce->userdata);
        }
        if (--ce->dispatching == 0 && ce->freed)
                really_free(ce);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        CurlEvent *ce = userdata;
        int action = 0, running;

        if (revents & EPOLLIN)
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;

        (void) curl_multi_socket_action(ce->multi, fd, action, &running);
        check_done(ce);
        return 0;
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        CurlEvent *ce = userp;
        CurlSocket *c;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                socket_remove(ce, fd);
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;

        c = socket_find(ce, fd);
        if (c)
                return sd_event_source_set_io_events(c->io, events) < 0 ? -1 : 0;

        c = new0(CurlSocket, 1);
        if (!c)
                return -1;
        c->fd = fd;
        r = sd_event_add_io(ce->event, &c->io, fd, events, on_io, ce);
        if (r < 0) {
                free(c);
                return -1;
        }
        (void) sd_event_source_set_description(c->io, ce->description);
        c->next = ce->sockets;
        ce->sockets = c;
        return 0;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        CurlEvent *ce = userdata;
        int running;

        (void) curl_multi_socket_action(ce->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_done(ce);
        return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        CurlEvent *ce = userp;
        uint64_t when;
        int r;

        if (timeout_ms < 0) {
                if (ce->timer)
                        (void) sd_event_source_set_enabled(ce->timer, SD_EVENT_OFF);
                return 0;
        }

        when = now_monotonic_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC;
        if (ce->timer) {
                r = sd_event_source_set_time(ce->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(ce->timer, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time(ce->event, &ce->timer, CLOCK_MONOTONIC, when, 0, on_timer, ce);
                if (r >= 0)
                        (void) sd_event_source_set_description(ce->timer, ce->description);
        }
        return r < 0 ? -1 : 0;
}

int curl_event_new(sd_event *event, const char *description, curl_event_done_fn done, void *userdata,
                   CurlEvent **ret) {
        CurlEvent *ce;

        curl_event_global_init();
        ce = new0(CurlEvent, 1);
        if (!ce)
                return -ENOMEM;
        ce->event = sd_event_ref(event);
        ce->done = done;
        ce->userdata = userdata;
        ce->description = strdup(description);
        ce->multi = curl_multi_init();
        if (!ce->description || !ce->multi) {
                really_free(ce);
                return -ENOMEM;
        }
        if (curl_multi_setopt(ce->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
            curl_multi_setopt(ce->multi, CURLMOPT_SOCKETDATA, ce) != CURLM_OK ||
            curl_multi_setopt(ce->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
            curl_multi_setopt(ce->multi, CURLMOPT_TIMERDATA, ce) != CURLM_OK) {
                really_free(ce);
                return -EIO;
        }
        *ret = ce;
        return 0;
}

int curl_event_add(CurlEvent *ce, CURL *easy) {
        return curl_multi_add_handle(ce->multi, easy) == CURLM_OK ? 0 : -EIO;
}

void curl_event_remove(CurlEvent *ce, CURL *easy) {
        (void) curl_multi_remove_handle(ce->multi, easy);
}
