/*
 * libFuzzer target: what the client's OAuth discovery parses out of documents a remote MCP
 * server or authorization server controls (protected-resource metadata, RFC 9728; AS
 * metadata, RFC 8414). jansson parses the JSON; our code parses the URLs in it. The input is
 * a JSON object in the shape of both documents ({"resource", "authorization_servers",
 * "issuer", "*_endpoint", "resource_metadata"}); each string value goes through what
 * oauth_discovery.c / url.c do with it: resource vs server URL matching, canonical resource,
 * the PRM and AS metadata URL lists, issuer comparison, the https-or-loopback rule, URL
 * parsing and origins, query parameters (the authorization callback).
 */
#include "client/internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const servers[] = {
    "https://mcp.example.com/mcp", "http://127.0.0.1:8080/mcp", "https://[::1]:9/a/b/",
};

static void
one_url(const char *s)
{
    for (size_t i = 0; i < sizeof servers / sizeof servers[0]; i++) {
        (void)mcp__resource_matches(s, servers[i]);
        (void)mcp__same_issuer(s, servers[i]);
        (void)mcp__url_has_base(s, servers[i]);
        char *urls[MCP__MAX_DISCOVERY_URLS];
        size_t n = mcp__prm_urls(servers[i], s, urls);
        if (n > MCP__MAX_DISCOVERY_URLS)
            abort();
        for (size_t k = 0; k < n; k++)
            mcp__free(urls[k]);
    }
    char *c = mcp__url_canonical_resource(s);
    if (c != NULL && strlen(c) > strlen(s))
        abort();
    mcp__free(c);
    char *murls[MCP__MAX_DISCOVERY_URLS];
    size_t mn = mcp__as_metadata_urls(s, murls);
    if (mn > MCP__MAX_DISCOVERY_URLS)
        abort();
    for (size_t k = 0; k < mn; k++)
        mcp__free(murls[k]);
    (void)mcp__url_is_secure(s, false);
    (void)mcp__net_url_classify(s, false);
    mcp__url u;
    if (mcp__url_parse(s, &u) == MCP_OK) {
        char *o = mcp__url_origin(&u);
        (void)mcp__url_is_loopback(&u);
        mcp__free(o);
        mcp__url_cleanup(&u);
    }
    char *q = mcp__url_query_param(s, "code");
    mcp__free(q);
    q = mcp__url_query_param(s, "state");
    mcp__free(q);
}

static void
walk(const json_t *v, int depth)
{
    if (depth > 4)
        return;
    if (json_is_string(v)) {
        one_url(json_string_value(v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (i >= 16)
                break;
            walk(e, depth + 1);
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *e;
        size_t n = 0;
        json_object_foreach((json_t *)v, k, e) {
            if (n++ >= 32)
                break;
            walk(e, depth + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL) {
        /* not JSON: treat the bytes as one URL (a challenge's resource_metadata) */
        char *s = malloc(size + 1);
        if (s == NULL)
            return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        one_url(s);
        free(s);
        return 0;
    }
    walk(doc, 0);
    json_decref(doc);
    return 0;
}
