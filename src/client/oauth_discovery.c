/*
 * Discovery (MCP authorization 2025-11-25): from the challenge's resource_metadata, or the
 * well-known locations, the protected-resource metadata (RFC 9728); from it the authorization
 * server and its metadata (RFC 8414 / OpenID Discovery, path insertion first). 2025-03-26
 * servers without resource metadata fall back to the server's origin and default endpoints.
 * Every endpoint taken must be https (or loopback); a pinned issuer is checked before any
 * request reaches another authorization server.
 */
#include "client/internal.h"

#include <string.h>

static mcp_status
take_endpoint(mcp_oauth *o, char **dst, const char *url, const char *what, bool required,
              mcp_error *err)
{
    if (url == NULL) {
        if (required)
            return mcp_error_set(err, MCP_ERR_PROTOCOL,
                                 "authorization server metadata lacks %s", what);
        return MCP_OK;
    }
    if (!mcp__url_is_secure(url, o->allow_http))
        return mcp_error_set(err, MCP_ERR_PROTOCOL,
                             "%s is neither https nor loopback; refusing it", what);
    return mcp__set_str(dst, url) == MCP_OK ? MCP_OK
                                       : mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
}

mcp_status
mcp__oauth_discover(mcp_oauth *o, const char *resource_metadata, mcp_error *err)
{
    if (o->discovered)
        return MCP_OK;
    mcp__oauth_reset_discovery(o);
    char *urls[MCP__MAX_DISCOVERY_URLS];
    json_t *prm = NULL, *meta = NULL;
    mcp_status rc = MCP_OK;
    size_t n = mcp__prm_urls(o->server_url, resource_metadata, urls);
    if (n == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "cannot build metadata URLs for %s",
                             o->server_url);
    mcp_error e;
    for (size_t i = 0; i < n && prm == NULL; i++) {
        rc = mcp__oauth_get_json(o, urls[i], &prm, &e);
        if (rc != MCP_OK && resource_metadata != NULL) {
            /* The server named this document explicitly; failing to read it is an error. */
            mcp_error_set(err, rc, "protected resource metadata: %s", e.message);
            goto out;
        }
        if (o->verbose && rc != MCP_OK)
            mcp__log(MCP__LOG_INFO, "oauth", "no protected resource metadata at %s", urls[i]);
    }
    rc = MCP_OK;
    if (prm != NULL) {
        const char *res = mcp__json_str(prm, "resource");
        if (res == NULL) {
            rc = mcp_error_set(err, MCP_ERR_PROTOCOL,
                               "protected resource metadata has no \"resource\"");
            goto out;
        }
        if (!mcp__resource_matches(res, o->server_url)) {
            /* RFC 9728 section 3.3 / MCP: never send credentials for another resource. */
            rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                               "protected resource metadata names a different resource than %s",
                               o->server_url);
            goto out;
        }
        o->resource = mcp__url_canonical_resource(res);
        const json_t *as = json_object_get(prm, "authorization_servers");
        const json_t *first = json_array_get(as, 0);
        if (!json_is_string(first)) {
            rc = mcp_error_set(err, MCP_ERR_PROTOCOL,
                               "protected resource metadata lists no authorization server");
            goto out;
        }
        const json_t *chosen = first;
        if (o->opt_issuer != NULL) {
            /* The MCP server only names the AS; with an issuer pinned we take that one if it
             * is listed and refuse otherwise, before any request to an AS we were not told to
             * trust (it would receive our client credentials). */
            size_t i;
            const json_t *v;
            chosen = NULL;
            json_array_foreach(as, i, v)
                if (chosen == NULL && json_is_string(v) &&
                    mcp__same_issuer(json_string_value(v), o->opt_issuer))
                    chosen = v;
            if (chosen == NULL) {
                char named[160];
                mcp__sanitize(json_string_value(first), named, sizeof named);
                rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                                   "the server names authorization server %s, not the pinned "
                                   "issuer %s; refusing to use it", named, o->opt_issuer);
                goto out;
            }
        }
        if (json_is_array(json_object_get(prm, "dpop_signing_alg_values_supported")) ||
            json_is_true(json_object_get(prm, "dpop_bound_access_tokens_required")))
            o->rs_dpop = true;
        const json_t *scopes = json_object_get(prm, "scopes_supported");
        if (json_is_array(scopes) && json_array_size(scopes) > 0)
            o->prm_scopes = json_incref((json_t *)scopes);
        o->issuer = mcp__strdup(json_string_value(chosen));
        if (o->resource == NULL || o->issuer == NULL) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            goto out;
        }
        char *murls[MCP__MAX_DISCOVERY_URLS];
        size_t mn = mcp__as_metadata_urls(o->issuer, murls);
        bool refused = false;
        for (size_t i = 0; i < mn; i++) {
            if (meta == NULL && !refused) {
                mcp_status r2 = mcp__oauth_get_json(o, murls[i], &meta, &e);
                if (r2 == MCP_ERR_FORBIDDEN) {
                    /* the address rule: the same host for the other locations, stop here */
                    refused = true;
                    rc = mcp_error_set(err, r2, "authorization server metadata: %s", e.message);
                } else if (r2 != MCP_OK && o->verbose) {
                    mcp__log(MCP__LOG_INFO, "oauth", "no AS metadata at %s", murls[i]);
                }
            }
            mcp__free(murls[i]);
        }
        if (refused)
            goto out;
        if (meta == NULL) {
            rc = mcp_error_set(err, MCP_ERR_PROTOCOL,
                               "no authorization server metadata found for %s", o->issuer);
            goto out;
        }
        const char *iss = mcp__json_str(meta, "issuer");
        if (iss == NULL || !mcp__same_issuer(iss, o->issuer)) {
            /* RFC 8414 section 3.3: the metadata must be about the issuer we asked for. */
            rc = mcp_error_set(err, MCP_ERR_PROTOCOL,
                               "authorization server metadata issuer does not match %s",
                               o->issuer);
            goto out;
        }
    } else {
        /* 2025-03-26 servers: no PRM. The authorization base URL is the server's origin;
         * metadata at its RFC 8414 root location, else the default endpoints. */
        mcp__url u;
        if (mcp__url_parse(o->server_url, &u) != MCP_OK) {
            rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "bad server URL");
            goto out;
        }
        char *origin = mcp__url_origin(&u);
        mcp__url_cleanup(&u);
        if (o->opt_issuer != NULL && (origin == NULL || !mcp__same_issuer(origin, o->opt_issuer))) {
            /* Here the MCP server is its own authorization server: with another issuer pinned
             * there is nothing we may trust. */
            mcp__free(origin);
            rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                               "the server publishes no protected resource metadata and is not "
                               "the pinned issuer %s; refusing to authorize there",
                               o->opt_issuer);
            goto out;
        }
        char *murl = origin ? mcp__aprintf("%s/.well-known/oauth-authorization-server", origin)
                            : NULL;
        if (murl != NULL && mcp__oauth_get_json(o, murl, &meta, &e) != MCP_OK)
            meta = NULL;
        mcp__free(murl);
        o->legacy = true;
        o->resource = mcp__url_canonical_resource(o->server_url);
        const char *miss = meta != NULL ? mcp__json_str(meta, "issuer") : NULL;
        o->issuer = mcp__strdup(miss != NULL ? miss : (origin ? origin : ""));
        if (o->issuer != NULL && !mcp__oauth_issuer_allowed(o, o->issuer)) {
            mcp__free(origin);
            rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                               "authorization server metadata issuer is not the pinned issuer "
                               "%s; refusing to use it", o->opt_issuer);
            goto out;
        }
        if (meta == NULL && origin != NULL) {
            char *a = mcp__aprintf("%s/authorize", origin);
            char *t = mcp__aprintf("%s/token", origin);
            char *r = mcp__aprintf("%s/register", origin);
            rc = take_endpoint(o, &o->authz_ep, a, "authorization_endpoint", true, err);
            if (rc == MCP_OK)
                rc = take_endpoint(o, &o->token_ep, t, "token_endpoint", true, err);
            if (rc == MCP_OK)
                rc = take_endpoint(o, &o->reg_ep, r, "registration_endpoint", false, err);
            mcp__free(a);
            mcp__free(t);
            mcp__free(r);
            if (o->verbose)
                mcp__log(MCP__LOG_INFO, "oauth", "no metadata; using default endpoints at %s",
                         origin);
        }
        mcp__free(origin);
        if (o->resource == NULL || o->issuer == NULL) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (rc != MCP_OK)
            goto out;
    }
    if (meta != NULL) {
        rc = take_endpoint(o, &o->authz_ep, mcp__json_str(meta, "authorization_endpoint"),
                           "authorization_endpoint",
                           o->grant == MCP_OAUTH_GRANT_AUTHORIZATION_CODE, err);
        if (rc == MCP_OK)
            rc = take_endpoint(o, &o->token_ep, mcp__json_str(meta, "token_endpoint"),
                               "token_endpoint", true, err);
        if (rc == MCP_OK)
            rc = take_endpoint(o, &o->reg_ep, mcp__json_str(meta, "registration_endpoint"),
                               "registration_endpoint", false, err);
        if (rc != MCP_OK)
            goto out;
        o->as_meta = meta;
        meta = NULL;
    }
    if (o->refresh_token != NULL &&
        (o->token_issuer == NULL || !mcp__same_issuer(o->token_issuer, o->issuer))) {
        /* A refresh token is only ever presented to the AS that issued it. */
        if (o->verbose)
            mcp__log(MCP__LOG_INFO, "oauth", "dropping a refresh token from another issuer");
        mcp__free_secret(&o->refresh_token);
    }
    o->discovered = true;
out:
    for (size_t i = 0; i < n; i++)
        mcp__free(urls[i]);
    json_decref(prm);
    json_decref(meta);
    return rc;
}
