/*
 * URI templates, RFC 6570 level 1 with one path segment per variable. The dispatcher (which
 * resource a URI reads) and the authorization policy (which rule covers that URI) both match
 * templates; they share this one matcher so that a policy can never cover a different set of
 * URIs than the handler it guards serves.
 */
#include "common/common.h"

#include <string.h>

bool
mcp__uri_template_match_vars(const char *tmpl, const char *uri, mcp__uri_var_fn fn, void *ctx)
{
    const char *t = tmpl, *u = uri;
    while (*t) {
        if (*t == '{') {
            const char *end = strchr(t, '}');
            if (end == NULL)
                return false;
            const char *lit = end + 1;     /* the literal that follows the variable */
            const char *v = u;
            while (*u && *u != '/' && (*lit == '\0' || *u != *lit))
                u++;
            if (u == v)
                return false;
            if (fn != NULL)
                fn(ctx, t + 1, (size_t)(end - t - 1), v, (size_t)(u - v));
            t = lit;
        } else {
            if (*t != *u)
                return false;
            t++;
            u++;
        }
    }
    return *u == '\0';
}

bool
mcp__uri_template_match(const char *tmpl, const char *uri)
{
    return mcp__uri_template_match_vars(tmpl, uri, NULL, NULL);
}

size_t
mcp__uri_template_specificity(const char *t, bool *ok)
{
    size_t lit = 0;
    *ok = true;
    while (*t) {
        if (*t == '{') {
            const char *e = t + 1;
            while (*e && *e != '}' && *e != '{')
                e++;
            if (*e != '}' || e == t + 1) {
                *ok = false;
                return 0;
            }
            t = e + 1;
        } else if (*t == '}') {
            *ok = false;
            return 0;
        } else {
            lit++;
            t++;
        }
    }
    return lit;
}
