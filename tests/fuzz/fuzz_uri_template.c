/*
 * libFuzzer target: URI templates (src/common/uri_template.c). The input is "template\nURI"
 * (both untrusted: templates come from registration and policy files, URIs from
 * resources/read). Checks the matcher's variable views lie inside their buffers and that
 * a template with a bad specificity never matches. Must never crash, hang or leak.
 */
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

typedef struct span {
    const char *tmpl, *uri;
    size_t tlen, ulen;
} span;

static void
on_var(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
    const span *s = ctx;
    if (name < s->tmpl || name + nlen > s->tmpl + s->tlen)
        abort();                                   /* name view outside the template */
    if (val < s->uri || val + vlen > s->uri + s->ulen)
        abort();                                   /* value view outside the URI */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *nl = memchr(buf, '\n', size);
    const char *uri = "";
    if (nl != NULL) {
        *nl = '\0';
        uri = nl + 1;
    }
    span s = { buf, uri, strlen(buf), strlen(uri) };
    bool ok;
    size_t spec = mcp__uri_template_specificity(buf, &ok);
    if (!ok && spec != 0)
        abort();
    bool m1 = mcp__uri_template_match(buf, uri);
    bool m2 = mcp__uri_template_match_vars(buf, uri, on_var, &s);
    if (m1 != m2)
        abort();                                   /* the two entry points must agree */
    free(buf);
    return 0;
}
