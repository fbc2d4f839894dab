/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The metrics endpoint: libmicrohttpd without threads of its own, driven from sdloopd's event loop through
 * its epoll descriptor and its timeout. A request for metrics suspends its connection, starts a scrape
 * (metrics-scrape.c) and resumes the connection with the answer when the scrape is done, at the latest at
 * its deadline: no request waits inside the loop, and a slow plugin delays nothing but its own part.
 *
 *   /metrics                  everything: sdloopd's figures, the feeds', every plugin's (label plugin=)
 *   /plugins/<name>/metrics   one plugin's metrics and accounting, as LOOP's node serves them
 *   /discovery                a Prometheus http_sd document listing the per-plugin paths
 *
 * Only GET and HEAD; the listening socket is bound by sdloopd (IPv4 or IPv6 literal and port, from
 * sdloopd.json "metrics": {"listen": …}), loopback only unless configured otherwise. */

#include <json-c/json.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen-address.h"
#include "macro.h"
#include "metrics.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_CONNECTIONS_MAX 16
#define METRICS_CONNECTION_TIMEOUT_SEC 10

typedef struct HttpRequest HttpRequest;

struct MetricsHttp {
        Daemon *daemon;
        struct MHD_Daemon *mhd;
        sd_event_source *io, *timer, *kick;
        HttpRequest *suspended; /* waiting for their scrape */
};

struct HttpRequest {
        MetricsHttp *http;
        HttpRequest *next, *prev;
        struct MHD_Connection *connection;
        MetricsScrape *scrape;
        bool answered;
        int result;
        char *body;
        size_t size;
        unsigned status;
        const char *content_type;
};

static int on_mhd_kick(sd_event_source *s, void *userdata);
static void http_request_answer(HttpRequest *q, unsigned status, const char *content_type, char *body, size_t size);

static void request_unlink(HttpRequest *q) {
        if (q->prev)
                q->prev->next = q->next;
        else if (q->http->suspended == q)
                q->http->suspended = q->next;
        if (q->next)
                q->next->prev = q->prev;
        q->next = q->prev = NULL;
}

/* Resume @q with what it has (its answer, or 503), for MHD to send when it runs next. */
static void request_resume(HttpRequest *q) {
        MetricsHttp *h = q->http;

        request_unlink(q);
        if (!q->answered) {
                q->body = strdup("Scrape abandoned: sdloopd is stopping the endpoint.\n");
                http_request_answer(q, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", q->body,
                                    q->body ? strlen(q->body) : 0);
        }
        MHD_resume_connection(q->connection);
        if (!h->kick && sd_event_add_defer(h->daemon->event, &h->kick, on_mhd_kick, h) < 0)
                h->kick = NULL;
}

static void http_arm(MetricsHttp *h);

static int on_mhd_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MetricsHttp *h = userdata;

        (void) MHD_run(h->mhd);
        http_arm(h);
        return 0;
}

static int on_mhd_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        return on_mhd_io(NULL, -1, 0, userdata);
}

static int on_mhd_kick(sd_event_source *s, void *userdata) {
        MetricsHttp *h = userdata;

        h->kick = sd_event_source_disable_unref(h->kick);
        return on_mhd_io(NULL, -1, 0, h);
}

/* MHD's own timeouts (idle connections) come from MHD_get_timeout(). */
static void http_arm(MetricsHttp *h) {
        MHD_UNSIGNED_LONG_LONG ms;
        uint64_t when;

        if (MHD_get_timeout(h->mhd, &ms) != MHD_YES) {
                (void) sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
                return;
        }
        when = host_now() + (uint64_t) ms * USEC_PER_MSEC;
        (void) sd_event_source_set_time(h->timer, when);
        (void) sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
}

static void http_request_answer(HttpRequest *q, unsigned status, const char *content_type, char *body, size_t size) {
        q->status = status;
        q->content_type = content_type;
        q->body = body;
        q->size = size;
        q->answered = true;
}

static void on_scraped(int r, char *text, size_t size, void *userdata) {
        HttpRequest *q = userdata;
        q->scrape = metrics_scrape_cancel(q->scrape);
        if (r < 0) {
                char *msg = NULL;

                if (asprintf(&msg, "Scrape failed: %s\n", strerror(-r)) < 0)
                        msg = NULL;
                http_request_answer(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", msg,
                                    msg ? strlen(msg) : 0);
        } else
                http_request_answer(q, MHD_HTTP_OK, METRICS_CONTENT_TYPE, text, size);

        /* MHD learns of the resumption when it runs next: that is made now, from the loop. */
        request_resume(q);
}

static void json_putp(json_object **j) {
        json_object_put(*j);
}

static char *discovery_document(MetricsHttp *h, struct MHD_Connection *c) {
        _cleanup_(json_putp) json_object *list = json_object_new_array();
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        char *s;

        if (!list)
                return NULL;
        /* The target is where the client reached us: the Host header (what Prometheus was told to use). */
        if (isempty(host))
                host = h->daemon->config->metrics_listen;
        for (Instance *i = h->daemon->instances; i; i = i->next) {
                json_object *g = json_object_new_object(), *targets = json_object_new_array(),
                        *labels = json_object_new_object();
                _cleanup_free_ char *path = NULL;

                if (!g || !targets || !labels || asprintf(&path, "/plugins/%s/metrics", instance_name(i)) < 0) {
                        json_object_put(g);
                        json_object_put(targets);
                        json_object_put(labels);
                        return NULL;
                }
                json_object_array_add(targets, json_object_new_string(host));
                json_object_object_add(labels, "__metrics_path__", json_object_new_string(path));
                json_object_object_add(labels, "plugin", json_object_new_string(instance_name(i)));
                json_object_object_add(g, "targets", targets);
                json_object_object_add(g, "labels", labels);
                json_object_array_add(list, g);
        }
        s = strdup(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN));
        return s;
}

static enum MHD_Result queue_text(struct MHD_Connection *c, unsigned status, const char *content_type, char *body,
                                  size_t size) {
        struct MHD_Response *resp;
        enum MHD_Result ret;

        resp = MHD_create_response_from_buffer(size, body ?: (char *) "", body ? MHD_RESPMEM_MUST_FREE :
                                               MHD_RESPMEM_PERSISTENT);
        if (!resp) {
                free(body);
                return MHD_NO;
        }
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result queue_static(struct MHD_Connection *c, unsigned status, const char *text) {
        return queue_text(c, status, "text/plain; charset=utf-8", strdup(text), strlen(text));
}

/* "/plugins/<name>/metrics" → name, else NULL. */
static char *plugin_of_url(const char *url) {
        const char *s, *e;

        s = strncmp(url, "/plugins/", 9) == 0 ? url + 9 : NULL;
        if (!s)
                return NULL;
        e = strchr(s, '/');
        if (!e || e == s || !streq(e, "/metrics"))
                return NULL;
        return strndup(s, (size_t) (e - s));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        MetricsHttp *h = cls;
        HttpRequest *q = *con_cls;
        _cleanup_free_ char *plugin = NULL;
        int r;

        if (q) {
                /* Resumed: the scrape is done. */
                if (!q->answered)
                        return MHD_YES;
                r = queue_text(c, q->status, q->content_type, TAKE_PTR(q->body), q->size);
                return (enum MHD_Result) r;
        }

        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return queue_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Only GET and HEAD.\n");
        if (*upload_data_size > 0)
                return queue_static(c, MHD_HTTP_BAD_REQUEST, "No request body expected.\n");

        if (streq(url, "/discovery")) {
                char *doc = discovery_document(h, c);

                if (!doc)
                        return queue_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Out of memory.\n");
                return queue_text(c, MHD_HTTP_OK, "application/json", doc, strlen(doc));
        }
        if (streq(url, "/"))
                return queue_static(c, MHD_HTTP_OK,
                                    "sdloopd metrics: /metrics, /plugins/<name>/metrics, /discovery\n");
        if (!streq(url, "/metrics")) {
                plugin = plugin_of_url(url);
                if (!plugin)
                        return queue_static(c, MHD_HTTP_NOT_FOUND, "Not found: try /metrics or /discovery.\n");
        }

        q = new0(HttpRequest, 1);
        if (!q)
                return queue_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Out of memory.\n");
        q->http = h;
        q->connection = c;
        r = metrics_scrape_start(h->daemon, plugin,
                                 h->daemon->config->metrics_timeout_usec ?: METRICS_SCRAPE_TIMEOUT_USEC_DEFAULT, on_scraped, q,
                                 &q->scrape);
        if (r < 0) {
                free(q);
                if (r == -ENOENT)
                        return queue_static(c, MHD_HTTP_NOT_FOUND, "No such plugin.\n");
                return queue_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Cannot scrape.\n");
        }
        *con_cls = q;
        q->next = h->suspended;
        if (q->next)
                q->next->prev = q;
        h->suspended = q;
        MHD_suspend_connection(c);
        return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
        HttpRequest *q = *con_cls;

        if (!q)
                return;
        request_unlink(q);
        metrics_scrape_cancel(q->scrape);
        free(q->body);
        free(q);
        *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        _cleanup_free_ char *s = NULL;

        if (vasprintf(&s, fmt, ap) < 0)
                return;
        s[strcspn(s, "\n")] = 0;
        log_debug("Metrics endpoint: %s", s);
}

/* The configured address (checked when the configuration was read) → a bound, listening socket. */
static int metrics_listen(const char *address) {
        _cleanup_close_ int fd = -EBADF;
        ListenAddress a;
        int r;

        r = listen_address_parse(address, &a);
        if (r < 0)
                return r;
        fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int) { 1 }, sizeof(int));
        if (bind(fd, &a.sa, a.size) < 0 || listen(fd, 16) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int metrics_http_start(Daemon *d) {
        _cleanup_free_ MetricsHttp *h = NULL;
        _cleanup_close_ int fd = -EBADF;
        const union MHD_DaemonInfo *info;
        int r;

        if (!d->config->metrics_listen || d->metrics)
                return 0;

        fd = metrics_listen(d->config->metrics_listen);
        if (fd < 0)
                return log_error_errno(fd, "Metrics endpoint: cannot listen on %s: %m", d->config->metrics_listen);

        h = new0(MetricsHttp, 1);
        if (!h)
                return log_oom();
        h->daemon = d;
        h->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                  on_request, h,
                                  MHD_OPTION_LISTEN_SOCKET, fd,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned) METRICS_CONNECTIONS_MAX,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) METRICS_CONNECTION_TIMEOUT_SEC,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                                  MHD_OPTION_END);
        if (!h->mhd)
                return log_error_errno(-EIO, "Metrics endpoint: cannot start the HTTP server on %s.",
                                       d->config->metrics_listen);
        TAKE_FD(fd); /* MHD owns it now */

        info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        r = info ? sd_event_add_io(d->event, &h->io, info->epoll_fd, EPOLLIN, on_mhd_io, h) : -EIO;
        if (r >= 0)
                r = sd_event_add_time(d->event, &h->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_mhd_timer, h);
        if (r < 0) {
                sd_event_source_disable_unref(h->io);
                MHD_stop_daemon(h->mhd);
                return log_error_errno(r, "Metrics endpoint: cannot watch the HTTP server: %m");
        }
        (void) sd_event_source_set_description(h->io, "metrics-http");
        http_arm(h);
        log_info("Metrics endpoint on http://%s/metrics.", d->config->metrics_listen);
        d->metrics = TAKE_PTR(h);
        return 0;
}

void metrics_http_stop(Daemon *d) {
        MetricsHttp *h = d->metrics;

        if (!h)
                return;
        /* MHD must not be stopped with connections suspended: each is resumed with a 503 and its scrape
         * cancelled, and MHD runs once more to take them back before it closes them all. */
        while (h->suspended) {
                HttpRequest *q = h->suspended;

                q->scrape = metrics_scrape_cancel(q->scrape);
                request_resume(q);
        }
        (void) MHD_run(h->mhd);
        h->io = sd_event_source_disable_unref(h->io);
        h->timer = sd_event_source_disable_unref(h->timer);
        h->kick = sd_event_source_disable_unref(h->kick);
        MHD_stop_daemon(h->mhd);
        d->metrics = mfree(h);
}
