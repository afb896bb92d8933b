/*
 * Authorization server metadata discovery: from an issuer identifier to its jwks_uri and
 * introspection_endpoint, by OpenID Connect Discovery 1.0 (section 4: ISSUER +
 * "/.well-known/openid-configuration") and then RFC 8414 (section 3: "/.well-known/oauth-
 * authorization-server" inserted between the host and the issuer's path). The document's
 * `issuer` must equal the configured issuer exactly (OIDC Discovery 4.3, RFC 8414 3.3), or an
 * attacker serving the well-known path could point us at keys of their choosing.
 *
 * The URLs in the document obey the same rule as a configured JWKS URL: https, or http to a
 * loopback host unless allow_insecure_jwks_url.
 */
#include "jwt/internal.h"
#include "net/net.h"

#include <string.h>

#define DISCOVERY_MAX (64u << 10)

static const mcp__net_url_msgs issuer_msgs = {
    .invalid = "issuer is not a valid URL",
    .not_http = "issuer must be an http(s) URL",
    .insecure = "issuer must be https (http only for loopback hosts)",
};

/* The metadata URL of one kind for issuer (new string), or NULL (memory). */
static char *
well_known(const char *issuer, bool oidc)
{
    size_t n = strlen(issuer);
    while (n > 0 && issuer[n - 1] == '/')
        n--;
    if (oidc)
        return mcp__aprintf("%.*s/.well-known/openid-configuration", (int)n, issuer);
    const char *hs = strstr(issuer, "://");
    size_t origin = hs != NULL ? (size_t)(hs + 3 - issuer) + strcspn(hs + 3, "/") : n;
    if (origin > n)
        origin = n;
    return mcp__aprintf("%.*s/.well-known/oauth-authorization-server%.*s", (int)origin, issuer,
                        (int)(n - origin), issuer + origin);
}

/* A string member that is a URL under the rule, copied into *out; absent leaves *out NULL. */
static mcp_status
url_member(const json_t *doc, const char *name, bool allow_insecure, char **out, mcp_error *err)
{
    const json_t *v = json_object_get(doc, name);
    if (v == NULL)
        return MCP_OK;
    if (!json_is_string(v) || mcp__net_url_classify(json_string_value(v), allow_insecure) !=
                                  MCP__NET_URL_OK)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "metadata %s is not an https URL (http "
                             "only for loopback hosts)", name);
    if ((*out = mcp__strdup(json_string_value(v))) == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    return MCP_OK;
}

/* One metadata document: fetched, parsed, issuer checked, the two URLs taken. */
static mcp_status
try_one(const char *issuer, const char *url, const mcp__net_req *base, char **jwks,
        char **intro, mcp_error *err)
{
    mcp__net_req rq = *base;
    rq.url = url;
    mcp__net_resp resp;
    mcp_status rc = mcp__net_fetch(&rq, &resp, err);
    if (rc == MCP_ERR_NOMEM || rc == MCP_ERR_INTERNAL)
        return rc;
    if (rc != MCP_OK)
        return mcp_error_set(err, MCP_ERR_IO, "%s: %s", url,
                             rc == MCP_ERR_TOO_LARGE ? "larger than 64 KiB" : resp.detail);
    json_t *doc = NULL;
    if (resp.status != 200) {
        rc = mcp_error_set(err, MCP_ERR_IO, "%s: HTTP status %ld", url, resp.status);
    } else if ((doc = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, NULL)) ==
                   NULL || !json_is_object(doc)) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s: not a JSON object", url);
    } else if (!json_is_string(json_object_get(doc, "issuer")) ||
               strcmp(json_string_value(json_object_get(doc, "issuer")), issuer) != 0) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s: its \"issuer\" is not %s", url,
                           issuer);
    } else if ((rc = url_member(doc, "jwks_uri", rq.rule == MCP__NET_HTTP_ANY, jwks, err)) ==
                   MCP_OK) {
        rc = url_member(doc, "introspection_endpoint", rq.rule == MCP__NET_HTTP_ANY, intro, err);
    }
    json_decref(doc);
    mcp__net_resp_cleanup(&resp);
    return rc;
}

mcp_status
mcp__jwt_discover(const char *issuer, bool allow_insecure, unsigned timeout_ms,
                  bool (*abort_fn)(void *), void *abort_ctx, char **jwks_uri,
                  char **introspection, mcp_error *err)
{
    *jwks_uri = NULL;
    if (introspection != NULL)
        *introspection = NULL;
    mcp_status rc = mcp__net_url_check(issuer, allow_insecure, &issuer_msgs, err);
    if (rc != MCP_OK)
        return rc;
    static const char *const headers[] = { "Accept: application/json", NULL };
    mcp__net_req base = {
        .headers = headers,
        .user_agent = "libmcp/" MCP_VERSION_STRING,
        .max_body = DISCOVERY_MAX,
        .connect_timeout_ms = timeout_ms,
        .timeout_ms = timeout_ms,
        .max_redirects = 0,
        .rule = allow_insecure ? MCP__NET_HTTP_ANY : MCP__NET_HTTPS_OR_LOOPBACK,
        .abort_fn = abort_fn,
        .abort_ctx = abort_ctx,
    };
    char first[MCP_ERROR_MSG_MAX] = "";
    for (int oidc = 1; oidc >= 0; oidc--) {
        char *url = well_known(issuer, oidc != 0);
        char *jw = NULL, *in = NULL;
        if (url == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        rc = try_one(issuer, url, &base, &jw, &in, err);
        mcp__free(url);
        if (rc == MCP_OK) {
            *jwks_uri = jw;
            if (introspection != NULL)
                *introspection = in;
            else
                mcp__free(in);
            return MCP_OK;
        }
        mcp__free(jw);
        mcp__free(in);
        if (rc == MCP_ERR_NOMEM || rc == MCP_ERR_INTERNAL)
            return rc;
        if (oidc && err != NULL)
            snprintf(first, sizeof first, "%s", err->message);
    }
    if (err != NULL && first[0] != '\0') {
        char second[MCP_ERROR_MSG_MAX];
        snprintf(second, sizeof second, "%s", err->message);
        mcp_error_set(err, rc, "discovery of %s failed: %s; %s", issuer, first, second);
    }
    return rc;
}

mcp_status
mcp_jwt_discover(const char *issuer, const mcp_jwt_opts *opts, char **jwks_uri,
                 char **introspection_endpoint, mcp_error *err)
{
    if (issuer == NULL || jwks_uri == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    mcp_jwt_opts def;
    if (opts == NULL) {
        mcp_jwt_opts_default(&def);
        opts = &def;
    }
    return mcp__jwt_discover(issuer, opts->allow_insecure_jwks_url,
                             opts->jwks_timeout_ms ? opts->jwks_timeout_ms : 5000, NULL, NULL,
                             jwks_uri, introspection_endpoint, err);
}
