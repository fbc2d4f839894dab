/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One Prometheus text exposition (version 0.0.4) assembled from several: sdloopd's own figures and each
 * plugin's Metrics.Collect() answer, every sample of the latter labelled plugin="<name>". The format wants
 * each metric family once, with one HELP and TYPE, so samples are grouped by family across sources. A
 * plugin is untrusted: its text is parsed strictly (names, labels, values), bounded in size, and a plugin
 * whose text does not parse contributes nothing but an error count. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What one plugin may hand over per scrape. */
#define METRICS_TEXT_SOURCE_MAX (4U * 1024U * 1024U)

typedef struct MetricsText MetricsText;

int metrics_text_new(MetricsText **ret);
MetricsText *metrics_text_free(MetricsText *t);
static inline void metrics_text_freep(MetricsText **t) {
        if (*t)
                metrics_text_free(*t);
}

/* Declare a family (type: "counter", "gauge", "histogram", "summary", "untyped"). Declaring it again with
 * another type fails with -EEXIST. */
int metrics_text_family(MetricsText *t, const char *name, const char *type, const char *help);
/* One sample of a declared family: @sample is the family's name or name_bucket/_sum/_count/_created;
 * @labels the text inside the braces, already escaped ("plugin=\"ledger\",reason=\"busy\""), or NULL. */
int metrics_text_sample(MetricsText *t, const char *family, const char *sample, const char *labels, double value);
/* Escape @s as a label value into @buf (backslash, double quote, newline). */
const char *metrics_label_escape(const char *s, char *buf, size_t size);

/* Merge @text, labelled with @label_name="@label_value" ahead of its own labels (a label of the same name
 * in @text is renamed exported_<name>, as Prometheus does). -EBADMSG with *ret_line set: the text did not
 * parse there, and nothing of it was taken. */
int metrics_text_merge(MetricsText *t, const char *text, size_t size, const char *label_name, const char *label_value,
                       unsigned *ret_line);

int metrics_text_render(MetricsText *t, char **ret, size_t *ret_size);
