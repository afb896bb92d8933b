/*
 * URL parsing and host rules for outbound requests. libcurl's URL API (curl_url) does the
 * parsing; this file decides. There is one loopback predicate and one https-or-loopback rule:
 * JWKS fetching, token introspection and the client's OAuth discovery each had a copy (one
 * still matched "127." as a prefix), and copies drift apart.
 */
#include "net/net.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <string.h>

#define MAX_URL 8192

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
    if (url == NULL || strlen(url) > MAX_URL)
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
    return mcp__host_is_loopback(u->host);
}

mcp__net_url_verdict
mcp__net_url_classify(const char *url, bool allow_insecure)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    mcp__net_url_verdict v = MCP__NET_URL_OK;
    if (u == NULL)
        return MCP__NET_URL_NOMEM;
    if (url == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        v = MCP__NET_URL_INVALID;
    else if (mcp__strcasecmp(scheme, "https") == 0)
        v = MCP__NET_URL_OK;
    else if (mcp__strcasecmp(scheme, "http") != 0)
        v = MCP__NET_URL_NOT_HTTP;
    else if (!allow_insecure && !mcp__host_is_loopback(host))
        v = MCP__NET_URL_INSECURE;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return v;
}

bool
mcp__url_is_secure(const char *url, bool allow_http)
{
    return url != NULL && strlen(url) <= MAX_URL &&
           mcp__net_url_classify(url, allow_http) == MCP__NET_URL_OK;
}

mcp_status
mcp__net_url_check(const char *url, bool allow_insecure, const mcp__net_url_msgs *msgs,
                   mcp_error *err)
{
    switch (mcp__net_url_classify(url, allow_insecure)) {
    case MCP__NET_URL_OK: return MCP_OK;
    case MCP__NET_URL_INVALID: return mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s", msgs->invalid);
    case MCP__NET_URL_NOT_HTTP:
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s", msgs->not_http);
    case MCP__NET_URL_INSECURE:
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s", msgs->insecure);
    case MCP__NET_URL_NOMEM: break;
    }
    return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
}
