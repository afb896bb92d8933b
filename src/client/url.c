/*
 * URL helpers for OAuth discovery. Parsing and the host rules (loopback, https-or-loopback) are
 * src/net's (mcp__url_parse, mcp__url_is_secure); this file only builds the well-known URIs in
 * the order the MCP authorization spec (2025-11-25) and RFC 8414 / RFC 9728 / OpenID Discovery
 * prescribe, and compares resources.
 */
#include "client/internal.h"

#include <curl/curl.h>
#include <string.h>

/* Drop one trailing slash of a path ("/t/" -> "/t"); "" stays "". */
static char *
path_no_trailing_slash(const char *path)
{
    size_t n = strlen(path);
    while (n > 0 && path[n - 1] == '/')
        n--;
    return mcp__strndup(path, n);
}

size_t
mcp__prm_urls(const char *server_url, const char *resource_metadata,
              char *out[MCP__MAX_DISCOVERY_URLS])
{
    size_t n = 0;
    for (size_t i = 0; i < MCP__MAX_DISCOVERY_URLS; i++)
        out[i] = NULL;
    if (resource_metadata != NULL && resource_metadata[0] != '\0') {
        out[0] = mcp__strdup(resource_metadata);
        return out[0] ? 1 : 0;
    }
    mcp__url u;
    if (mcp__url_parse(server_url, &u) != MCP_OK)
        return 0;
    char *origin = mcp__url_origin(&u);
    char *path = path_no_trailing_slash(u.path);
    if (origin != NULL && path != NULL) {
        if (path[0] != '\0')
            out[n++] = mcp__aprintf("%s/.well-known/oauth-protected-resource%s", origin, path);
        out[n++] = mcp__aprintf("%s/.well-known/oauth-protected-resource", origin);
    }
    mcp__free(origin);
    mcp__free(path);
    mcp__url_cleanup(&u);
    for (size_t i = 0; i < n; i++)
        if (out[i] == NULL) {                /* out of memory: report nothing */
            for (size_t j = 0; j < n; j++) {
                mcp__free(out[j]);
                out[j] = NULL;
            }
            return 0;
        }
    return n;
}

size_t
mcp__as_metadata_urls(const char *issuer, char *out[MCP__MAX_DISCOVERY_URLS])
{
    size_t n = 0;
    for (size_t i = 0; i < MCP__MAX_DISCOVERY_URLS; i++)
        out[i] = NULL;
    mcp__url u;
    if (mcp__url_parse(issuer, &u) != MCP_OK)
        return 0;
    char *origin = mcp__url_origin(&u);
    char *path = path_no_trailing_slash(u.path);
    if (origin != NULL && path != NULL) {
        if (path[0] != '\0') {
            /* RFC 8414 section 3.1 inserts the well-known segment between host and path;
             * OpenID Connect Discovery 1.0 appends it to the issuer. */
            out[n++] = mcp__aprintf("%s/.well-known/oauth-authorization-server%s", origin, path);
            out[n++] = mcp__aprintf("%s/.well-known/openid-configuration%s", origin, path);
            out[n++] = mcp__aprintf("%s%s/.well-known/openid-configuration", origin, path);
        } else {
            out[n++] = mcp__aprintf("%s/.well-known/oauth-authorization-server", origin);
            out[n++] = mcp__aprintf("%s/.well-known/openid-configuration", origin);
        }
    }
    mcp__free(origin);
    mcp__free(path);
    mcp__url_cleanup(&u);
    for (size_t i = 0; i < n; i++)
        if (out[i] == NULL) {
            for (size_t j = 0; j < n; j++) {
                mcp__free(out[j]);
                out[j] = NULL;
            }
            return 0;
        }
    return n;
}

static const char *
effective_port(const mcp__url *u)
{
    if (u->port != NULL)
        return u->port;
    return strcmp(u->scheme, "https") == 0 ? "443" : "80";
}

bool
mcp__resource_matches(const char *resource, const char *server_url)
{
    mcp__url r, s;
    if (mcp__url_parse(resource, &r) != MCP_OK)
        return false;
    if (mcp__url_parse(server_url, &s) != MCP_OK) {
        mcp__url_cleanup(&r);
        return false;
    }
    bool ok = strcmp(r.scheme, s.scheme) == 0 && strcmp(r.host, s.host) == 0 &&
              strcmp(effective_port(&r), effective_port(&s)) == 0;
    if (ok) {
        size_t rn = strlen(r.path);
        while (rn > 0 && r.path[rn - 1] == '/')
            rn--;
        /* The resource path must be a prefix of the server path, ending on a '/' boundary. */
        ok = strncmp(r.path, s.path, rn) == 0 && (s.path[rn] == '\0' || s.path[rn] == '/');
    }
    mcp__url_cleanup(&r);
    mcp__url_cleanup(&s);
    return ok;
}

char *
mcp__url_canonical_resource(const char *url)
{
    const char *hash = strchr(url, '#');
    return hash ? mcp__strndup(url, (size_t)(hash - url)) : mcp__strdup(url);
}

char *
mcp__url_query_param(const char *url, const char *name)
{
    const char *q = strchr(url, '?');
    if (q == NULL)
        return NULL;
    q++;
    const char *end = strchr(q, '#');
    if (end == NULL)
        end = q + strlen(q);
    size_t nlen = strlen(name);
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        const char *kend = eq ? eq : stop;
        if ((size_t)(kend - q) == nlen && memcmp(q, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : stop;
            size_t vlen = (size_t)(stop - v);
            /* '+' means space in form encoding; curl_easy_unescape does not know that. */
            char *raw = mcp__strndup(v, vlen);
            if (raw == NULL)
                return NULL;
            for (char *p = raw; *p; p++)
                if (*p == '+')
                    *p = ' ';
            int outlen = 0;
            char *dec = curl_easy_unescape(NULL, raw, (int)vlen, &outlen);
            mcp__free(raw);
            if (dec == NULL)
                return NULL;
            char *res = NULL;
            if (memchr(dec, '\0', (size_t)outlen) == NULL)   /* reject embedded NUL */
                res = mcp__strndup(dec, (size_t)outlen);
            curl_free(dec);
            return res;
        }
        q = stop + (amp ? 1 : 0);
        if (!amp)
            break;
    }
    return NULL;
}

bool
mcp__url_has_base(const char *url, const char *base)
{
    size_t n = strlen(base);
    if (strncmp(url, base, n) != 0)
        return false;
    return url[n] == '\0' || url[n] == '?' || url[n] == '#';
}

char *
mcp__form_encode(const char *s)
{
    /* RFC 3986 unreserved characters pass; everything else is %XX (space too, which is also
     * valid form encoding and avoids '+' ambiguity). */
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    if (n > SIZE_MAX / 3 - 1)
        return NULL;
    char *out = mcp__alloc(n * 3 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

mcp_status
mcp__form_add(mcp_buf *b, const char *name, const char *value)
{
    if (value == NULL)
        return MCP_OK;
    char *ev = mcp__form_encode(value);
    if (ev == NULL)
        return MCP_ERR_NOMEM;
    /* Appended piecewise, not through a printf scratch buffer, so the only copy of a secret
     * is b itself (which the caller wipes). */
    mcp_status rc = b->len > 0 ? mcp__buf_append(b, "&", 1) : MCP_OK;
    if (rc == MCP_OK)
        rc = mcp__buf_appends(b, name);
    if (rc == MCP_OK)
        rc = mcp__buf_append(b, "=", 1);
    if (rc == MCP_OK)
        rc = mcp__buf_appends(b, ev);
    mcp_memzero(ev, strlen(ev));             /* values may be secrets */
    mcp__free(ev);
    return rc;
}
