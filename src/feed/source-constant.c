/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The constant source: {"type": "constant", "value": "123"}, scaled once when parsed. */

#include "source-internal.h"

#define SUBFIELD(key)                                                   \
        _cleanup_free_ char *f_##key = source_field_join(field, #key);  \
        if (!f_##key)                                                   \
                return -ENOMEM;

static int constant_parse(FeedSourceConfig *c, json_object *j, const char *field, char **ret_error) {
        json_object *v;
        int r;
        const char *reason = NULL;
        SUBFIELD(value);

        if (!json_object_object_get_ex(j, "value", &v))
                return feed_field_error(ret_error, field, "missing \"value\"");
        if (json_object_is_type(v, json_type_int)) {
                if (source_json_int_is_clamped(v))
                        return feed_field_error(ret_error, f_value, "too large for a JSON "
                                                     "integer here, write it as a string");
        } else if (!json_object_is_type(v, json_type_string) &&
                   !json_object_is_type(v, json_type_double))
                return feed_field_error(ret_error, f_value, "expected a decimal as a string");
        r = feed_decimal_scale(json_object_get_string(v), c->has_multiplier, c->exponent,
                                    &c->constant, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return feed_field_error(ret_error, f_value, "%s: %s",
                                             SDLOOP_QUOTE(json_object_get_string(v)), reason);
        return 0;
}
#undef SUBFIELD

static int constant_fetch(FeedSource *s, uint64_t step) {
        char *v = strdup(s->config->constant);

        if (!v)
                return -ENOMEM;
        return source_complete_later(s, v, NULL);
}

static const char * const constant_keys[] = { "type", "name", "value", "multiplier", NULL };

const SourceVTable source_constant_vtable = {
        .keys = constant_keys,
        .parse = constant_parse,
        .fetch = constant_fetch,
};
