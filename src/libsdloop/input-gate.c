/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What the other side sends passes through here before sd-bus reads it.
 *
 * sd-bus reads a message's fixed header, allocates the size it announces (up to its own limit of 128 MiB)
 * and then fills it as bytes arrive; it offers no hook to refuse a size, nor a cap on what one connection
 * makes it buffer. So sd-bus does not read the socket: it reads a pipe, and the gate feeds that pipe with
 * what it read from the socket itself, having seen every message header first. A message announced over
 * the limit ($SDLOOP_MESSAGE_SIZE_MAX) closes the connection before a byte of it reaches sd-bus. What one
 * connection holds is then at most: one message (under the limit), the pipe (256 KiB), our buffer (4 KiB).
 *
 * sd-bus writes its replies to the socket directly. The authentication goes through as well: the gate
 * follows the SASL lines (bounded) to find where the messages begin. Since sd-bus's input is not a socket it
 * offers no descriptor passing, which the contract has no use for (no 'h' in dbus/); the peer's credentials
 * were checked on the socket before the connection was made (plugin.c). Bodies of large messages go by
 * splice(), without a copy through our buffer.
 *
 * While the other side leaves our replies unread (sd-bus's write queue grows), the gate stops reading its
 * calls: the backlog stays in the kernel's socket buffer, bounded, instead of in our memory. */

#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "sdloop-internal.h"
#include "sdloop-limits.h"
#include "sdloop-log.h"

#define GATE_BUFFER_SIZE (4U * 1024U)     /* one read: small messages, several at a time */
#define GATE_PIPE_SIZE (256U * 1024U)
#define GATE_SPLICE_MIN GATE_BUFFER_SIZE  /* body bytes left from which they go by splice() */
#define GATE_SPLICE_MAX (1024U * 1024U)
#define GATE_SASL_MAX (16U * 1024U)        /* the whole authentication, one side */
#define GATE_SASL_LINE_MAX 1024U
#define GATE_WQUEUE_PAUSE 64U              /* our messages the other side has not read, before we stop reading */
#define DBUS_HEADER_SIZE 16U

typedef enum GatePhase {
        GATE_NUL,      /* the client's first byte */
        GATE_SASL,
        GATE_MESSAGES,
        GATE_CLOSED,
} GatePhase;

struct InputGate {
        SdloopPeer *peer; /* not a reference: the peer owns the gate */
        int fd;           /* our duplicate of the connection's socket: we read it, sd-bus writes to it */
        int pipe_fd;      /* the write end of sd-bus's input */
        int bus_in_fd, bus_out_fd; /* sd-bus's: the pipe's read end, the socket (for input_gate_call()) */
        sd_event_source *in_source, *out_source, *resume_source;
        bool server;
        bool eof;
        GatePhase phase;
        uint64_t message_max;

        size_t sasl_bytes;
        size_t line_len;  /* bytes of the SASL line being read */
        char line[8];     /* its start: enough to tell "BEGIN\r\n" and "OK " */
        bool after_cr;    /* its last byte was '\r' */

        uint8_t header[DBUS_HEADER_SIZE];
        size_t header_len;
        uint64_t body_left; /* bytes of the current message after its fixed header */

        uint8_t *buf;     /* read and checked, not yet in the pipe */
        size_t buf_start, buf_end;
};

static void gate_fail(InputGate *g, const char *format, ...) _printf_(2, 3);

static void gate_shut(InputGate *g) {
        g->phase = GATE_CLOSED;
        g->in_source = sd_event_source_disable_unref(g->in_source);
        g->out_source = sd_event_source_disable_unref(g->out_source);
        g->resume_source = sd_event_source_disable_unref(g->resume_source);
        /* sd-bus reads the end of its input and closes the connection its usual way. */
        g->pipe_fd = safe_close(g->pipe_fd);
        g->buf = mfree(g->buf);
        g->buf_start = g->buf_end = 0;
}

static void gate_fail(InputGate *g, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        log_warning("Connection %s: %s; disconnecting.", strempty(sdloop_peer_get_description(g->peer)),
                    r >= 0 ? s : "refused input");
        if (r >= 0 && !g->peer->close_reason)
                g->peer->close_reason = TAKE_PTR(s);
        /* The other side sees the end at once, not only once sd-bus has closed its end. */
        (void) shutdown(g->fd, SHUT_RDWR);
        gate_shut(g);
}

static uint32_t header_u32(const InputGate *g, size_t offset) {
        uint32_t v;

        memcpy(&v, g->header + offset, sizeof(v));
        return g->header[0] == 'B' ? be32toh(v) : le32toh(v);
}

/* The fixed header: endianness, type, flags, version, body length, serial, length of the header fields.
 * sd-bus's own reckoning of the size: 16 + the fields padded to 8 + the body. */
static int gate_check_header(InputGate *g) {
        uint64_t fields, body, total;

        if (g->header[0] != 'l' && g->header[0] != 'B') {
                gate_fail(g, "malformed message: endianness byte 0x%02x", g->header[0]);
                return -EBADMSG;
        }
        body = header_u32(g, 4);
        fields = header_u32(g, 12);
        total = DBUS_HEADER_SIZE + ((fields + 7) & ~UINT64_C(7)) + body;
        if (total > g->message_max) {
                gate_fail(g, "message of %" PRIu64 " bytes announced, over the limit of %" PRIu64
                          " ($SDLOOP_MESSAGE_SIZE_MAX)", total, g->message_max);
                return -EMSGSIZE;
        }
        g->body_left = total - DBUS_HEADER_SIZE;
        return 0;
}

/* One SASL byte. Returns 1 when it ends the authentication on this side. */
static int gate_sasl_byte(InputGate *g, char c) {
        if (++g->sasl_bytes > GATE_SASL_MAX) {
                gate_fail(g, "authentication over %u bytes", GATE_SASL_MAX);
                return -EMSGSIZE;
        }
        if (g->line_len < sizeof(g->line))
                g->line[g->line_len] = c;
        if (++g->line_len > GATE_SASL_LINE_MAX) {
                gate_fail(g, "authentication line over %u bytes", GATE_SASL_LINE_MAX);
                return -EMSGSIZE;
        }
        bool line_end = c == '\n' && g->after_cr;
        g->after_cr = c == '\r';
        if (!line_end)
                return 0;

        /* A whole line. The client's BEGIN ends its side; the server's OK ends its own (our sd-bus client
         * sends BEGIN together with AUTH, offering no descriptor passing, so nothing follows OK). */
        bool end = g->server ? g->line_len == 7 && memcmp(g->line, "BEGIN\r\n", 7) == 0
                             : g->line_len >= 3 && memcmp(g->line, "OK ", 3) == 0;
        g->line_len = 0;
        return end;
}

/* Follows @n bytes read from the other side. Returns how many of them may go on to sd-bus (all of them,
 * unless something was refused, which closed the gate). */
static int gate_scan(InputGate *g, const uint8_t *p, size_t n) {
        while (n > 0) {
                switch (g->phase) {

                case GATE_NUL:
                        g->phase = GATE_SASL;
                        p++, n--;
                        break;

                case GATE_SASL: {
                        int r = gate_sasl_byte(g, (char) *p);
                        if (r < 0)
                                return r;
                        p++, n--;
                        if (r > 0)
                                g->phase = GATE_MESSAGES;
                        break;
                }

                case GATE_MESSAGES:
                        if (g->body_left > 0) {
                                size_t k = (size_t) MIN((uint64_t) n, g->body_left);

                                g->body_left -= k;
                                p += k, n -= k;
                                break;
                        }

                        size_t k = MIN(n, DBUS_HEADER_SIZE - g->header_len);
                        memcpy(g->header + g->header_len, p, k);
                        g->header_len += k;
                        p += k, n -= k;
                        if (g->header_len == DBUS_HEADER_SIZE) {
                                int r = gate_check_header(g);
                                if (r < 0)
                                        return r;
                                g->header_len = 0;
                        }
                        break;

                case GATE_CLOSED:
                        return -ECONNRESET;
                }
        }
        return 0;
}

static int gate_pause(InputGate *g) {
        int r;

        r = sd_event_source_set_enabled(g->in_source, SD_EVENT_OFF);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(g->out_source, SD_EVENT_ON);
}

static int gate_resume(InputGate *g) {
        int r;

        r = sd_event_source_set_enabled(g->out_source, SD_EVENT_OFF);
        if (r < 0)
                return r;
        if (g->eof) {
                /* All of it is in the pipe: sd-bus reads the end after it. */
                gate_shut(g);
                return 0;
        }
        return sd_event_source_set_enabled(g->in_source, SD_EVENT_ON);
}

/* Moves what is buffered into the pipe. Returns 1 when all of it went, 0 when the pipe is full. */
static int gate_flush(InputGate *g) {
        while (g->buf_start < g->buf_end) {
                ssize_t k = write(g->pipe_fd, g->buf + g->buf_start, g->buf_end - g->buf_start);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno; /* EPIPE: sd-bus closed its input */
                }
                g->buf_start += (size_t) k;
        }
        g->buf_start = g->buf_end = 0;
        return 1;
}

static int gate_splice(InputGate *g);

/* Between messages: what is in the pipe is whole messages, which sd-bus can read without waiting. */
static bool gate_at_boundary(const InputGate *g) {
        return g->phase == GATE_MESSAGES && g->header_len == 0 && g->body_left == 0;
}

static bool gate_in_large_body(const InputGate *g) {
        return g->phase == GATE_MESSAGES && g->header_len == 0 && g->body_left >= GATE_SPLICE_MIN;
}

/* What went into the pipe is read by sd-bus at once rather than in the loop's next iteration: one message,
 * as sd-bus's own I/O callback does. */
static void gate_deliver(InputGate *g) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *p = sdloop_peer_ref(g->peer); /* a handler may drop it */
        int r;

        if (g->phase != GATE_MESSAGES || !sdloop_peer_is_connected(p))
                return;
        r = sd_bus_process(sdloop_peer_get_bus(p), NULL);
        if (r < 0)
                log_debug_errno(r, "Connection %s: processing failed: %m", strempty(sdloop_peer_get_description(p)));
}

static int gate_read(InputGate *g) {
        ssize_t n;
        int r;

        if (!g->buf) {
                g->buf = malloc(GATE_BUFFER_SIZE);
                if (!g->buf)
                        return -ENOMEM;
        }

        /* Without room for control messages, descriptors the other side attached are closed by the kernel. */
        n = recv(g->fd, g->buf, GATE_BUFFER_SIZE, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0) {
                g->eof = true;
                return gate_resume(g);
        }

        r = gate_scan(g, g->buf, (size_t) n);
        if (r < 0)
                return 0; /* refused and closed */

        g->buf_start = 0;
        g->buf_end = (size_t) n;
        r = gate_flush(g);
        if (r < 0)
                return r;
        if (r == 0)
                return gate_pause(g);
        if (gate_in_large_body(g))
                /* The rest of a large message is likely there already: on by splice() at once. */
                return gate_splice(g);
        if (gate_at_boundary(g))
                gate_deliver(g);
        return 0;
}

static bool pipe_is_full(InputGate *g) {
        struct pollfd pfd = { .fd = g->pipe_fd, .events = POLLOUT };

        return poll(&pfd, 1, 0) == 0;
}

static int gate_splice(InputGate *g) {
        ssize_t n;

        n = splice(g->fd, NULL, g->pipe_fd, NULL, (size_t) MIN(g->body_left, (uint64_t) GATE_SPLICE_MAX),
                   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n < 0) {
                if (errno == EINTR)
                        return 0;
                if (errno != EAGAIN)
                        return -errno;
                /* Nothing to read, or no room in the pipe: only the second needs waiting for the pipe. */
                return pipe_is_full(g) ? gate_pause(g) : 0;
        }
        if (n == 0) {
                g->eof = true;
                return gate_resume(g);
        }
        g->body_left -= (uint64_t) n;
        if (gate_at_boundary(g))
                gate_deliver(g);
        return 0;
}

static bool gate_backlogged(InputGate *g) {
        uint64_t queued;

        return sd_bus_get_n_queued_write(sdloop_peer_get_bus(g->peer), &queued) >= 0 &&
               queued >= GATE_WQUEUE_PAUSE;
}

static int on_gate_resume_check(sd_event_source *s, void *userdata) {
        InputGate *g = userdata;
        int r;

        if (gate_backlogged(g))
                return 0;
        g->resume_source = sd_event_source_disable_unref(g->resume_source);
        r = sd_event_source_set_enabled(g->in_source, SD_EVENT_ON);
        if (r < 0)
                log_warning_errno(r, "Connection %s: cannot resume reading: %m",
                                  strempty(sdloop_peer_get_description(g->peer)));
        return 0;
}

/* The other side does not read what we send: stop reading what it sends until it catches up. A post
 * source runs after every dispatch, so also after sd-bus has written some of its queue. */
static int gate_hold(InputGate *g) {
        int r;

        r = sd_event_source_set_enabled(g->in_source, SD_EVENT_OFF);
        if (r < 0)
                return r;
        if (g->resume_source)
                return 0;
        r = sd_event_add_post(sdloop_peer_get_event(g->peer), &g->resume_source, on_gate_resume_check, g);
        if (r < 0) {
                (void) sd_event_source_set_enabled(g->in_source, SD_EVENT_ON);
                return r;
        }
        (void) sd_event_source_set_description(g->resume_source, "sdloop-gate-resume");
        return 0;
}

static int on_gate_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        InputGate *g = userdata;
        int r;

        if (g->phase == GATE_MESSAGES && gate_backlogged(g))
                r = gate_hold(g);
        else if (gate_in_large_body(g))
                r = gate_splice(g);
        else
                r = gate_read(g);
        if (r < 0 && g->phase != GATE_CLOSED) {
                log_debug_errno(r, "Connection %s: reading failed: %m",
                                strempty(sdloop_peer_get_description(g->peer)));
                gate_shut(g);
        }
        return 0;
}

static int on_gate_writable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        InputGate *g = userdata;
        int r;

        /* After a splice that found the pipe full nothing is buffered: the pipe has room again. */
        r = gate_flush(g);
        if (r > 0)
                r = gate_resume(g);
        if (r < 0 && g->phase != GATE_CLOSED) {
                log_debug_errno(r, "Connection %s: passing input on failed: %m",
                                strempty(sdloop_peer_get_description(g->peer)));
                gate_shut(g);
        }
        return 0;
}

int input_gate_new(SdloopPeer *peer, int fd, bool server, InputGate **ret_gate, int *ret_bus_fd) {
        _cleanup_(input_gate_freep) InputGate *g = NULL;
        int pipefd[2], r;

        assert(peer);
        assert(fd >= 0);
        assert(ret_gate);
        assert(ret_bus_fd);

        g = new0(InputGate, 1);
        if (!g)
                return -ENOMEM;
        g->peer = peer;
        g->fd = g->pipe_fd = -EBADF;
        g->server = server;
        g->phase = server ? GATE_NUL : GATE_SASL;
        g->message_max = sdloop_message_size_max();

        g->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (g->fd < 0)
                return -errno;
        if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        g->pipe_fd = pipefd[1];
        /* Room for a 64 KiB payload and its header at once. Best effort: past the user's pipe quota the
         * kernel gives less, which only makes large messages take more turns. */
        (void) fcntl(g->pipe_fd, F_SETPIPE_SZ, GATE_PIPE_SIZE);

        r = sd_event_add_io(sdloop_peer_get_event(peer), &g->in_source, g->fd, EPOLLIN, on_gate_readable, g);
        if (r >= 0)
                r = sd_event_add_io(sdloop_peer_get_event(peer), &g->out_source, g->pipe_fd, EPOLLOUT,
                                    on_gate_writable, g);
        if (r >= 0)
                r = sd_event_source_set_enabled(g->out_source, SD_EVENT_OFF);
        if (r < 0) {
                safe_close(pipefd[0]);
                return r;
        }
        (void) sd_event_source_set_description(g->in_source, "sdloop-gate-in");
        (void) sd_event_source_set_description(g->out_source, "sdloop-gate-out");

        g->bus_in_fd = pipefd[0];
        g->bus_out_fd = fd;
        *ret_bus_fd = pipefd[0];
        *ret_gate = TAKE_PTR(g);
        return 0;
}

void input_gate_close(InputGate *g) {
        if (!g)
                return;
        gate_shut(g);
        g->fd = safe_close(g->fd);
}

typedef struct GateCall {
        bool done;
        int r;
        sd_bus_message *reply;
        sd_bus_error error;
} GateCall;

static int on_gate_call_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        GateCall *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        c->done = true;
        if (e) {
                c->r = -sd_bus_error_get_errno(e) ?: -EIO;
                return sd_bus_error_copy(&c->error, e);
        }
        c->reply = sd_bus_message_ref(m);
        return 0;
}

/* Waits for the gate's and sd-bus's descriptors, then lets each do what it can. */
static int gate_poll_once(InputGate *g, sd_bus *bus) {
        struct pollfd pfd[3];
        uint64_t until, now;
        int events, timeout_ms = -1, r;
        size_t n = 0;

        events = sd_bus_get_events(bus);
        if (events < 0)
                return events;
        if (g->phase != GATE_CLOSED)
                pfd[n++] = (struct pollfd) { .fd = g->buf_end > g->buf_start ? g->pipe_fd : g->fd,
                                             .events = g->buf_end > g->buf_start ? POLLOUT : POLLIN };
        pfd[n++] = (struct pollfd) { .fd = g->bus_in_fd, .events = events & POLLIN };
        pfd[n++] = (struct pollfd) { .fd = g->bus_out_fd, .events = events & POLLOUT };

        r = sd_bus_get_timeout(bus, &until);
        if (r > 0 && until != UINT64_MAX) {
                struct timespec ts;

                (void) clock_gettime(CLOCK_MONOTONIC, &ts);
                now = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
                timeout_ms = until > now ? (int) MIN((until - now + 999) / 1000, (uint64_t) INT_MAX) : 0;
        }
        if (poll(pfd, n, timeout_ms) < 0 && errno != EINTR)
                return -errno;

        if (g->phase != GATE_CLOSED && pfd[0].revents != 0) {
                if (pfd[0].events & POLLOUT)
                        (void) on_gate_writable(NULL, g->pipe_fd, pfd[0].revents, g);
                else
                        (void) on_gate_readable(NULL, g->fd, pfd[0].revents, g);
        }
        do
                r = sd_bus_process(bus, NULL);
        while (r > 0);
        return r;
}

int input_gate_call(InputGate *g, sd_bus_message *m, uint64_t timeout_usec, sd_bus_error *error,
                    sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        sd_bus *bus = sdloop_peer_get_bus(g->peer);
        GateCall c = { .error = SD_BUS_ERROR_NULL };
        int r;

        r = sd_bus_call_async(bus, &slot, m, on_gate_call_reply, &c, timeout_usec);
        if (r < 0)
                return r;
        while (!c.done) {
                r = gate_poll_once(g, bus);
                if (r < 0 && !c.done) {
                        sd_bus_error_free(&c.error);
                        return r;
                }
        }
        if (c.r < 0) {
                if (error)
                        sd_bus_error_move(error, &c.error);
                else
                        sd_bus_error_free(&c.error);
                return c.r;
        }
        *ret_reply = c.reply;
        return 0;
}

InputGate *input_gate_free(InputGate *g) {
        if (!g)
                return NULL;
        input_gate_close(g);
        return mfree(g);
}
