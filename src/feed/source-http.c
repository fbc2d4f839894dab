/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The HTTP source: {"type": "http", "url": "http://…", "json_path": "data.price", "timeout_sec": 2}. One
 * libcurl multi handle per instance on the loop (curl-event.h), so that a slow endpoint never blocks it; the
 * value is taken from the JSON response at json_path. */

#include <curl/curl.h>

#include "curl-event.h"

#include "config.h"
#include "source-internal.h"
#include "util.h"

struct SourceHttp {
        CurlEvent *curl;
        CURL *easy;
        struct curl_slist *curl_headers;
        char curl_error[CURL_ERROR_SIZE];
        SourceBuffer body;
};

static int parse_headers(json_object *v, const char *field, char ***ret, char **ret_error) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;

        if (!json_object_is_type(v, json_type_object))
                return feed_field_error(ret_error, field, "expected an object of header name: value");
        l = new0(char *, json_object_object_length(v) + 1);
        if (!l)
                return -ENOMEM;
        json_object_object_foreach(v, key, value) {
                _cleanup_free_ char *f = source_field_join(field, key);
                const char *s;

                if (!f)
                        return -ENOMEM;
                if (isempty(key) || strpbrk(key, ": \t\r\n"))
                        return feed_field_error(ret_error, f, "not a valid header name");
                if (!json_object_is_type(value, json_type_string))
                        return feed_field_error(ret_error, f, "expected a string");
                s = json_object_get_string(value);
                if (strpbrk(s, "\r\n"))
                        return feed_field_error(ret_error, f, "header values cannot span lines");
                if (asprintf(&l[n], "%s: %s", key, s) < 0) {
                        l[n] = NULL;
                        return -ENOMEM;
                }
                n++;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

#define SUBFIELD(key)                                                   \
        _cleanup_free_ char *f_##key = source_field_join(field, #key);  \
        if (!f_##key)                                                   \
                return -ENOMEM;

static int http_parse(FeedSourceConfig *c, json_object *j, const char *field, char **ret_error) {
        json_object *v;
        const char *s = NULL;
        int r;
        SUBFIELD(url);

        if (!json_object_object_get_ex(j, "url", &v))
                return feed_field_error(ret_error, field, "missing \"url\"");
        r = source_json_get_string(v, f_url, &s, ret_error);
        if (r < 0)
                return r;
        if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
                return feed_field_error(ret_error, f_url, "%s is not an http:// or "
                                             "https:// URL", SDLOOP_QUOTE(s));
        c->url = strdup(s);
        if (!c->url)
                return -ENOMEM;

        if (json_object_object_get_ex(j, "json_path", &v)) {
                SUBFIELD(json_path);

                r = source_json_get_string(v, f_json_path, &s, ret_error);
                if (r < 0)
                        return r;
                if (!isempty(s) && (s[0] == '.' || s[strlen(s) - 1] == '.' || strstr(s, "..")))
                        return feed_field_error(ret_error, f_json_path, "%s: expected keys "
                                                     "and indexes separated by single dots, such as "
                                                     "\"data.prices.0.usd\"", SDLOOP_QUOTE(s));
                c->json_path = strdup(s);
        } else
                c->json_path = strdup("");
        if (!c->json_path)
                return -ENOMEM;

        if (json_object_object_get_ex(j, "headers", &v)) {
                SUBFIELD(headers);

                r = parse_headers(v, f_headers, &c->headers, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}
#undef SUBFIELD

static void http_finish(FeedSource *s, CURLcode result);

static void on_transfer_done(CurlEvent *ce, CURL *easy, CURLcode result, void *userdata) {
        /* May free the source: nothing after this. */
        http_finish(userdata, result);
}

static size_t curl_write_cb(char *data, size_t size, size_t nmemb, void *userdata) {
        FeedSource *s = userdata;

        /* Returning less than given makes libcurl fail the transfer with CURLE_WRITE_ERROR. */
        if (source_buffer_append(&s->http->body, data, size * nmemb) < 0)
                return 0;
        return size * nmemb;
}

/* Walk "data.prices.0.usd" down from @root. */
int source_json_path_lookup(json_object *root, const char *path, json_object **ret, char **ret_reason) {
        _cleanup_free_ char *copy = strdup(path);
        json_object *cur = root;
        char *state = NULL;
        size_t walked = 0;
        int r;

        if (!copy)
                return -ENOMEM;

        for (char *k = strtok_r(copy, ".", &state); k; k = strtok_r(NULL, ".", &state)) {
                _cleanup_free_ char *where = walked > 0 ? strndup(path, walked) : strdup("the document");
                json_object *next = NULL;

                if (!where)
                        return -ENOMEM;

                if (json_object_is_type(cur, json_type_object)) {
                        if (!json_object_object_get_ex(cur, k, &next)) {
                                r = asprintf(ret_reason, "no key \"%s\" in %s", k, where);
                                return r < 0 ? -ENOMEM : -ENOENT;
                        }
                } else if (json_object_is_type(cur, json_type_array)) {
                        size_t n = json_object_array_length(cur);
                        char *end = NULL;
                        unsigned long i;

                        errno = 0;
                        i = strtoul(k, &end, 10);
                        if (!source_char_is_digit(k[0]) || errno != 0 || *end || i >= n) {
                                r = asprintf(ret_reason, "no element \"%s\" in %s (an array of %zu)", k,
                                             where, n);
                                return r < 0 ? -ENOMEM : -ENOENT;
                        }
                        next = json_object_array_get_idx(cur, i);
                } else {
                        r = asprintf(ret_reason, "%s is %s, not an object or array", where,
                                     cur ? json_type_to_name(json_object_get_type(cur)) : "null");
                        return r < 0 ? -ENOMEM : -ENOENT;
                }

                cur = next;
                walked = (size_t) (k - copy) + strlen(k);
        }

        *ret = cur;
        return 0;
}

static void http_finish(FeedSource *s, CURLcode result) {
        _cleanup_(source_json_object_putp) json_object *root = NULL;
        _cleanup_free_ char *error = NULL, *reason = NULL;
        enum json_tokener_error jerr = json_tokener_success;
        json_object *v = NULL;
        long code = 0;
        const char *path = s->config->json_path;
        int r;

        (void) curl_easy_getinfo(s->http->easy, CURLINFO_RESPONSE_CODE, &code);

        if (result == CURLE_OPERATION_TIMEDOUT)
                r = source_errorf(&error, s, "timed out after %g s", (double) s->config->timeout_usec / 1e6);
        else if (result == CURLE_WRITE_ERROR && s->http->body.too_large)
                r = source_errorf(&error, s, "response larger than %u bytes", FEED_SOURCE_OUTPUT_MAX);
        else if (result != CURLE_OK)
                r = source_errorf(&error, s, "%s",
                                  s->http->curl_error[0] ? s->http->curl_error : curl_easy_strerror(result));
        else if (code < 200 || code > 299)
                r = source_errorf(&error, s, "HTTP %ld", code);
        else {
                root = json_tokener_parse_verbose(s->http->body.data ?: "", &jerr);
                if (!root && jerr != json_tokener_success)
                        r = source_errorf(&error, s, "response is not JSON (%s): %s",
                                          json_tokener_error_desc(jerr),
                                          SDLOOP_QUOTE_N(s->http->body.data ?: "", s->http->body.size));
                else {
                        r = source_json_path_lookup(root, path, &v, &reason);
                        if (r == -ENOMEM)
                                goto finish;
                        if (r < 0)
                                r = source_errorf(&error, s, "json_path %s: %s", path, reason);
                        else if (json_object_is_type(v, json_type_int) && source_json_int_is_clamped(v))
                                r = source_errorf(&error, s, "json_path %s: integer too large for a JSON "
                                                  "number (serve it as a decimal string)", path);
                        else if (json_object_is_type(v, json_type_int) ||
                                 json_object_is_type(v, json_type_double) ||
                                 json_object_is_type(v, json_type_string)) {
                                _cleanup_free_ char *what = NULL;
                                _cleanup_free_ char *text = strdup(json_object_get_string(v));

                                source_buffer_reset(&s->http->body);
                                if (!text ||
                                    asprintf(&what, "json_path %s", isempty(path) ? "\"\"" : path) < 0)
                                        goto finish;
                                json_object_put(TAKE_PTR(root));
                                source_complete_text(s, what, text);
                                return;
                        } else
                                r = source_errorf(&error, s, "json_path %s: %s, expected a number or a "
                                                  "decimal string",
                                                  isempty(path) ? "\"\"" : path,
                                                  v ? json_type_to_name(json_object_get_type(v)) : "null");
                }
        }
        if (r < 0)
                error = mfree(error);

finish:
        source_buffer_reset(&s->http->body);
        source_complete(s, NULL, error);
}

static int http_setup(FeedSource *s) {
        const FeedSourceConfig *c = s->config;

        int r;

        r = curl_event_new(s->event, "feed-source-http", on_transfer_done, s, &s->http->curl);
        if (r < 0)
                return r;
        s->http->easy = curl_easy_init();
        if (!s->http->easy)
                return -ENOMEM;

        s->http->curl_headers = curl_slist_append(NULL, "Accept: application/json");
        if (!s->http->curl_headers)
                return -ENOMEM;
        for (char **h = c->headers; h && *h; h++) {
                struct curl_slist *l = curl_slist_append(s->http->curl_headers, *h);

                if (!l)
                        return -ENOMEM;
                s->http->curl_headers = l;
        }

        if (curl_easy_setopt(s->http->easy, CURLOPT_URL, c->url) != CURLE_OK ||
            curl_easy_setopt(s->http->easy, CURLOPT_HTTPHEADER, s->http->curl_headers) != CURLE_OK ||
            curl_easy_setopt(s->http->easy, CURLOPT_WRITEFUNCTION, curl_write_cb) != CURLE_OK ||
            curl_easy_setopt(s->http->easy, CURLOPT_WRITEDATA, s) != CURLE_OK ||
            curl_easy_setopt(s->http->easy, CURLOPT_ERRORBUFFER, s->http->curl_error) != CURLE_OK ||
            curl_easy_setopt(s->http->easy, CURLOPT_TIMEOUT_MS, (long) (c->timeout_usec / USEC_PER_MSEC)) !=
                    CURLE_OK ||
            curl_easy_setopt(s->http->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(s->http->easy, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
            curl_easy_setopt(s->http->easy, CURLOPT_MAXREDIRS, 5L) != CURLE_OK ||
            curl_easy_setopt(s->http->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(s->http->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(s->http->easy, CURLOPT_USERAGENT, "sdloop/" SDLOOP_VERSION) != CURLE_OK)
                return -EIO;
        return 0;
}

static int http_fetch(FeedSource *s, uint64_t step) {
        int r;

        if (!s->http) {
                s->http = new0(SourceHttp, 1);
                if (!s->http)
                        return -ENOMEM;
        }
        if (!s->http->curl) {
                r = http_setup(s);
                if (r < 0)
                        return r;
        }

        source_buffer_reset(&s->http->body);
        s->http->curl_error[0] = '\0';
        /* The transfer starts from the timer libcurl asks for, i.e. from the loop. */
        return curl_event_add(s->http->curl, s->http->easy);
}

static void http_cancel(FeedSource *s) {
        if (!s->http)
                return;
        if (s->http->curl && s->http->easy)
                curl_event_remove(s->http->curl, s->http->easy);
        source_buffer_reset(&s->http->body);
}

static void http_release(FeedSource *s) {
        if (!s->http)
                return;
        http_cancel(s);
        /* The multi handle first: it must not outlive the easy handle it had. */
        s->http->curl = curl_event_free(s->http->curl);
        if (s->http->easy)
                curl_easy_cleanup(s->http->easy);
        s->http->easy = NULL;
        curl_slist_free_all(s->http->curl_headers);
        s->http = mfree(s->http);
}

static const char * const http_keys[] = { "type", "name", "url", "json_path", "timeout_sec", "headers", "multiplier",
                                          NULL };

const SourceVTable source_http_vtable = {
        .keys = http_keys,
        .parse = http_parse,
        .fetch = http_fetch,
        .cancel = http_cancel,
        .release = http_release,
};
