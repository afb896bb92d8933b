/*
 * WWW-Authenticate parsing (RFC 9110 section 11.6.1):
 *
 *   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 *
 * A header may hold several challenges separated by commas, and the same comma separates the
 * parameters of one challenge, so a bare token not followed by "=" starts the next challenge.
 * We only keep the Bearer challenge's parameters (RFC 6750 section 3, RFC 9728 section 5.1).
 * This is a small tokenizer, not a general HTTP parser: libcurl already split the header lines.
 */
#include "client/internal.h"

#include <string.h>

static bool
is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
is_t68char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~+/", c) != NULL);
}

static void
skip_ows(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

static size_t
token_len(const char *p)
{
    size_t n = 0;
    while (is_tchar(p[n]))
        n++;
    return n;
}

/* Parse a quoted-string at *p (which points at the opening quote); new unescaped string. */
static mcp_status
quoted(const char **p, char **out)
{
    const char *s = *p + 1;
    mcp_buf b;
    mcp__buf_init(&b, MCP__WWW_AUTH_MAX);
    mcp_status rc = mcp__buf_append(&b, "", 0);
    for (; rc == MCP_OK; s++) {
        if (*s == '\0') {
            rc = MCP_ERR_PARSE;              /* unterminated */
            break;
        }
        if (*s == '"') {
            s++;
            break;
        }
        if (*s == '\\') {
            s++;
            if (*s == '\0') {
                rc = MCP_ERR_PARSE;
                break;
            }
        }
        rc = mcp__buf_append(&b, s, 1);
    }
    if (rc != MCP_OK) {
        mcp__buf_cleanup(&b);
        return rc;
    }
    *p = s;
    *out = mcp__buf_steal(&b, NULL);
    return *out ? MCP_OK : MCP_ERR_NOMEM;
}

static bool
name_is(const char *name, size_t n, const char *want)
{
    if (strlen(want) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char a = name[i], b = want[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a + 32);
        if (a != b)
            return false;
    }
    return true;
}

static void
store(mcp__bearer_challenge *c, const char *name, size_t n, char *value)
{
    char **slot = NULL;
    if (name_is(name, n, "error"))
        slot = &c->error;
    else if (name_is(name, n, "error_description"))
        slot = &c->error_description;
    else if (name_is(name, n, "scope"))
        slot = &c->scope;
    else if (name_is(name, n, "resource_metadata"))
        slot = &c->resource_metadata;
    else if (name_is(name, n, "realm"))
        slot = &c->realm;
    if (slot == NULL || *slot != NULL) {     /* unknown or repeated parameter: first one wins */
        mcp__free(value);
        return;
    }
    *slot = value;
}

void
mcp__bearer_challenge_cleanup(mcp__bearer_challenge *c)
{
    if (c == NULL)
        return;
    mcp__free(c->error);
    mcp__free(c->error_description);
    mcp__free(c->scope);
    mcp__free(c->resource_metadata);
    mcp__free(c->realm);
    memset(c, 0, sizeof *c);
}

mcp_status
mcp__www_auth_parse(const char *header, mcp__bearer_challenge *c)
{
    memset(c, 0, sizeof *c);
    if (header == NULL)
        return MCP_ERR_NOT_FOUND;
    if (strlen(header) > MCP__WWW_AUTH_MAX)
        return MCP_ERR_TOO_LARGE;
    const char *p = header;
    bool found = false;
    mcp_status rc = MCP_OK;

    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        size_t sn = token_len(p);
        if (sn == 0) {
            rc = MCP_ERR_PARSE;
            goto out;
        }
        /* RFC 9449 section 7.1: a DPoP challenge carries the same parameters. */
        bool bearer = (name_is(p, sn, "bearer") || name_is(p, sn, "dpop")) && !found;
        const char *scheme = p;
        p += sn;
        skip_ows(&p);
        /* token68 directly after the scheme (e.g. "Basic dXNlcg=="): skip it. */
        {
            const char *q = p;
            size_t tn = 0;
            while (is_t68char(q[tn]))
                tn++;
            size_t eq = 0;
            while (q[tn + eq] == '=')
                eq++;
            const char *after = q + tn + eq;
            while (*after == ' ' || *after == '\t')
                after++;
            if (tn > 0 && (*after == '\0' || *after == ',') &&
                !(eq == 1 && token_len(q) == tn)) {
                /* "x=" with exactly one '=' and a token before it is an empty auth-param, not
                 * token68; anything else ending the challenge here is token68. */
                p = after;
                if (bearer) {
                    found = true;
                    c->dpop = name_is(scheme, sn, "dpop");
                }
                continue;
            }
        }
        /* auth-params */
        for (;;) {
            skip_ows(&p);
            const char *save = p;
            size_t nn = token_len(p);
            if (nn == 0)
                break;
            const char *name = p;
            p += nn;
            skip_ows(&p);
            if (*p != '=') {                 /* a new challenge starts here */
                p = save;
                break;
            }
            p++;
            skip_ows(&p);
            char *value = NULL;
            if (*p == '"') {
                rc = quoted(&p, &value);
                if (rc != MCP_OK)
                    goto out;
            } else {
                size_t vn = token_len(p);
                value = mcp__strndup(p, vn);
                if (value == NULL) {
                    rc = MCP_ERR_NOMEM;
                    goto out;
                }
                p += vn;
            }
            if (bearer)
                store(c, name, nn, value);
            else
                mcp__free(value);
            skip_ows(&p);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p != '\0') {
                rc = MCP_ERR_PARSE;
                goto out;
            }
            break;
        }
        if (bearer) {
            found = true;
            c->dpop = name_is(scheme, sn, "dpop");
        }
        if (p == header) {                   /* no progress: malformed */
            rc = MCP_ERR_PARSE;
            goto out;
        }
    }
out:
    if (rc != MCP_OK) {
        mcp__bearer_challenge_cleanup(c);
        return rc;
    }
    if (!found)
        return MCP_ERR_NOT_FOUND;
    return MCP_OK;
}
