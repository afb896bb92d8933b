/*
 * URL helpers for OAuth discovery. libcurl's URL API (curl_url) does the parsing; this file only
 * builds the well-known URIs in the order the MCP authorization spec (2025-11-25) and RFC 8414 /
 * RFC 9728 / OpenID Discovery prescribe, and compares resources.
 */
#include "client/internal.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <string.h>

static char *
dup_lower(const char *s)
{
    char *d = mcp__strdup(s);
    if (d != NULL)
        for (char *p = d; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
    return d;
}

void
mcp__url_cleanup(mcp__url *u)
{
    if (u == NULL)
        return;
    mcp__free(u->scheme);
    mcp__free(u->host);
    mcp__free(u->port);
    mcp__free(u->path);
    mcp__free(u->query);
    memset(u, 0, sizeof *u);
}

mcp_status
mcp__url_parse(const char *url, mcp__url *u)
{
    memset(u, 0, sizeof *u);
    if (url == NULL || strlen(url) > 8192)
        return MCP_ERR_INVALID_ARG;
    CURLU *h = curl_url();
    if (h == NULL)
        return MCP_ERR_NOMEM;
    mcp_status rc = MCP_ERR_INVALID_ARG;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto out;
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        goto out;
    (void)curl_url_get(h, CURLUPART_PORT, &port, 0);      /* absent: default port */
    (void)curl_url_get(h, CURLUPART_PATH, &path, 0);
    (void)curl_url_get(h, CURLUPART_QUERY, &query, 0);
    rc = MCP_ERR_NOMEM;
    u->scheme = dup_lower(scheme);
    u->host = dup_lower(host);
    u->port = port ? mcp__strdup(port) : NULL;
    /* curl reports "/" for a URL without a path; the well-known rules treat both as "none". */
    u->path = mcp__strdup(path && strcmp(path, "/") != 0 ? path : "");
    u->query = query ? mcp__strdup(query) : NULL;
    if (u->scheme && u->host && u->path && (!port || u->port) && (!query || u->query))
        rc = MCP_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(h);
    if (rc != MCP_OK)
        mcp__url_cleanup(u);
    return rc;
}

char *
mcp__url_origin(const mcp__url *u)
{
    if (u->port)
        return mcp__aprintf("%s://%s:%s", u->scheme, u->host, u->port);
    return mcp__aprintf("%s://%s", u->scheme, u->host);
}

bool
mcp__url_is_loopback(const mcp__url *u)
{
    /* Only names that cannot leave the machine: "localhost" exactly, the IPv6 loopback, and a
     * numeric IPv4 address in 127.0.0.0/8. A name that merely starts with "127." (such as
     * 127.0.0.1.nip.io or 127.attacker.example) is an ordinary DNS name. */
    const char *h = u->host;
    if (strcmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0 || strcmp(h, "::1") == 0)
        return true;
    struct in_addr a;
    return inet_pton(AF_INET, h, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool
mcp__url_is_secure(const char *url, bool allow_http)
{
    mcp__url u;
    if (mcp__url_parse(url, &u) != MCP_OK)
        return false;
    bool ok = strcmp(u.scheme, "https") == 0 || allow_http || mcp__url_is_loopback(&u);
    mcp__url_cleanup(&u);
    return ok;
}

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
