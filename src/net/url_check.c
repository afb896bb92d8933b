/*
 * The https-or-loopback rule for URLs the auth layer fetches from. JWKS fetching and token
 * introspection each had a copy; one copy means the two cannot drift apart (say, one learning
 * a new loopback spelling and the other not).
 */
#include "net/net.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static bool
is_loopback_host(const char *host)
{
    if (mcp__strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
        strcmp(host, "::1") == 0)
        return true;
    /* 127.0.0.0/8 written as a dotted quad */
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 &&
           c < 256 && d < 256;
}

mcp_status
mcp__auth_url_check(const char *url, bool allow_insecure, const mcp__auth_url_msgs *msgs,
                    mcp_error *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    mcp_status rc = MCP_OK;
    if (u == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s", msgs->invalid);
    else if (mcp__strcasecmp(scheme, "https") == 0)
        rc = MCP_OK;
    else if (mcp__strcasecmp(scheme, "http") != 0)
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s", msgs->not_http);
    else if (!allow_insecure && !is_loopback_host(host))
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s", msgs->insecure);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}
