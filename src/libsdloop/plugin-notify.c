/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Notifications to the service manager from inside the event loop, without waiting.
 *
 * sd_notify() sends with a blocking sendmsg(): when the receiver does not read for a while (the exec
 * backend's host busy, or stopped), its queue of datagrams fills (net.unix.max_dgram_qlen, 10 by default)
 * and the plugin's loop would stop inside a callback until it reads. Here a notification that does not fit
 * now is not waited for: a STATUS= is sent again later, only the latest one; a WATCHDOG=1 is dropped, the
 * ones already queued say the same. READY=1 and STOPPING=1, from top level, wait for room a while, then give
 * up rather than keep a plugin from starting or ending. */

#include <stdarg.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "macro.h"
#include "util.h"
#include "plugin-notify.h"
#include "sdloop-log.h"

#define STATUS_RETRY_USEC (50 * USEC_PER_MSEC)

static struct {
        bool initialized;
        int fd;
        struct sockaddr_un sa;
        socklen_t sa_len;
        char *pending_status;     /* the latest STATUS= that did not fit */
        sd_event_source *retry;
} notifier = { .fd = -EBADF };

static int notifier_init(void) {
        const char *e;
        size_t l;

        if (notifier.initialized)
                return notifier.fd >= 0;
        notifier.initialized = true;

        e = getenv("NOTIFY_SOCKET");
        if (!e || (e[0] != '/' && e[0] != '@'))
                return 0; /* none, or a kind (vsock) that sd_notify() alone speaks: see plugin_notify() */
        l = strlen(e);
        if (l >= sizeof(notifier.sa.sun_path))
                return 0;
        notifier.sa.sun_family = AF_UNIX;
        memcpy(notifier.sa.sun_path, e, l);
        if (e[0] == '@')
                notifier.sa.sun_path[0] = 0;
        notifier.sa_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + (e[0] == '/'));

        notifier.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (notifier.fd < 0) {
                log_debug_errno(errno, "Cannot make a socket for notifications, using sd_notify(): %m");
                return 0;
        }
        /* Connected, so that poll() says when the receiver's queue has room (plugin_notify_wait()). Not an
         * error yet when nobody listens: the next send says so. */
        (void) connect(notifier.fd, (struct sockaddr *) &notifier.sa, notifier.sa_len);
        return 1;
}

static int notifier_send(const char *text) {
        for (unsigned attempt = 0;; attempt++) {
                if (send(notifier.fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
                        return 0;
                /* The receiver went and came back (a new socket at the same path): connect to the new one. */
                if (attempt > 0 || (errno != ECONNREFUSED && errno != ENOTCONN))
                        return -errno;
                if (connect(notifier.fd, (struct sockaddr *) &notifier.sa, notifier.sa_len) < 0)
                        return -errno;
        }
}

static int on_status_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        int r;

        if (!notifier.pending_status)
                return 0;
        r = notifier_send(notifier.pending_status);
        if (r == -EAGAIN) {
                /* Still full: later again. */
                r = sd_event_source_set_time_relative(s, STATUS_RETRY_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                if (r < 0)
                        log_debug_errno(r, "Cannot retry a status notification: %m");
                return 0;
        }
        notifier.pending_status = mfree(notifier.pending_status);
        return 0;
}

static void status_keep(sd_event *event, const char *text) {
        int r;

        if (free_and_strdup(&notifier.pending_status, text) < 0)
                return; /* only a status line lost */
        if (notifier.retry) {
                int enabled = SD_EVENT_OFF;

                (void) sd_event_source_get_enabled(notifier.retry, &enabled);
                if (enabled != SD_EVENT_OFF)
                        return;
                r = sd_event_source_set_time_relative(notifier.retry, STATUS_RETRY_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(notifier.retry, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time_relative(event, &notifier.retry, CLOCK_MONOTONIC, STATUS_RETRY_USEC, 0,
                                               on_status_retry, NULL);
                if (r >= 0)
                        (void) sd_event_source_set_description(notifier.retry, "notify-retry");
        }
        if (r < 0)
                log_debug_errno(r, "Cannot retry a status notification: %m");
}

int plugin_notify(sd_event *event, const char *text) {
        bool status = strncmp(text, "STATUS=", 7) == 0;
        int r;

        if (notifier_init() <= 0)
                /* No socket of ours (no $NOTIFY_SOCKET, or one only libsystemd speaks). */
                return sd_notify(false, text);

        if (status && notifier.pending_status) {
                /* One is waiting already: this one replaces it and goes when it would have. */
                r = free_and_strdup(&notifier.pending_status, text);
                return r < 0 ? r : 0;
        }
        r = notifier_send(text);
        if (r == -EAGAIN) {
                if (status && event)
                        status_keep(event, text);
                return 0;
        }
        if (r < 0)
                return r;
        if (status)
                notifier.pending_status = mfree(notifier.pending_status);
        return 1;
}

int plugin_notifyf(sd_event *event, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return plugin_notify(event, s);
}

int plugin_notify_wait(const char *text, uint64_t timeout_usec) {
        struct pollfd pfd;
        int r;

        if (notifier_init() <= 0)
                return sd_notify(false, text);
        r = notifier_send(text);
        if (r != -EAGAIN)
                return r < 0 ? r : 1;

        pfd = (struct pollfd) { .fd = notifier.fd, .events = POLLOUT };
        r = poll(&pfd, 1, (int) (timeout_usec / USEC_PER_MSEC));
        if (r > 0)
                r = notifier_send(text);
        else if (r == 0)
                r = -ETIMEDOUT;
        else
                r = -errno;
        if (r < 0)
                return log_debug_errno(r, "Notification \"%s\" not sent, nobody reads them: %m", text);
        return 1;
}

void plugin_notify_detach(void) {
        notifier.retry = sd_event_source_disable_unref(notifier.retry);
        notifier.pending_status = mfree(notifier.pending_status);
}
