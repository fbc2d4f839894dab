/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The feed's data sources (src/host/feed-source.h): the decimal rule, and every source type against real
 * inputs — files, processes, and an HTTP server the test runs itself on 127.0.0.1 (port 0), on the same
 * event loop as the fetches — including what a failing or garbage source reports. */

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "feed-source.h"
#include "host-plugin.h"
#include "macro.h"

static sd_event *event;
static char dir[] = "/tmp/sdloop-test-sources-XXXXXX";

/* --- a tiny HTTP server ------------------------------------------------------------------------------- */

typedef struct Conn {
        int fd;
        sd_event_source *io;
        char buf[8192];
        size_t size;
        struct Conn *next;
} Conn;

static int listen_fd = -EBADF;
static uint16_t port;
static sd_event_source *accept_source;
static Conn *conns;
static unsigned requests;

static void conn_free(Conn *c) {
        for (Conn **i = &conns; *i; i = &(*i)->next)
                if (*i == c) {
                        *i = c->next;
                        break;
                }
        sd_event_source_disable_unref(c->io);
        safe_close(c->fd);
        free(c);
}

static void respond(Conn *c, int code, const char *body) {
        char head[256];
        int n;

        n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", code, strlen(body));
        /* Small answers fit in the socket buffer at once. */
        ck_assert_int_eq(write(c->fd, head, (size_t) n), n);
        ck_assert_int_eq(write(c->fd, body, strlen(body)), (ssize_t) strlen(body));
        conn_free(c);
}

static void serve(Conn *c) {
        char path[256] = "";

        requests++;
        ck_assert_int_eq(sscanf(c->buf, "GET %255s HTTP/", path), 1);

        if (streq(path, "/price"))
                respond(c, 200, "{\"data\": {\"price\": 1234.5678, \"volume\": 7}}");
        else if (streq(path, "/string"))
                respond(c, 200, "{\"data\": {\"price\": \"42\"}}");
        else if (streq(path, "/array"))
                respond(c, 200, "{\"data\": {\"prices\": [{\"usd\": 7}, {\"usd\": 8}]}}");
        else if (streq(path, "/top"))
                respond(c, 200, "99");
        else if (streq(path, "/big"))
                respond(c, 200, "{\"v\": 123456789012345678901234567890}");
        else if (streq(path, "/bool"))
                respond(c, 200, "{\"data\": {\"price\": true}}");
        else if (streq(path, "/garbage"))
                respond(c, 200, "this is not json");
        else if (streq(path, "/500"))
                respond(c, 500, "{\"error\": \"oops\"}");
        else if (streq(path, "/header"))
                respond(c, strstr(c->buf, "\r\nX-Api-Key: secret\r\n") ? 200 : 401, "{\"v\": 5}");
        else if (streq(path, "/slow"))
                ; /* never answered: the client's timeout must fire */
        else
                respond(c, 404, "{}");
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        ssize_t n;

        n = read(fd, c->buf + c->size, sizeof(c->buf) - 1 - c->size);
        if (n <= 0) {
                if (n < 0 && errno == EAGAIN)
                        return 0;
                conn_free(c);
                return 0;
        }
        c->size += (size_t) n;
        c->buf[c->size] = 0;
        if (strstr(c->buf, "\r\n\r\n")) {
                (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
                serve(c);
        }
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Conn *c;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        c = new0(Conn, 1);
        ck_assert_ptr_nonnull(c);
        c->fd = cfd;
        ck_assert_int_eq(sd_event_add_io(event, &c->io, cfd, EPOLLIN, on_conn_io, c), 0);
        c->next = conns;
        conns = c;
        return 0;
}

static void server_start(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);

        listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(listen_fd, 0);
        ck_assert_int_eq(bind(listen_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(listen_fd, 16), 0);
        ck_assert_int_eq(getsockname(listen_fd, (struct sockaddr *) &sa, &len), 0);
        port = ntohs(sa.sin_port);
        ck_assert_int_eq(sd_event_add_io(event, &accept_source, listen_fd, EPOLLIN, on_accept, NULL), 0);
}

static void server_stop(void) {
        while (conns)
                conn_free(conns);
        accept_source = sd_event_source_disable_unref(accept_source);
        listen_fd = safe_close(listen_fd);
}

/* --- helpers ------------------------------------------------------------------------------------------- */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -errno : 0;
}

static void setup(void) {
        strcpy(dir, "/tmp/sdloop-test-sources-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(sd_event_new(&event), 0);
        /* The test's server is local: no proxy from the environment in between. */
        unsetenv("http_proxy");
        unsetenv("HTTP_PROXY");
        unsetenv("all_proxy");
        unsetenv("ALL_PROXY");
        server_start();
}

static void teardown(void) {
        server_stop();
        event = sd_event_unref(event);
        ck_assert_int_eq(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static FeedSourceConfig *parse(const char *json) {
        _cleanup_free_ char *error = NULL;
        FeedSourceConfig *c = NULL;
        json_object *j = json_tokener_parse(json);
        int r;

        ck_assert_msg(j, "test JSON does not parse: %s", json);
        r = feed_source_config_parse(j, "feeds.t.value", "t", &c, &error);
        json_object_put(j);
        ck_assert_msg(r == 0, "%s: %s", json, strempty(error));
        return c;
}

static void parse_fails(const char *json, const char *expected) {
        _cleanup_free_ char *error = NULL;
        FeedSourceConfig *c = NULL;
        json_object *j = json_tokener_parse(json);

        ck_assert_ptr_nonnull(j);
        ck_assert_int_lt(feed_source_config_parse(j, "feeds.t.value", "t", &c, &error), 0);
        json_object_put(j);
        ck_assert_ptr_null(c);
        ck_assert_msg(error && strstr(error, expected), "%s: expected \"%s\", got \"%s\"", json, expected,
                      strempty(error));
}

typedef struct Result {
        bool done;
        char *value;
        char *error;
} Result;

static void result_done(Result *r) {
        free(r->value);
        free(r->error);
        *r = (Result) {};
}

static void on_done(FeedSource *s, const char *value, const char *error, void *userdata) {
        Result *r = userdata;

        ck_assert(!r->done);
        ck_assert((value == NULL) != (error == NULL));
        r->done = true;
        r->value = value ? strdup(value) : NULL;
        r->error = error ? strdup(error) : NULL;
}

/* Fetch and run the loop until the result is there (bounded). */
static void fetch(FeedSource *s, uint64_t step, Result *ret) {
        uint64_t deadline = host_now() + 20 * USEC_PER_SEC;

        *ret = (Result) {};
        ck_assert_int_eq(feed_source_fetch(s, step, on_done, ret), 0);
        /* Never from within the call. */
        ck_assert(!ret->done);
        while (!ret->done && host_now() < deadline)
                ck_assert_int_ge(sd_event_run(event, 100 * USEC_PER_MSEC), 0);
        ck_assert_msg(ret->done, "%s: no result in time", feed_source_get_label(s));
}

static void expect_value(const char *json, const char *value) {
        _cleanup_(feed_source_config_freep) FeedSourceConfig *c = parse(json);
        _cleanup_(feed_source_freep) FeedSource *s = NULL;
        Result r;

        ck_assert_int_eq(feed_source_new(c, event, 0, &s), 0);
        fetch(s, 1, &r);
        ck_assert_msg(r.value && streq(r.value, value), "%s: expected %s, got %s / %s", json, value,
                      strempty(r.value), strempty(r.error));
        result_done(&r);
}

static void expect_error(const char *json, const char *error) {
        _cleanup_(feed_source_config_freep) FeedSourceConfig *c = parse(json);
        _cleanup_(feed_source_freep) FeedSource *s = NULL;
        const char *label;
        Result r;

        ck_assert_int_eq(feed_source_new(c, event, 0, &s), 0);
        fetch(s, 1, &r);
        ck_assert_msg(r.error && strstr(r.error, error), "%s: expected error \"%s\", got %s / %s", json, error,
                      strempty(r.value), strempty(r.error));
        /* Errors name the source. */
        label = feed_source_config_get_label(c);
        ck_assert_msg(strncmp(r.error, label, strlen(label)) == 0, "error does not start with the label: %s",
                      r.error);
        result_done(&r);
}

static char *write_file(const char *name, const char *contents) {
        char *path;
        int fd;

        ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, contents, strlen(contents)), (ssize_t) strlen(contents));
        close(fd);
        return path;
}

/* --- tests ------------------------------------------------------------------------------------------------ */

static void scale_ok(const char *text, bool has, unsigned e, const char *expected) {
        _cleanup_free_ char *v = NULL;
        const char *reason = NULL;
        int r = feed_decimal_scale(text, has, e, &v, &reason);

        ck_assert_msg(r == 0 && streq(v, expected), "\"%s\" × 1e%u: expected %s, got %s (%s)", text, e, expected,
                      strempty(v), strempty(reason));
}

static void scale_fails(const char *text, bool has, unsigned e, const char *reason_part) {
        _cleanup_free_ char *v = NULL;
        const char *reason = NULL;

        ck_assert_int_lt(feed_decimal_scale(text, has, e, &v, &reason), 0);
        ck_assert_ptr_null(v);
        ck_assert_msg(reason && strstr(reason, reason_part), "\"%s\": expected \"%s\", got \"%s\"", text,
                      reason_part, strempty(reason));
}

static void format_is(const char *value, unsigned exponent, const char *expected) {
        _cleanup_free_ char *out = NULL;

        ck_assert_int_eq(feed_decimal_format(value, exponent, &out), 0);
        ck_assert_str_eq(out, expected);
}

/* The latest answer shown with the value source's decimals: the value rule read backwards. */
START_TEST(test_decimal_format) {
        char *out = NULL;

        format_is("200012345678", 8, "2000.12345678");
        format_is("-5", 2, "-0.05");
        format_is("0", 3, "0.000");
        format_is("123", 3, "0.123");
        format_is("1234", 3, "1.234");
        format_is("-1042", 0, "-1042");
        ck_assert_int_eq(feed_decimal_format("1.5", 2, &out), -EINVAL);
        ck_assert_int_eq(feed_decimal_format("007", 2, &out), -EINVAL);
        ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_decimal_rule) {
        scale_ok("123", false, 0, "123");
        scale_ok("  -0042 \n", false, 0, "-42");
        scale_ok("+7", false, 0, "7");
        scale_ok("1.50e2", false, 0, "150");
        scale_ok("120e-1", false, 0, "12");
        scale_ok("1.", false, 0, "1");
        scale_ok("-0", false, 0, "0");
        scale_ok("0.000", false, 0, "0");
        scale_fails("1.5", false, 0, "not an integer");
        scale_fails("12e-1", false, 0, "not an integer");

        /* With a multiplier: exact scaling, then halves away from zero. */
        scale_ok("1234.5678", true, 2, "123457");
        scale_ok("1234.5648", true, 2, "123456");
        scale_ok("-0.125", true, 2, "-13");
        scale_ok("0.125", true, 2, "13");
        scale_ok("0.004", true, 2, "0");
        scale_ok("-0.004", true, 2, "0");
        scale_ok("9.99", true, 0, "10");
        scale_ok("-9.5", true, 0, "-10");
        scale_ok(".5", true, 1, "5");
        scale_ok("1e-3", true, 3, "1");
        scale_ok("2000.1", true, 8, "200010000000");
        scale_ok("1.23456789012345678901234567890", true, 18, "1234567890123456789");

        /* int192. */
        scale_ok("3138550867693340381917894711603833208051177722232017256447", false, 0,
                 "3138550867693340381917894711603833208051177722232017256447");
        scale_fails("3138550867693340381917894711603833208051177722232017256448", false, 0, "out of range");
        scale_ok("-3138550867693340381917894711603833208051177722232017256448", false, 0,
                 "-3138550867693340381917894711603833208051177722232017256448");
        scale_fails("1e80", false, 0, "out of range");
        scale_fails("1e999999999999", false, 0, "out of range");
        scale_ok("1e-999999999999", true, 0, "0");

        scale_fails("", false, 0, "malformed");
        scale_fails("abc", false, 0, "malformed");
        scale_fails("1e", false, 0, "malformed");
        scale_fails("1 2", false, 0, "malformed");
        scale_fails("0x10", false, 0, "malformed");
        scale_fails("--1", false, 0, "malformed");
        scale_fails(".", false, 0, "malformed");
        scale_fails("NaN", true, 0, "malformed");
}
END_TEST

START_TEST(test_config_errors) {
        parse_fails("[1]", "feeds.t.value: expected a data source object");
        parse_fails("{}", "feeds.t.value: missing \"type\"");
        parse_fails("{\"type\": \"carrier-pigeon\"}", "feeds.t.value.type: unknown source type \"carrier-pigeon\"");
        parse_fails("{\"type\": \"constant\"}", "feeds.t.value: missing \"value\"");
        parse_fails("{\"type\": \"constant\", \"value\": \"1\", \"url\": \"x\"}", "feeds.t.value.url: unknown key");
        parse_fails("{\"type\": \"constant\", \"value\": \"1.5\"}", "feeds.t.value.value: \"1.5\": not an integer");
        parse_fails("{\"type\": \"constant\", \"value\": \"1\", \"multiplier\": \"3\"}",
                    "feeds.t.value.multiplier: \"3\" is not a power of ten");
        parse_fails("{\"type\": \"constant\", \"value\": \"1\", \"multiplier\": \"1e78\"}",
                    "feeds.t.value.multiplier");
        parse_fails("{\"type\": \"file\", \"path\": \"relative\"}",
                    "feeds.t.value.path: \"relative\" is not an absolute");
        parse_fails("{\"type\": \"command\", \"argv\": []}", "feeds.t.value.argv: expected a non-empty array");
        parse_fails("{\"type\": \"command\", \"argv\": [\"/bin/true\", 3]}",
                    "feeds.t.value.argv[1]: expected a string");
        parse_fails("{\"type\": \"command\", \"argv\": [\"/bin/true\"], \"timeout_sec\": -1}",
                    "feeds.t.value.timeout_sec: must be between");
        parse_fails("{\"type\": \"http\", \"url\": \"ftp://x\"}", "feeds.t.value.url: \"ftp://x\" is not an http://");
        parse_fails("{\"type\": \"http\", \"url\": \"http://x\", \"json_path\": \"a..b\"}",
                    "feeds.t.value.json_path");
        parse_fails("{\"type\": \"http\", \"url\": \"http://x\", \"headers\": {\"A\": 1}}",
                    "feeds.t.value.headers.A: expected a string");
        parse_fails("{\"type\": \"random_walk\", \"start\": \"x\"}", "feeds.t.value.start: \"x\" is not a decimal");
        parse_fails("{\"type\": \"random_walk\", \"start\": \"1\", \"step_ppm\": 2000000}",
                    "feeds.t.value.step_ppm: must be between 0 and 1000000");
        parse_fails("{\"type\": \"random_walk\", \"start\": \"1\", \"multiplier\": \"1e8\"}",
                    "feeds.t.value.multiplier: unknown key");

        /* Labels. */
        {
                _cleanup_(feed_source_config_freep) FeedSourceConfig *c =
                        parse("{\"type\": \"http\", \"url\": \"http://x\", \"name\": \"eth-usd\"}");

                ck_assert_str_eq(feed_source_config_get_label(c), "http source eth-usd");
                ck_assert_int_eq(feed_source_config_get_type(c), FEED_SOURCE_HTTP);
        }
}
END_TEST

START_TEST(test_constant) {
        expect_value("{\"type\": \"constant\", \"value\": \"123\"}", "123");
        expect_value("{\"type\": \"constant\", \"value\": -5}", "-5");
        expect_value("{\"type\": \"constant\", \"value\": 7.25, \"multiplier\": \"1e2\"}", "725");
        expect_value("{\"type\": \"constant\", \"value\": \"0.5\", \"multiplier\": 100}", "50");
}
END_TEST

START_TEST(test_file) {
        _cleanup_free_ char *good = write_file("good", "  42  \nsecond line is ignored\n");
        _cleanup_free_ char *scaled = write_file("scaled", "2001.987654321");
        _cleanup_free_ char *garbage = write_file("garbage", "abc\n");
        _cleanup_free_ char *empty = write_file("empty", "");
        _cleanup_free_ char *json = NULL;

        ck_assert_int_ge(asprintf(&json, "{\"type\": \"file\", \"path\": \"%s\"}", good), 0);
        expect_value(json, "42");
        free(json);
        ck_assert_int_ge(asprintf(&json, "{\"type\": \"file\", \"path\": \"%s\", \"multiplier\": \"1e8\"}",
                                  scaled), 0);
        expect_value(json, "200198765432");
        free(json);
        ck_assert_int_ge(asprintf(&json, "{\"type\": \"file\", \"path\": \"%s\"}", scaled), 0);
        expect_error(json, "line 1: not an integer");
        free(json);
        ck_assert_int_ge(asprintf(&json, "{\"type\": \"file\", \"path\": \"%s\"}", garbage), 0);
        expect_error(json, "line 1: malformed decimal \"abc\"");
        free(json);
        ck_assert_int_ge(asprintf(&json, "{\"type\": \"file\", \"path\": \"%s\"}", empty), 0);
        expect_error(json, "empty file");
        free(json);
        ck_assert_int_ge(asprintf(&json, "{\"type\": \"file\", \"path\": \"%s/missing\"}", dir), 0);
        expect_error(json, "cannot open: No such file or directory");

        /* The label carries the path. */
        {
                _cleanup_(feed_source_config_freep) FeedSourceConfig *c = parse(json);
                _cleanup_free_ char *label = NULL;

                ck_assert_int_ge(asprintf(&label, "file source t (%s/missing)", dir), 0);
                ck_assert_str_eq(feed_source_config_get_label(c), label);
        }
}
END_TEST

START_TEST(test_command) {
        expect_value("{\"type\": \"command\", \"argv\": [\"/bin/sh\", \"-c\", \"echo 17\"]}", "17");
        expect_value("{\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"printf ' 1.5 '\"], "
                     "\"multiplier\": \"1e1\"}", "15");
        expect_error("{\"type\": \"command\", \"argv\": [\"/bin/sh\", \"-c\", \"echo boom >&2; exit 3\"]}",
                     "command source t: exited with status 3: boom");
        expect_error("{\"type\": \"command\", \"argv\": [\"/bin/sh\", \"-c\", \"echo hello\"]}",
                     "output: malformed decimal \"hello\"");
        expect_error("{\"type\": \"command\", \"argv\": [\"/bin/true\"]}", "no output");
        expect_error("{\"type\": \"command\", \"argv\": [\"/bin/sh\", \"-c\", \"kill -9 $$\"]}", "killed by signal");
        expect_error("{\"type\": \"command\", \"argv\": [\"/nonexistent/price\"]}",
                     "exited with status 127: cannot execute /nonexistent/price");

        /* Its stderr is its own bytes: escaped, and cut after a whole character, the error can travel over
         * D-Bus and into a log line. */
        {
                _cleanup_(feed_source_config_freep) FeedSourceConfig *c =
                        parse("{\"type\": \"command\", \"argv\": [\"/bin/sh\", \"-c\", "
                              "\"{ printf '\\\\377\\\\033[1m'; for i in $(seq 300); do printf '\\\\303\\\\251'; done; } >&2; "
                              "exit 3\"]}");
                _cleanup_(feed_source_freep) FeedSource *src = NULL;
                Result r;

                ck_assert_int_eq(feed_source_new(c, event, 0, &src), 0);
                fetch(src, 1, &r);
                ck_assert_msg(r.error && strstr(r.error, "exited with status 3: \\xff\\x1b[1m\xc3\xa9\xc3\xa9"),
                              "error: %s", strempty(r.error));
                ck_assert_msg(strlen(r.error) < 400, "error of %zu bytes", strlen(r.error));
                ck_assert_str_eq(r.error + strlen(r.error) - 5, "\xc3\xa9\xe2\x80\xa6");
                result_done(&r);
        }

        /* A command that hangs is killed at its timeout, children included. */
        {
                uint64_t start = host_now();

                expect_error("{\"type\": \"command\", \"argv\": [\"/bin/sh\", \"-c\", \"sleep 30; echo 1\"], "
                             "\"timeout_sec\": 0.3}", "timed out after 0.3 s");
                ck_assert_uint_lt(host_now() - start, 10 * USEC_PER_SEC);
        }
}
END_TEST

/* An http source for @path on the test's server, with more keys. */
static const char *http(const char *path, const char *extra) {
        static char buf[512];

        snprintf(buf, sizeof(buf), "{\"type\": \"http\", \"url\": \"http://127.0.0.1:%u%s\"%s%s}", port, path,
                 extra ? ", " : "", strempty(extra));
        return buf;
}

START_TEST(test_http) {
        expect_value(http("/price", "\"json_path\": \"data.price\", \"multiplier\": \"1e8\""), "123456780000");
        expect_error(http("/price", "\"json_path\": \"data.price\""), "json_path data.price: not an integer");
        expect_value(http("/price", "\"json_path\": \"data.volume\""), "7");
        expect_value(http("/string", "\"json_path\": \"data.price\""), "42");
        expect_value(http("/array", "\"json_path\": \"data.prices.1.usd\""), "8");
        expect_value(http("/top", NULL), "99");

        expect_error(http("/500", "\"json_path\": \"data.price\", \"name\": \"eth-usd\""),
                     "http source eth-usd: HTTP 500");
        expect_error(http("/nowhere", NULL), "HTTP 404");
        expect_error(http("/garbage", "\"json_path\": \"data.price\""), "response is not JSON");
        expect_error(http("/price", "\"json_path\": \"data.cost\""), "json_path data.cost: no key \"cost\" in data");
        expect_error(http("/array", "\"json_path\": \"data.prices.2.usd\""),
                     "no element \"2\" in data.prices (an array of 2)");
        expect_error(http("/price", "\"json_path\": \"data.price.x\""),
                     "data.price is double, not an object or array");
        expect_error(http("/bool", "\"json_path\": \"data.price\""),
                     "json_path data.price: boolean, expected a number or a decimal string");
        expect_error(http("/big", "\"json_path\": \"v\""), "integer too large");
        expect_error(http("/header", "\"json_path\": \"v\""), "HTTP 401");
        expect_value(http("/header", "\"json_path\": \"v\", \"headers\": {\"X-Api-Key\": \"secret\"}"), "5");

        {
                uint64_t start = host_now();

                expect_error(http("/slow", "\"timeout_sec\": 0.3"), "timed out after 0.3 s");
                ck_assert_uint_lt(host_now() - start, 10 * USEC_PER_SEC);
        }

        /* Nobody listening. */
        {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                socklen_t len = sizeof(sa);
                char json[256];

                ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
                ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
                close(fd);
                snprintf(json, sizeof(json), "{\"type\": \"http\", \"url\": \"http://127.0.0.1:%u/\"}",
                         ntohs(sa.sin_port));
                expect_error(json, "http source t: ");
        }
}
END_TEST

START_TEST(test_http_reuse) {
        _cleanup_(feed_source_config_freep) FeedSourceConfig *c = NULL;
        _cleanup_(feed_source_freep) FeedSource *s = NULL;
        char json[256];
        unsigned before = requests;

        /* One instance, many rounds. */
        snprintf(json, sizeof(json), "{\"type\": \"http\", \"url\": \"http://127.0.0.1:%u/string\", \"json_path\": "
                 "\"data.price\"}", port);
        c = parse(json);
        ck_assert_int_eq(feed_source_new(c, event, 0, &s), 0);
        for (int i = 0; i < 5; i++) {
                Result r;

                fetch(s, (uint64_t) i, &r);
                ck_assert_str_eq(r.value, "42");
                result_done(&r);
        }
        ck_assert_uint_eq(requests - before, 5);
}
END_TEST

START_TEST(test_random_walk) {
        _cleanup_(feed_source_config_freep) FeedSourceConfig *c =
                parse("{\"type\": \"random_walk\", \"start\": \"2000000000\", \"step_ppm\": 1000, \"seed\": 1}");
        _cleanup_(feed_source_freep) FeedSource *a = NULL, *b = NULL, *other = NULL;
        char *seq_a[20] = {}, *seq_other[20] = {};
        bool moved = false, differs = false;
        Result r;

        ck_assert_int_eq(feed_source_new(c, event, 0, &a), 0);
        ck_assert_int_eq(feed_source_new(c, event, 0, &b), 0);
        ck_assert_int_eq(feed_source_new(c, event, 1, &other), 0);

        for (uint64_t step = 1; step <= 20; step++) {
                fetch(a, step, &r);
                seq_a[step - 1] = TAKE_PTR(r.value);
                result_done(&r);
                /* Asking again in the same round gives the same value. */
                fetch(a, step, &r);
                ck_assert_str_eq(r.value, seq_a[step - 1]);
                result_done(&r);
                fetch(other, step, &r);
                seq_other[step - 1] = TAKE_PTR(r.value);
                result_done(&r);
        }
        ck_assert_str_eq(seq_a[0], "2000000000");

        for (size_t i = 0; i < 20; i++) {
                __int128 v;

                /* Deterministic: the same seed and oracle walk the same way. */
                fetch(b, i + 1, &r);
                ck_assert_str_eq(r.value, seq_a[i]);
                result_done(&r);

                /* At most 1000 ppm per step. */
                if (i > 0) {
                        __int128 prev, d;

                        ck_assert_int_eq(sdloop_decimal_to_i128(seq_a[i - 1], &prev), 0);
                        ck_assert_int_eq(sdloop_decimal_to_i128(seq_a[i], &v), 0);
                        d = v > prev ? v - prev : prev - v;
                        ck_assert(d * 1000 <= prev);
                        if (d != 0)
                                moved = true;
                }
                if (!streq(seq_a[i], seq_other[i]))
                        differs = true;
        }
        ck_assert(moved);
        /* Each oracle walks on its own. */
        ck_assert(differs);

        for (size_t i = 0; i < 20; i++) {
                free(seq_a[i]);
                free(seq_other[i]);
        }
}
END_TEST

START_TEST(test_busy_and_cancel) {
        _cleanup_(feed_source_config_freep) FeedSourceConfig *c =
                parse("{\"type\": \"command\", \"argv\": [\"/bin/sh\", \"-c\", \"sleep 30\"], \"timeout_sec\": 60}");
        _cleanup_(feed_source_config_freep) FeedSourceConfig *k =
                parse("{\"type\": \"constant\", \"value\": \"1\"}");
        _cleanup_(feed_source_freep) FeedSource *s = NULL, *constant = NULL;
        Result r = {};

        ck_assert_int_eq(feed_source_new(c, event, 0, &s), 0);
        ck_assert_int_eq(feed_source_fetch(s, 1, on_done, &r), 0);
        ck_assert(feed_source_is_busy(s));
        ck_assert_int_eq(feed_source_fetch(s, 1, on_done, &r), -EBUSY);
        feed_source_cancel(s);
        ck_assert(!feed_source_is_busy(s));
        ck_assert_int_ge(sd_event_run(event, 50 * USEC_PER_MSEC), 0);
        ck_assert(!r.done);

        /* A cancelled constant does not answer either. */
        ck_assert_int_eq(feed_source_new(k, event, 0, &constant), 0);
        ck_assert_int_eq(feed_source_fetch(constant, 1, on_done, &r), 0);
        feed_source_cancel(constant);
        ck_assert_int_ge(sd_event_run(event, 50 * USEC_PER_MSEC), 0);
        ck_assert(!r.done);
        fetch(constant, 2, &r);
        ck_assert_str_eq(r.value, "1");
        result_done(&r);
}
END_TEST

static Suite *sources_suite(void) {
        Suite *s = suite_create("feed-sources");
        TCase *tc = tcase_create("sources");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_decimal_rule);
        tcase_add_test(tc, test_decimal_format);
        tcase_add_test(tc, test_config_errors);
        tcase_add_test(tc, test_constant);
        tcase_add_test(tc, test_file);
        tcase_add_test(tc, test_command);
        tcase_add_test(tc, test_http);
        tcase_add_test(tc, test_http_reuse);
        tcase_add_test(tc, test_random_walk);
        tcase_add_test(tc, test_busy_and_cancel);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(sources_suite());
        int failed;

        sdloop_log_set_max_level(LOG_NOTICE);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
