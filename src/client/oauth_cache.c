/*
 * What the OAuth client keeps in the token cache file (token_cache.c reads and writes the file
 * safely): per resource URL the tokens with the issuer they came from and what a refresh needs
 * without discovery; per issuer the client we registered there. Tokens are only used with the
 * issuer that issued them and, with a pinned issuer, only that issuer's.
 */
#include "client/internal.h"

#include <string.h>

/* May we use authorization server iss (its tokens, its token endpoint)? Any, unless pinned. */
bool
mcp__oauth_issuer_allowed(const mcp_oauth *o, const char *iss)
{
    return o->opt_issuer == NULL || mcp__same_issuer(iss, o->opt_issuer);
}

static void
cache_load(mcp_oauth *o)
{
    if (o->cache_path == NULL)
        return;
    json_t *doc = NULL;
    mcp_error e;
    if (mcp__token_cache_load(o->cache_path, &doc, &e) != MCP_OK) {
        mcp__log(MCP__LOG_WARN, "oauth", "token cache not used: %s", e.message);
        return;
    }
    const json_t *t = json_object_get(json_object_get(doc, "tokens"), o->server_url);
    const char *iss = mcp__json_str(t, "issuer");
    if (json_is_object(t) && (iss == NULL || !mcp__oauth_issuer_allowed(o, iss))) {
        /* Tokens are bound to the issuer they came from: without one we would not know where
         * a refresh may go, and a pinned issuer never sees tokens (or our client credentials
         * on refresh) from another. */
        mcp__log(MCP__LOG_WARN, "oauth", "cached tokens for %s not used: %s", o->server_url,
                 iss == NULL ? "no issuer recorded" : "issued by another authorization server");
        t = NULL;
    }
    if (json_is_object(t) && mcp__json_str(t, "access_token") != NULL) {
        (void)mcp__set_str(&o->access_token, mcp__json_str(t, "access_token"));
        (void)mcp__set_str(&o->token_issuer, iss);
        (void)mcp__set_str(&o->refresh_token, mcp__json_str(t, "refresh_token"));
        (void)mcp__set_str(&o->requested_scope, mcp__json_str(t, "scope"));
        json_t *exp = json_object_get(t, "expires_at");
        o->expires_at = json_is_integer(exp) ? (int64_t)json_integer_value(exp) : 0;
        /* What a refresh needs without running discovery again. */
        if (!o->discovered) {
            (void)mcp__set_str(&o->token_ep, mcp__json_str(t, "token_endpoint"));
            (void)mcp__set_str(&o->issuer, mcp__json_str(t, "issuer"));
            (void)mcp__set_str(&o->resource, mcp__json_str(t, "resource"));
        }
        if (o->client_id == NULL) {
            (void)mcp__set_str(&o->client_id, mcp__json_str(t, "client_id"));
            (void)mcp__set_str(&o->client_secret, mcp__json_str(t, "client_secret"));
            (void)mcp__set_str(&o->auth_method, mcp__json_str(t, "token_endpoint_auth_method"));
        }
    }
    json_decref(doc);
}

void
mcp__oauth_cache_store(mcp_oauth *o)
{
    /* DPoP-bound tokens need the in-memory key: a later process could not use them. */
    if (o->cache_path == NULL || o->access_token == NULL || o->dpop_bound)
        return;
    json_t *doc = NULL;
    mcp_error e;
    if (mcp__token_cache_load(o->cache_path, &doc, &e) != MCP_OK) {
        mcp__log(MCP__LOG_WARN, "oauth", "token cache not updated: %s", e.message);
        return;
    }
    json_t *tokens = json_object_get(doc, "tokens");
    if (!json_is_object(tokens)) {
        tokens = json_object();
        json_object_set_new(doc, "tokens", tokens);
    }
    json_t *t = json_object();
    if (t != NULL) {
        struct { const char *k; const char *v; } f[] = {
            { "access_token", o->access_token }, { "refresh_token", o->refresh_token },
            { "scope", o->requested_scope }, { "token_endpoint", o->token_ep },
            { "issuer", o->issuer }, { "resource", o->resource },
            { "client_id", o->client_id }, { "client_secret", o->client_secret },
            { "token_endpoint_auth_method", o->auth_method },
        };
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            if (f[i].v != NULL)
                json_object_set_new(t, f[i].k, json_string(f[i].v));
        if (o->expires_at > 0)
            json_object_set_new(t, "expires_at", json_integer((json_int_t)o->expires_at));
        json_object_set_new(tokens, o->server_url, t);
    }
    if (mcp__token_cache_save(o->cache_path, doc, &e) != MCP_OK)
        mcp__log(MCP__LOG_WARN, "oauth", "token cache not updated: %s", e.message);
    json_decref(doc);
}

void
mcp__oauth_cache_store_client(mcp_oauth *o, const char *redirect_uri)
{
    if (o->cache_path == NULL || o->issuer == NULL)
        return;
    json_t *doc = NULL;
    mcp_error e;
    if (mcp__token_cache_load(o->cache_path, &doc, &e) != MCP_OK)
        return;
    json_t *clients = json_object_get(doc, "clients");
    if (!json_is_object(clients)) {
        clients = json_object();
        json_object_set_new(doc, "clients", clients);
    }
    json_t *c = json_pack("{s:s, s:s, s:s}", "client_id", o->client_id, "redirect_uri",
                          redirect_uri, "token_endpoint_auth_method",
                          o->auth_method ? o->auth_method : "none");
    if (c != NULL && o->client_secret != NULL)
        json_object_set_new(c, "client_secret", json_string(o->client_secret));
    if (c != NULL)
        json_object_set_new(clients, o->issuer, c);
    (void)mcp__token_cache_save(o->cache_path, doc, &e);
    json_decref(doc);
}

/* Redirect URIs match when equal, or when both are loopback and differ only in the port
 * (RFC 8252 section 7.3: the AS must accept any port there). */
static bool
same_redirect(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    mcp__url ua, ub;
    if (mcp__url_parse(a, &ua) != MCP_OK)
        return false;
    if (mcp__url_parse(b, &ub) != MCP_OK) {
        mcp__url_cleanup(&ua);
        return false;
    }
    bool ok = mcp__url_is_loopback(&ua) && strcmp(ua.scheme, ub.scheme) == 0 &&
              strcmp(ua.host, ub.host) == 0 && strcmp(ua.path, ub.path) == 0;
    mcp__url_cleanup(&ua);
    mcp__url_cleanup(&ub);
    return ok;
}

bool
mcp__oauth_cache_load_client(mcp_oauth *o, const char *redirect_uri)
{
    if (o->cache_path == NULL || o->issuer == NULL)
        return false;
    json_t *doc = NULL;
    mcp_error e;
    if (mcp__token_cache_load(o->cache_path, &doc, &e) != MCP_OK)
        return false;
    const json_t *c = json_object_get(json_object_get(doc, "clients"), o->issuer);
    bool ok = false;
    if (json_is_object(c) && mcp__json_str(c, "client_id") && mcp__json_str(c, "redirect_uri") &&
        same_redirect(mcp__json_str(c, "redirect_uri"), redirect_uri)) {
        ok = mcp__set_str(&o->client_id, mcp__json_str(c, "client_id")) == MCP_OK &&
             mcp__set_str(&o->client_secret, mcp__json_str(c, "client_secret")) == MCP_OK &&
             mcp__set_str(&o->auth_method, mcp__json_str(c, "token_endpoint_auth_method")) ==
                 MCP_OK;
    }
    json_decref(doc);
    return ok;
}

mcp_status
mcp_oauth_logout(mcp_oauth *o, const char *resource_url, mcp_error *err)
{
    if (o == NULL || resource_url == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no OAuth client or URL");
    if (o->server_url != NULL && strcmp(o->server_url, resource_url) == 0)
        mcp__oauth_reset_tokens(o);
    if (o->cache_path == NULL)
        return MCP_OK;
    json_t *doc = NULL;
    mcp_status rc = mcp__token_cache_load(o->cache_path, &doc, err);
    if (rc != MCP_OK)
        return rc;
    json_t *tokens = json_object_get(doc, "tokens");
    if (json_is_object(tokens) && json_object_get(tokens, resource_url) != NULL) {
        json_object_del(tokens, resource_url);
        rc = mcp__token_cache_save(o->cache_path, doc, err);
    }
    json_decref(doc);
    return rc;
}

/* Switch the state to server_url (a client may reconnect elsewhere with the same object). */
mcp_status
mcp__oauth_use_server(mcp_oauth *o, const char *server_url)
{
    if (o->server_url != NULL && strcmp(o->server_url, server_url) == 0)
        return MCP_OK;
    mcp__oauth_reset_tokens(o);
    mcp__oauth_reset_discovery(o);
    mcp__free_secret(&o->client_secret);
    mcp__free(o->client_id);
    mcp__free(o->auth_method);
    o->client_id = o->auth_method = NULL;
    if (mcp__set_str(&o->server_url, server_url) != MCP_OK)
        return MCP_ERR_NOMEM;
    cache_load(o);
    return MCP_OK;
}
