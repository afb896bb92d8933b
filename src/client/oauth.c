/*
 * OAuth 2.1 client for MCP (authorization spec 2025-11-25, with the 2025-03-26 fallbacks).
 *
 * The session calls mcp__oauth_handle_challenge() when a request comes back 401/403. From the
 * challenge (WWW-Authenticate) we find the protected-resource metadata (RFC 9728), then the
 * authorization server's metadata (RFC 8414 / OpenID Discovery, path insertion first), pick a
 * client identity (pre-registered, client ID metadata document, or RFC 7591 registration),
 * run the grant (authorization code + PKCE S256 with state and RFC 8707 resource, client
 * credentials, or the SEP-990 token exchange), and keep the tokens (memory and, if configured, a
 * 0600 cache file). The session then retries the request once per successful call here; it
 * also bounds how often that may happen for one request.
 *
 * Secrets (tokens, client secret, PKCE verifier, ID token) are wiped when freed and never put
 * into error messages or logs; messages name the step that failed.
 */
#include "client/internal.h"

#include <curl/curl.h>
#include <string.h>

#define META_MAX ((size_t)1 << 20)
#define TOKEN_MAX ((size_t)64 * 1024)   /* one access/refresh token */
#define HEADLESS_MAX_HOPS 12
#define DEFAULT_REDIRECT "http://127.0.0.1/callback"

struct mcp_oauth {
    /* options */
    mcp_oauth_grant grant;
    mcp_oauth_login login;
    char *opt_client_id, *opt_client_secret, *client_metadata_url, *client_name;
    char *opt_auth_method, *private_key_pem, *signing_alg, *key_id, *opt_scope;
    char *opt_redirect_uri, *cache_path;
    char *opt_issuer;             /* pinned authorization server, or NULL */
    char *idp_id_token, *idp_token_endpoint, *idp_client_id, *idp_client_secret;
    bool offline_access, allow_http, verbose;
    unsigned max_auth, http_timeout_ms, login_timeout_ms;
    mcp_oauth_authorize_fn authorize;
    mcp_oauth_show_url_fn show_url;
    void *udata;

    /* tokens for server_url */
    char *server_url;
    char *access_token, *refresh_token, *requested_scope;
    char *token_issuer;           /* issuer the tokens above came from (refresh goes only there) */
    int64_t expires_at;           /* unix seconds, 0 = unknown */
    uint64_t refreshed_at_ms;     /* last successful refresh (monotonic) */

    /* discovery results */
    bool discovered, legacy;
    char *resource;               /* RFC 8707 resource indicator */
    json_t *prm_scopes;           /* PRM scopes_supported (array) or NULL */
    json_t *as_meta;              /* AS metadata, NULL in the endpoint fallback */
    char *issuer, *authz_ep, *token_ep, *reg_ep;

    /* client identity in use */
    char *client_id, *client_secret, *auth_method;

    unsigned count;
    void *cookie_curl;            /* headless login: a CURLSH keeping the AS's cookies */
};

/* ------------------------------------------------------------------------------------------ */
/* small helpers                                                                              */

static void
free_secret(char **s)
{
    if (*s != NULL) {
        mcp_memzero(*s, strlen(*s));
        mcp__free(*s);
        *s = NULL;
    }
}

static mcp_status
set_str(char **dst, const char *src)
{
    char *d = NULL;
    if (src != NULL && (d = mcp__strdup(src)) == NULL)
        return MCP_ERR_NOMEM;
    free_secret(dst);
    *dst = d;
    return MCP_OK;
}

static const char *
jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool
json_array_has(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    return false;
}

static bool
same_issuer(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    while (na > 0 && a[na - 1] == '/')
        na--;
    while (nb > 0 && b[nb - 1] == '/')
        nb--;
    return na == nb && strncmp(a, b, na) == 0;
}

/* Space-separated union of up to three scope strings, order of first appearance; NULL when
 * everything is empty. */
static char *
scope_union(const char *a, const char *b, const char *c)
{
    mcp_buf out;
    mcp__buf_init(&out, 8192);
    const char *parts[3] = { a, b, c };
    for (int k = 0; k < 3; k++) {
        const char *s = parts[k];
        while (s != NULL && *s != '\0') {
            while (*s == ' ')
                s++;
            const char *e = s;
            while (*e != '\0' && *e != ' ')
                e++;
            size_t n = (size_t)(e - s);
            if (n > 0) {
                bool dup = false;
                const char *t = out.ptr;
                while (t != NULL && *t != '\0') {
                    const char *te = strchr(t, ' ');
                    size_t tn = te ? (size_t)(te - t) : strlen(t);
                    if (tn == n && memcmp(t, s, n) == 0)
                        dup = true;
                    t = te ? te + 1 : NULL;
                }
                if (!dup && ((out.len > 0 && mcp__buf_append(&out, " ", 1) != MCP_OK) ||
                             mcp__buf_append(&out, s, n) != MCP_OK)) {
                    mcp__buf_cleanup(&out);
                    return NULL;
                }
            }
            s = e;
        }
    }
    if (out.len == 0) {
        mcp__buf_cleanup(&out);
        return NULL;
    }
    return mcp__buf_steal(&out, NULL);
}

static bool
scope_has(const char *scope, const char *want)
{
    size_t n = strlen(want);
    for (const char *s = scope; s != NULL && *s != '\0';) {
        const char *e = strchr(s, ' ');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == n && memcmp(s, want, n) == 0)
            return true;
        s = e ? e + 1 : NULL;
    }
    return false;
}

/* GET url and parse a JSON object; MCP_ERR_NOT_FOUND for any non-200 answer. */
static mcp_status
get_json(mcp_oauth *o, const char *url, json_t **out, mcp_error *err)
{
    *out = NULL;
    if (!mcp__url_is_secure(url, o->allow_http))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "refusing metadata URL that is neither https nor loopback: %s", url);
    mcp__http_req rq = { .method = "GET", .url = url, .accept = "application/json",
                         .max_body = META_MAX, .timeout_ms = o->http_timeout_ms,
                         .verbose = o->verbose };
    mcp__http_resp rs;
    mcp_status rc = mcp__http_fetch(&rq, &rs, err);
    if (rc != MCP_OK)
        return rc;
    if (rs.status != 200) {
        long st = rs.status;
        mcp__http_resp_cleanup(&rs);
        return mcp_error_set(err, MCP_ERR_NOT_FOUND, "%s answered HTTP %ld", url, st);
    }
    json_error_t je;
    json_t *j = json_loadb(rs.body, rs.body_len, 0, &je);
    mcp__http_resp_cleanup(&rs);
    if (!json_is_object(j)) {
        json_decref(j);
        return mcp_error_set(err, MCP_ERR_PARSE, "%s did not return a JSON object", url);
    }
    *out = j;
    return MCP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* lifecycle                                                                                  */

void
mcp_oauth_opts_default(mcp_oauth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->grant = MCP_OAUTH_GRANT_AUTHORIZATION_CODE;
    o->login = MCP_OAUTH_LOGIN_HEADLESS;
    o->offline_access = true;
    o->max_authorizations = 3;
    o->http_timeout_ms = 15000;
    o->login_timeout_ms = 300000;
}

static void
reset_discovery(mcp_oauth *o)
{
    o->discovered = o->legacy = false;
    mcp__free(o->resource);
    json_decref(o->prm_scopes);
    json_decref(o->as_meta);
    mcp__free(o->issuer);
    mcp__free(o->authz_ep);
    mcp__free(o->token_ep);
    mcp__free(o->reg_ep);
    o->resource = o->issuer = o->authz_ep = o->token_ep = o->reg_ep = NULL;
    o->prm_scopes = o->as_meta = NULL;
}

static void
reset_tokens(mcp_oauth *o)
{
    free_secret(&o->access_token);
    free_secret(&o->refresh_token);
    mcp__free(o->requested_scope);
    mcp__free(o->token_issuer);
    o->requested_scope = o->token_issuer = NULL;
    o->expires_at = 0;
    o->refreshed_at_ms = 0;
}

void
mcp_oauth_free(mcp_oauth *o)
{
    if (o == NULL)
        return;
    reset_tokens(o);
    reset_discovery(o);
    free_secret(&o->opt_client_secret);
    free_secret(&o->private_key_pem);
    free_secret(&o->idp_id_token);
    free_secret(&o->idp_client_secret);
    free_secret(&o->client_secret);
    char **plain[] = { &o->opt_client_id, &o->client_metadata_url, &o->client_name,
                       &o->opt_auth_method, &o->signing_alg, &o->key_id, &o->opt_scope,
                       &o->opt_redirect_uri, &o->cache_path, &o->idp_token_endpoint,
                       &o->idp_client_id, &o->server_url, &o->client_id, &o->auth_method,
                       &o->opt_issuer };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        mcp__free(*plain[i]);
    if (o->cookie_curl != NULL)
        curl_share_cleanup(o->cookie_curl);
    mcp__free(o);
}

mcp_status
mcp_oauth_new(const mcp_oauth_opts *opts, mcp_oauth **out, mcp_error *err)
{
    *out = NULL;
    mcp_oauth_opts def;
    if (opts == NULL) {
        mcp_oauth_opts_default(&def);
        opts = &def;
    }
    if (opts->grant > MCP_OAUTH_GRANT_TOKEN_EXCHANGE || opts->login > MCP_OAUTH_LOGIN_CALLBACK)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unknown grant or login mode");
    if (opts->login == MCP_OAUTH_LOGIN_CALLBACK && opts->authorize == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "login callback mode needs authorize");
    if (opts->private_key_pem != NULL) {
        mcp_status rc = mcp__jwt_check_key(opts->private_key_pem, opts->signing_alg, err);
        if (rc != MCP_OK)
            return rc;
    }
    const char *m = opts->token_endpoint_auth_method;
    if (m != NULL && strcmp(m, "client_secret_basic") != 0 &&
        strcmp(m, "client_secret_post") != 0 && strcmp(m, "none") != 0 &&
        strcmp(m, "private_key_jwt") != 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unknown token endpoint auth method");
    if (m != NULL && strcmp(m, "private_key_jwt") == 0 && opts->private_key_pem == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "private_key_jwt needs a private key");
    if (opts->issuer != NULL) {
        mcp__url iu;
        if (mcp__url_parse(opts->issuer, &iu) != MCP_OK)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                 "the pinned issuer is not an http(s) URL");
        mcp__url_cleanup(&iu);
    }
    mcp__curl_global_init();
    mcp_oauth *o = mcp__calloc(1, sizeof *o);
    if (o == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    o->grant = opts->grant;
    o->login = opts->login;
    o->offline_access = opts->offline_access;
    o->allow_http = opts->allow_insecure_http;
    o->verbose = opts->verbose;
    o->max_auth = opts->max_authorizations ? opts->max_authorizations : 3;
    o->http_timeout_ms = opts->http_timeout_ms ? opts->http_timeout_ms : 15000;
    o->login_timeout_ms = opts->login_timeout_ms ? opts->login_timeout_ms : 300000;
    o->authorize = opts->authorize;
    o->show_url = opts->show_url;
    o->udata = opts->udata;
    struct { char **dst; const char *src; } copies[] = {
        { &o->opt_client_id, opts->client_id },
        { &o->opt_client_secret, opts->client_secret },
        { &o->client_metadata_url, opts->client_metadata_url },
        { &o->client_name, opts->client_name ? opts->client_name : "libmcp client" },
        { &o->opt_auth_method, opts->token_endpoint_auth_method },
        { &o->private_key_pem, opts->private_key_pem },
        { &o->signing_alg, opts->signing_alg },
        { &o->key_id, opts->key_id },
        { &o->opt_scope, opts->scope },
        { &o->opt_redirect_uri, opts->redirect_uri },
        { &o->cache_path, opts->token_cache_path },
        { &o->idp_id_token, opts->idp_id_token },
        { &o->idp_token_endpoint, opts->idp_token_endpoint },
        { &o->idp_client_id, opts->idp_client_id },
        { &o->idp_client_secret, opts->idp_client_secret },
        { &o->opt_issuer, opts->issuer },
    };
    for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++)
        if (set_str(copies[i].dst, copies[i].src) != MCP_OK) {
            mcp_oauth_free(o);
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        }
    *out = o;
    return MCP_OK;
}

unsigned
mcp__oauth_max_authorizations(const mcp_oauth *o)
{
    return o ? o->max_auth : 0;
}

unsigned
mcp_oauth_authorization_count(const mcp_oauth *o)
{
    return o ? o->count : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* token cache                                                                                */

/* May we use authorization server iss (its tokens, its token endpoint)? Any, unless pinned. */
static bool
issuer_allowed(const mcp_oauth *o, const char *iss)
{
    return o->opt_issuer == NULL || same_issuer(iss, o->opt_issuer);
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
    const char *iss = jstr(t, "issuer");
    if (json_is_object(t) && (iss == NULL || !issuer_allowed(o, iss))) {
        /* Tokens are bound to the issuer they came from: without one we would not know where
         * a refresh may go, and a pinned issuer never sees tokens (or our client credentials
         * on refresh) from another. */
        mcp__log(MCP__LOG_WARN, "oauth", "cached tokens for %s not used: %s", o->server_url,
                 iss == NULL ? "no issuer recorded" : "issued by another authorization server");
        t = NULL;
    }
    if (json_is_object(t) && jstr(t, "access_token") != NULL) {
        (void)set_str(&o->access_token, jstr(t, "access_token"));
        (void)set_str(&o->token_issuer, iss);
        (void)set_str(&o->refresh_token, jstr(t, "refresh_token"));
        (void)set_str(&o->requested_scope, jstr(t, "scope"));
        json_t *exp = json_object_get(t, "expires_at");
        o->expires_at = json_is_integer(exp) ? (int64_t)json_integer_value(exp) : 0;
        /* What a refresh needs without running discovery again. */
        if (!o->discovered) {
            (void)set_str(&o->token_ep, jstr(t, "token_endpoint"));
            (void)set_str(&o->issuer, jstr(t, "issuer"));
            (void)set_str(&o->resource, jstr(t, "resource"));
        }
        if (o->client_id == NULL) {
            (void)set_str(&o->client_id, jstr(t, "client_id"));
            (void)set_str(&o->client_secret, jstr(t, "client_secret"));
            (void)set_str(&o->auth_method, jstr(t, "token_endpoint_auth_method"));
        }
    }
    json_decref(doc);
}

static void
cache_store(mcp_oauth *o)
{
    if (o->cache_path == NULL || o->access_token == NULL)
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

static void
cache_store_client(mcp_oauth *o, const char *redirect_uri)
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

static bool
cache_load_client(mcp_oauth *o, const char *redirect_uri)
{
    if (o->cache_path == NULL || o->issuer == NULL)
        return false;
    json_t *doc = NULL;
    mcp_error e;
    if (mcp__token_cache_load(o->cache_path, &doc, &e) != MCP_OK)
        return false;
    const json_t *c = json_object_get(json_object_get(doc, "clients"), o->issuer);
    bool ok = false;
    if (json_is_object(c) && jstr(c, "client_id") && jstr(c, "redirect_uri") &&
        same_redirect(jstr(c, "redirect_uri"), redirect_uri)) {
        ok = set_str(&o->client_id, jstr(c, "client_id")) == MCP_OK &&
             set_str(&o->client_secret, jstr(c, "client_secret")) == MCP_OK &&
             set_str(&o->auth_method, jstr(c, "token_endpoint_auth_method")) == MCP_OK;
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
        reset_tokens(o);
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
static mcp_status
use_server(mcp_oauth *o, const char *server_url)
{
    if (o->server_url != NULL && strcmp(o->server_url, server_url) == 0)
        return MCP_OK;
    reset_tokens(o);
    reset_discovery(o);
    free_secret(&o->client_secret);
    mcp__free(o->client_id);
    mcp__free(o->auth_method);
    o->client_id = o->auth_method = NULL;
    if (set_str(&o->server_url, server_url) != MCP_OK)
        return MCP_ERR_NOMEM;
    cache_load(o);
    return MCP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* discovery                                                                                  */

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
    return set_str(dst, url) == MCP_OK ? MCP_OK
                                       : mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
}

static mcp_status
discover(mcp_oauth *o, const char *resource_metadata, mcp_error *err)
{
    if (o->discovered)
        return MCP_OK;
    reset_discovery(o);
    char *urls[MCP__MAX_DISCOVERY_URLS];
    json_t *prm = NULL, *meta = NULL;
    mcp_status rc = MCP_OK;
    size_t n = mcp__prm_urls(o->server_url, resource_metadata, urls);
    if (n == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "cannot build metadata URLs for %s",
                             o->server_url);
    mcp_error e;
    for (size_t i = 0; i < n && prm == NULL; i++) {
        rc = get_json(o, urls[i], &prm, &e);
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
        const char *res = jstr(prm, "resource");
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
                    same_issuer(json_string_value(v), o->opt_issuer))
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
        for (size_t i = 0; i < mn; i++) {
            if (meta == NULL) {
                mcp_status r2 = get_json(o, murls[i], &meta, &e);
                if (r2 != MCP_OK && o->verbose)
                    mcp__log(MCP__LOG_INFO, "oauth", "no AS metadata at %s", murls[i]);
            }
            mcp__free(murls[i]);
        }
        if (meta == NULL) {
            rc = mcp_error_set(err, MCP_ERR_PROTOCOL,
                               "no authorization server metadata found for %s", o->issuer);
            goto out;
        }
        const char *iss = jstr(meta, "issuer");
        if (iss == NULL || !same_issuer(iss, o->issuer)) {
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
        if (o->opt_issuer != NULL && (origin == NULL || !same_issuer(origin, o->opt_issuer))) {
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
        if (murl != NULL && get_json(o, murl, &meta, &e) != MCP_OK)
            meta = NULL;
        mcp__free(murl);
        o->legacy = true;
        o->resource = mcp__url_canonical_resource(o->server_url);
        o->issuer = mcp__strdup(meta && jstr(meta, "issuer") ? jstr(meta, "issuer")
                                                             : (origin ? origin : ""));
        if (o->issuer != NULL && !issuer_allowed(o, o->issuer)) {
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
        rc = take_endpoint(o, &o->authz_ep, jstr(meta, "authorization_endpoint"),
                           "authorization_endpoint",
                           o->grant == MCP_OAUTH_GRANT_AUTHORIZATION_CODE, err);
        if (rc == MCP_OK)
            rc = take_endpoint(o, &o->token_ep, jstr(meta, "token_endpoint"), "token_endpoint",
                               true, err);
        if (rc == MCP_OK)
            rc = take_endpoint(o, &o->reg_ep, jstr(meta, "registration_endpoint"),
                               "registration_endpoint", false, err);
        if (rc != MCP_OK)
            goto out;
        o->as_meta = meta;
        meta = NULL;
    }
    if (o->refresh_token != NULL &&
        (o->token_issuer == NULL || !same_issuer(o->token_issuer, o->issuer))) {
        /* A refresh token is only ever presented to the AS that issued it. */
        if (o->verbose)
            mcp__log(MCP__LOG_INFO, "oauth", "dropping a refresh token from another issuer");
        free_secret(&o->refresh_token);
    }
    o->discovered = true;
out:
    for (size_t i = 0; i < n; i++)
        mcp__free(urls[i]);
    json_decref(prm);
    json_decref(meta);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* client identity and authentication                                                         */

static const json_t *
supported_methods(const mcp_oauth *o)
{
    return o->as_meta ? json_object_get(o->as_meta, "token_endpoint_auth_methods_supported")
                      : NULL;
}

/* RFC 8414 section 2: an absent list means client_secret_basic. */
static bool
method_supported(const mcp_oauth *o, const char *m)
{
    const json_t *l = supported_methods(o);
    if (!json_is_array(l))
        return strcmp(m, "client_secret_basic") == 0;
    return json_array_has(l, m);
}

static const char *
choose_method(const mcp_oauth *o, bool have_secret)
{
    if (o->opt_auth_method != NULL)
        return o->opt_auth_method;
    if (o->private_key_pem != NULL &&
        (method_supported(o, "private_key_jwt") || !json_is_array(supported_methods(o))))
        return "private_key_jwt";
    if (have_secret) {
        if (method_supported(o, "client_secret_basic"))
            return "client_secret_basic";
        if (method_supported(o, "client_secret_post"))
            return "client_secret_post";
        if (method_supported(o, "none"))
            return "none";
        return "client_secret_basic";
    }
    return "none";
}

static mcp_status
register_client(mcp_oauth *o, const char *redirect_uri, mcp_error *err)
{
    /* A native app is a public client: prefer "none" (PKCE protects the code) and only ask for
     * a secret when the AS does not take public clients. */
    const char *want = o->opt_auth_method ? o->opt_auth_method
                       : method_supported(o, "none")                ? "none"
                       : method_supported(o, "client_secret_basic") ? "client_secret_basic"
                       : method_supported(o, "client_secret_post")  ? "client_secret_post"
                                                                    : "none";
    json_t *body = json_pack("{s:s, s:[s], s:[s,s], s:[s], s:s, s:s}", "client_name",
                             o->client_name, "redirect_uris", redirect_uri, "grant_types",
                             "authorization_code", "refresh_token", "response_types", "code",
                             "token_endpoint_auth_method", want, "application_type", "native");
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    mcp__http_req rq = { .method = "POST", .url = o->reg_ep, .body = text,
                         .content_type = "application/json", .accept = "application/json",
                         .max_body = META_MAX, .timeout_ms = o->http_timeout_ms,
                         .verbose = o->verbose };
    mcp__http_resp rs;
    mcp_status rc = mcp__http_fetch(&rq, &rs, err);
    mcp__free(text);
    if (rc != MCP_OK)
        return rc;
    json_t *j = NULL;
    if (rs.status != 200 && rs.status != 201) {
        char desc[160] = "";
        json_error_t je;
        j = json_loadb(rs.body, rs.body_len, 0, &je);
        mcp__sanitize(jstr(j, "error") ? jstr(j, "error") : "", desc, sizeof desc);
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                           "dynamic client registration failed: HTTP %ld %s", rs.status, desc);
        goto out;
    }
    json_error_t je;
    j = json_loadb(rs.body, rs.body_len, 0, &je);
    const char *id = jstr(j, "client_id");
    if (id == NULL || strlen(id) > 1024) {
        rc = mcp_error_set(err, MCP_ERR_PROTOCOL, "registration response has no client_id");
        goto out;
    }
    const char *method = jstr(j, "token_endpoint_auth_method");
    if (set_str(&o->client_id, id) != MCP_OK ||
        set_str(&o->client_secret, jstr(j, "client_secret")) != MCP_OK ||
        set_str(&o->auth_method, method ? method : want) != MCP_OK) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (o->verbose)
        mcp__log(MCP__LOG_INFO, "oauth", "registered client %s (%s)", o->client_id,
                 o->auth_method);
    cache_store_client(o, redirect_uri);
out:
    if (j != NULL) {
        /* the response holds the client secret */
        json_t *sec = json_object_get(j, "client_secret");
        if (json_is_string(sec))
            mcp_memzero((void *)json_string_value(sec), json_string_length(sec));
    }
    json_decref(j);
    mcp__http_resp_cleanup(&rs);
    return rc;
}

/* Settle client_id / secret / auth method for this AS. */
static mcp_status
ensure_client(mcp_oauth *o, const char *redirect_uri, mcp_error *err)
{
    if (o->opt_client_id != NULL) {
        if (set_str(&o->client_id, o->opt_client_id) != MCP_OK ||
            set_str(&o->client_secret, o->opt_client_secret) != MCP_OK ||
            set_str(&o->auth_method, choose_method(o, o->opt_client_secret != NULL)) != MCP_OK)
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        return MCP_OK;
    }
    if (o->grant != MCP_OAUTH_GRANT_AUTHORIZATION_CODE)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "this grant needs a pre-registered client id");
    const json_t *cimd = o->as_meta ? json_object_get(o->as_meta,
                                                      "client_id_metadata_document_supported")
                                    : NULL;
    if (o->client_metadata_url != NULL && json_is_true(cimd)) {
        free_secret(&o->client_secret);
        if (set_str(&o->client_id, o->client_metadata_url) != MCP_OK ||
            set_str(&o->auth_method, o->private_key_pem ? "private_key_jwt" : "none") != MCP_OK)
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        return MCP_OK;
    }
    if (o->client_id != NULL)                 /* registered earlier for this server */
        return MCP_OK;
    if (cache_load_client(o, redirect_uri))
        return MCP_OK;
    if (o->reg_ep == NULL)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                             "the authorization server offers no client registration; "
                             "a pre-registered client id is needed");
    return register_client(o, redirect_uri, err);
}

typedef struct client_auth {
    char *user, *pass;     /* Basic credentials, form-encoded (RFC 6749 section 2.3.1) */
} client_auth;

static void
client_auth_cleanup(client_auth *a)
{
    free_secret(&a->user);
    free_secret(&a->pass);
}

static mcp_status
apply_client_auth(mcp_oauth *o, const char *client_id, const char *secret, const char *method,
                  mcp_buf *form, client_auth *a, mcp_error *err)
{
    memset(a, 0, sizeof *a);
    mcp_status rc = MCP_OK;
    if (strcmp(method, "client_secret_basic") == 0) {
        if (secret == NULL)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "client_secret_basic needs a secret");
        a->user = mcp__form_encode(client_id);
        a->pass = mcp__form_encode(secret);
        if (a->user == NULL || a->pass == NULL)
            rc = MCP_ERR_NOMEM;
    } else if (strcmp(method, "client_secret_post") == 0) {
        if (secret == NULL)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "client_secret_post needs a secret");
        rc = mcp__form_add(form, "client_id", client_id);
        if (rc == MCP_OK)
            rc = mcp__form_add(form, "client_secret", secret);
    } else if (strcmp(method, "private_key_jwt") == 0) {
        char *jwt = NULL;
        /* aud: the issuer identifier (RFC 7523 section 3 allows issuer or token endpoint). */
        rc = mcp__jwt_sign_assertion(o->private_key_pem, o->signing_alg, o->key_id, client_id,
                                     o->issuer ? o->issuer : o->token_ep, mcp__unix_now(), 300,
                                     &jwt, err);
        if (rc != MCP_OK)
            return rc;
        rc = mcp__form_add(form, "client_id", client_id);
        if (rc == MCP_OK)
            rc = mcp__form_add(form, "client_assertion_type",
                               "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        if (rc == MCP_OK)
            rc = mcp__form_add(form, "client_assertion", jwt);
        free_secret(&jwt);
    } else {                                  /* none: a public client identifies itself */
        rc = mcp__form_add(form, "client_id", client_id);
    }
    if (rc != MCP_OK) {
        client_auth_cleanup(a);
        return mcp_error_set(err, rc, "cannot build the token request");
    }
    return MCP_OK;
}

/* POST a form to url; parse a token response into *out (caller owns). */
static mcp_status
post_token(mcp_oauth *o, const char *url, const char *what, mcp_buf *form,
           const client_auth *a, json_t **out, mcp_error *err)
{
    *out = NULL;
    if (!mcp__url_is_secure(url, o->allow_http))
        return mcp_error_set(err, MCP_ERR_PROTOCOL, "%s is neither https nor loopback", what);
    mcp__http_req rq = { .method = "POST", .url = url, .body = form->ptr ? form->ptr : "",
                         .content_type = "application/x-www-form-urlencoded",
                         .accept = "application/json", .basic_user = a ? a->user : NULL,
                         .basic_pass = a ? a->pass : NULL, .max_body = META_MAX,
                         .timeout_ms = o->http_timeout_ms, .verbose = o->verbose };
    mcp__http_resp rs;
    mcp_status rc = mcp__http_fetch(&rq, &rs, err);
    if (rc != MCP_OK)
        return rc;
    json_error_t je;
    json_t *j = json_loadb(rs.body, rs.body_len, 0, &je);
    if (rs.status != 200) {
        char code[64] = "", desc[160] = "";
        mcp__sanitize(jstr(j, "error"), code, sizeof code);
        mcp__sanitize(jstr(j, "error_description"), desc, sizeof desc);
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                           "%s refused the request: HTTP %ld %s%s%s%s", what, rs.status, code,
                           desc[0] ? " (" : "", desc, desc[0] ? ")" : "");
        json_decref(j);
    } else if (!json_is_object(j) || jstr(j, "access_token") == NULL ||
               json_string_length(json_object_get(j, "access_token")) > TOKEN_MAX) {
        rc = mcp_error_set(err, MCP_ERR_PROTOCOL, "%s response has no usable access_token", what);
        json_decref(j);
    } else {
        *out = j;
    }
    mcp__http_resp_cleanup(&rs);
    return rc;
}

static void
wipe_json_secrets(json_t *j)
{
    static const char *const keys[] = { "access_token", "refresh_token", "id_token" };
    for (size_t i = 0; j != NULL && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(j, keys[i]);
        if (json_is_string(v))
            mcp_memzero((void *)json_string_value(v), json_string_length(v));
    }
}

/* Take access/refresh token and expiry from a token response. */
static mcp_status
accept_tokens(mcp_oauth *o, json_t *j, const char *scope, mcp_error *err)
{
    const char *type = jstr(j, "token_type");
    if (type == NULL || mcp__strcasecmp(type, "bearer") != 0)
        return mcp_error_set(err, MCP_ERR_PROTOCOL, "token endpoint issued a non-Bearer token");
    if (set_str(&o->access_token, jstr(j, "access_token")) != MCP_OK)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    bool same_as = o->token_issuer != NULL && o->issuer != NULL &&
                   same_issuer(o->token_issuer, o->issuer);
    if (!same_as)                   /* an old refresh token belongs to its own issuer */
        free_secret(&o->refresh_token);
    if (set_str(&o->token_issuer, o->issuer) != MCP_OK)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    const char *rt = jstr(j, "refresh_token");
    if (rt != NULL && strlen(rt) <= TOKEN_MAX && set_str(&o->refresh_token, rt) != MCP_OK)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    json_t *exp = json_object_get(j, "expires_in");
    o->expires_at = json_is_number(exp) && json_number_value(exp) > 0
                        ? mcp__unix_now() + (int64_t)json_number_value(exp)
                        : 0;
    const char *granted = jstr(j, "scope");
    (void)set_str(&o->requested_scope, scope ? scope : granted);
    cache_store(o);
    return MCP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* grants                                                                                     */

/* A form field; a NULL value leaves the field out (mcp__form_add). */
typedef struct form_field {
    const char *name, *value;
} form_field;

/* Append fields to form in order, stopping at the first failure. */
static mcp_status
form_add_fields(mcp_buf *form, const form_field *fields, size_t n)
{
    mcp_status rc = MCP_OK;
    for (size_t i = 0; rc == MCP_OK && i < n; i++)
        rc = mcp__form_add(form, fields[i].name, fields[i].value);
    return rc;
}

/* Release what a token request leaves behind: the response, the client authentication and the
 * form all may hold secrets, so each is wiped first. */
static void
token_request_cleanup(json_t *j, client_auth *a, mcp_buf *form)
{
    wipe_json_secrets(j);
    json_decref(j);
    client_auth_cleanup(a);
    if (form->ptr)
        mcp_memzero(form->ptr, form->len);
    mcp__buf_cleanup(form);
}

/* Redeem a grant at the token endpoint: add our client authentication (method) to form, post
 * it (what names the request in errors) and take the tokens from the answer (*j, for the
 * caller's token_request_cleanup). */
static mcp_status
redeem_grant(mcp_oauth *o, const char *method, const char *what, const char *scope,
             mcp_buf *form, client_auth *a, json_t **j, mcp_error *err)
{
    mcp_status rc = apply_client_auth(o, o->client_id, o->client_secret, method, form, a, err);
    if (rc == MCP_OK)
        rc = post_token(o, o->token_ep, what, form, a, j, err);
    if (rc == MCP_OK)
        rc = accept_tokens(o, *j, scope, err);
    return rc;
}

static mcp_status
refresh(mcp_oauth *o, mcp_error *err)
{
    if (o->refresh_token == NULL || o->token_ep == NULL || o->client_id == NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "no refresh token");
    /* The token endpoint in use must be the issuing AS's (and a pinned one). */
    if (o->token_issuer == NULL || o->issuer == NULL || !same_issuer(o->token_issuer, o->issuer) ||
        !issuer_allowed(o, o->issuer))
        return mcp_error_set(err, MCP_ERR_STATE,
                             "refresh token belongs to another authorization server");
    mcp_buf form;
    mcp__buf_init(&form, 256 * 1024);
    client_auth a = { 0 };
    json_t *j = NULL;
    const form_field fields[] = {
        { "grant_type", "refresh_token" },
        { "refresh_token", o->refresh_token },
        { "resource", o->resource },
    };
    mcp_status rc = form_add_fields(&form, fields, sizeof fields / sizeof fields[0]);
    if (rc != MCP_OK) {
        rc = mcp_error_set(err, rc, "cannot build the refresh request");
        goto out;
    }
    rc = redeem_grant(o, o->auth_method ? o->auth_method : "none", "token endpoint (refresh)",
                      o->requested_scope, &form, &a, &j, err);
    if (rc == MCP_OK) {
        o->refreshed_at_ms = mcp_now_ms();
        if (o->verbose)
            mcp__log(MCP__LOG_INFO, "oauth", "access token refreshed");
    }
out:
    token_request_cleanup(j, &a, &form);
    return rc;
}

static mcp_status
client_credentials(mcp_oauth *o, const char *scope, mcp_error *err)
{
    mcp_status rc = ensure_client(o, NULL, err);
    if (rc != MCP_OK)
        return rc;
    mcp_buf form;
    mcp__buf_init(&form, 256 * 1024);
    client_auth a = { 0 };
    json_t *j = NULL;
    const form_field fields[] = {
        { "grant_type", "client_credentials" },
        { "resource", o->resource },
        { "scope", scope },
    };
    rc = form_add_fields(&form, fields, sizeof fields / sizeof fields[0]);
    if (rc != MCP_OK) {
        rc = mcp_error_set(err, rc, "cannot build the token request");
        goto out;
    }
    o->count++;
    rc = redeem_grant(o, o->auth_method, "token endpoint", scope, &form, &a, &j, err);
out:
    token_request_cleanup(j, &a, &form);
    return rc;
}

/* SEP-990: exchange the IdP ID token for an ID-JAG (RFC 8693) at the IdP, then present it to
 * the MCP server's AS as a JWT authorization grant (RFC 7523). */
static mcp_status
token_exchange(mcp_oauth *o, const char *scope, mcp_error *err)
{
    if (o->idp_id_token == NULL || o->idp_token_endpoint == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "token exchange needs an IdP ID token and token endpoint");
    mcp_status rc = ensure_client(o, NULL, err);
    if (rc != MCP_OK)
        return rc;
    mcp_buf form;
    mcp__buf_init(&form, 256 * 1024);
    client_auth a = { 0 };
    json_t *j = NULL;
    char *jag = NULL;
    const form_field fields[] = {
        { "grant_type", "urn:ietf:params:oauth:grant-type:token-exchange" },
        { "requested_token_type", "urn:ietf:params:oauth:token-type:id-jag" },
        { "audience", o->issuer },
        { "resource", o->resource },
        { "scope", scope },
        { "subject_token", o->idp_id_token },
        { "subject_token_type", "urn:ietf:params:oauth:token-type:id_token" },
    };
    rc = form_add_fields(&form, fields, sizeof fields / sizeof fields[0]);
    if (rc != MCP_OK) {
        rc = mcp_error_set(err, rc, "cannot build the token exchange request");
        goto out;
    }
    if (o->idp_client_id != NULL) {
        rc = apply_client_auth(o, o->idp_client_id, o->idp_client_secret,
                               o->idp_client_secret ? "client_secret_basic" : "none", &form, &a,
                               err);
        if (rc != MCP_OK)
            goto out;
    }
    o->count++;
    rc = post_token(o, o->idp_token_endpoint, "IdP token exchange", &form, &a, &j, err);
    if (rc != MCP_OK)
        goto out;
    const char *itt = jstr(j, "issued_token_type");
    if (itt != NULL && strcmp(itt, "urn:ietf:params:oauth:token-type:id-jag") != 0) {
        rc = mcp_error_set(err, MCP_ERR_PROTOCOL, "IdP issued a token that is not an ID-JAG");
        goto out;
    }
    jag = mcp__strdup(jstr(j, "access_token"));
    wipe_json_secrets(j);
    json_decref(j);
    j = NULL;
    client_auth_cleanup(&a);
    mcp_memzero(form.ptr, form.len);
    mcp__buf_reset(&form);
    if (jag == NULL) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    const form_field grant[] = {
        { "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer" },
        { "assertion", jag },
        { "scope", scope },
    };
    rc = form_add_fields(&form, grant, sizeof grant / sizeof grant[0]);
    if (rc != MCP_OK) {
        rc = mcp_error_set(err, rc, "cannot build the JWT bearer grant");
        goto out;
    }
    rc = redeem_grant(o, o->auth_method, "token endpoint (jwt-bearer)", scope, &form, &a, &j,
                      err);
out:
    free_secret(&jag);
    token_request_cleanup(j, &a, &form);
    return rc;
}

/* Headless login: follow the AS's redirects one hop at a time (keeping its cookies) until one
 * points at redirect_uri; that Location carries code and state. */
static mcp_status
headless_login(mcp_oauth *o, const char *auth_url, const char *redirect_uri, char **callback,
               mcp_error *err)
{
    *callback = NULL;
    if (o->cookie_curl == NULL) {
        if ((o->cookie_curl = curl_share_init()) == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        curl_share_setopt(o->cookie_curl, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
    }
    char *url = mcp__strdup(auth_url);
    if (url == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    mcp_status rc = MCP_OK;
    for (int hop = 0; hop < HEADLESS_MAX_HOPS; hop++) {
        if (!mcp__url_is_secure(url, o->allow_http)) {
            rc = mcp_error_set(err, MCP_ERR_PROTOCOL,
                               "login redirected to a URL that is neither https nor loopback");
            break;
        }
        mcp__http_req rq = { .method = "GET", .url = url, .cookie_handle = o->cookie_curl,
                             .max_body = META_MAX, .timeout_ms = o->http_timeout_ms,
                             .verbose = false };
        mcp__http_resp rs;
        rc = mcp__http_fetch(&rq, &rs, err);
        if (rc != MCP_OK)
            break;
        if (rs.status < 300 || rs.status > 399 || rs.location == NULL) {
            char desc[160] = "";
            if (rs.status >= 400) {
                json_error_t je;
                json_t *j = json_loadb(rs.body, rs.body_len, 0, &je);
                mcp__sanitize(jstr(j, "error"), desc, sizeof desc);
                json_decref(j);
            }
            rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                               "headless login stopped at HTTP %ld %s(the authorization server "
                               "wants an interactive login; use the browser login)",
                               rs.status, desc);
            mcp__http_resp_cleanup(&rs);
            break;
        }
        if (o->verbose)
            mcp__log(MCP__LOG_INFO, "oauth", "login hop %d: HTTP %ld", hop + 1, rs.status);
        mcp__free(url);
        url = rs.location;
        rs.location = NULL;
        mcp__http_resp_cleanup(&rs);
        if (mcp__url_has_base(url, redirect_uri)) {
            *callback = url;
            return MCP_OK;
        }
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "headless login: too many redirects");
    }
    mcp__free(url);
    return rc;
}

static void
default_show_url(const char *url)
{
    fprintf(stderr, "To sign in, open this URL in your browser:\n\n  %s\n\n", url);
    fflush(stderr);
}

static mcp_status
authorization_code(mcp_oauth *o, const char *scope, mcp_error *err)
{
    if (o->as_meta != NULL) {
        /* MCP 2025-11-25: refuse to proceed when the AS does not advertise S256 (there is no
         * safe way to know it enforces PKCE otherwise). */
        const json_t *m = json_object_get(o->as_meta, "code_challenge_methods_supported");
        if (!json_array_has(m, "S256"))
            return mcp_error_set(err, MCP_ERR_UNSUPPORTED,
                                 "authorization server does not advertise PKCE S256; refusing");
    }
    if (o->authz_ep == NULL)
        return mcp_error_set(err, MCP_ERR_PROTOCOL, "no authorization endpoint");
    mcp__loopback *lb = NULL;
    char *redirect = NULL, *state = NULL, *auth_url = NULL, *callback = NULL;
    char *code = NULL, *got_state = NULL, *got_error = NULL, *got_iss = NULL;
    char verifier[MCP__PKCE_VERIFIER_LEN + 1] = "", challenge[44];
    mcp_buf q, form;
    mcp__buf_init(&q, 64 * 1024);
    mcp__buf_init(&form, 256 * 1024);
    client_auth a = { 0 };
    json_t *j = NULL;
    mcp_status rc;

    if (o->login == MCP_OAUTH_LOGIN_LOOPBACK) {
        rc = mcp__loopback_open(&lb, &redirect, err);
        if (rc != MCP_OK)
            goto out;
    } else {
        redirect = mcp__strdup(o->opt_redirect_uri ? o->opt_redirect_uri : DEFAULT_REDIRECT);
        if (redirect == NULL) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    rc = ensure_client(o, redirect, err);
    if (rc != MCP_OK)
        goto out;
    rc = mcp__pkce_verifier(verifier, err);
    if (rc != MCP_OK)
        goto out;
    if (mcp__pkce_challenge(verifier, challenge) != MCP_OK ||
        (state = mcp__random_token(16)) == NULL) {
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "cannot make PKCE / state values");
        goto out;
    }
    rc = mcp__buf_appends(&q, o->authz_ep);
    if (rc == MCP_OK)
        rc = mcp__buf_appends(&q, strchr(o->authz_ep, '?') ? "&" : "?");
    {
        /* form_add joins with '&' once the buffer is non-empty; add fields to a separate
         * buffer and append it to the endpoint. */
        const form_field params[] = {
            { "response_type", "code" },
            { "client_id", o->client_id },
            { "redirect_uri", redirect },
            { "state", state },
            { "code_challenge", challenge },
            { "code_challenge_method", "S256" },
            { "resource", o->resource },
            { "scope", scope },
        };
        mcp_buf p;
        mcp__buf_init(&p, 64 * 1024);
        if (rc == MCP_OK)
            rc = form_add_fields(&p, params, sizeof params / sizeof params[0]);
        if (rc == MCP_OK)
            rc = mcp__buf_append(&q, p.ptr, p.len);
        mcp__buf_cleanup(&p);
    }
    if (rc != MCP_OK) {
        rc = mcp_error_set(err, rc, "cannot build the authorization URL");
        goto out;
    }
    auth_url = mcp__buf_steal(&q, NULL);
    o->count++;
    if (o->verbose)
        mcp__log(MCP__LOG_INFO, "oauth", "authorization request #%u (scope: %s)", o->count,
                 scope ? scope : "(none)");
    switch (o->login) {
    case MCP_OAUTH_LOGIN_HEADLESS:
        rc = headless_login(o, auth_url, redirect, &callback, err);
        break;
    case MCP_OAUTH_LOGIN_LOOPBACK:
        if (o->show_url)
            o->show_url(o->udata, auth_url);
        else
            default_show_url(auth_url);
        rc = mcp__loopback_wait(lb, o->login_timeout_ms, &callback, err);
        break;
    case MCP_OAUTH_LOGIN_CALLBACK: {
        const char *cb = NULL;
        rc = o->authorize(o->udata, auth_url, redirect, &cb, err);
        if (rc == MCP_OK && (cb == NULL || (callback = mcp__strdup(cb)) == NULL))
            rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "login callback gave no URL");
        break;
    }
    }
    if (rc != MCP_OK)
        goto out;
    if (!mcp__url_has_base(callback, redirect)) {
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "login ended at an unexpected URL");
        goto out;
    }
    got_error = mcp__url_query_param(callback, "error");
    got_state = mcp__url_query_param(callback, "state");
    got_iss = mcp__url_query_param(callback, "iss");
    code = mcp__url_query_param(callback, "code");
    if (got_error != NULL) {
        char e[64], d[128] = "";
        char *desc = mcp__url_query_param(callback, "error_description");
        mcp__sanitize(got_error, e, sizeof e);
        mcp__sanitize(desc, d, sizeof d);
        mcp__free(desc);
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "authorization was denied: %s%s%s%s", e,
                           d[0] ? " (" : "", d, d[0] ? ")" : "");
        goto out;
    }
    if (got_state == NULL || !mcp_ct_equal(got_state, strlen(got_state), state, strlen(state))) {
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "authorization response state mismatch");
        goto out;
    }
    if (got_iss != NULL && !o->legacy && !same_issuer(got_iss, o->issuer)) {
        /* RFC 9207: a response from another issuer is a mix-up attack. */
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "authorization response issuer mismatch");
        goto out;
    }
    if (code == NULL || code[0] == '\0') {
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "authorization response has no code");
        goto out;
    }
    const form_field fields[] = {
        { "grant_type", "authorization_code" },
        { "code", code },
        { "redirect_uri", redirect },
        { "code_verifier", verifier },
        { "resource", o->resource },
    };
    rc = form_add_fields(&form, fields, sizeof fields / sizeof fields[0]);
    if (rc != MCP_OK) {
        rc = mcp_error_set(err, rc, "cannot build the token request");
        goto out;
    }
    rc = redeem_grant(o, o->auth_method, "token endpoint", scope, &form, &a, &j, err);
out:
    mcp__loopback_close(lb);
    mcp_memzero(verifier, sizeof verifier);
    token_request_cleanup(j, &a, &form);
    mcp__buf_cleanup(&q);
    free_secret(&code);
    free_secret(&callback);
    mcp__free(redirect);
    mcp__free(state);
    mcp__free(auth_url);
    mcp__free(got_state);
    mcp__free(got_error);
    mcp__free(got_iss);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* entry points for the session                                                               */

char *
mcp__oauth_auth_value(mcp_oauth *o, const char *server_url)
{
    if (o == NULL || use_server(o, server_url) != MCP_OK)
        return NULL;
    if (o->access_token != NULL && o->expires_at > 0 && mcp__unix_now() >= o->expires_at - 30) {
        mcp_error e;
        if (o->refresh_token == NULL || refresh(o, &e) != MCP_OK) {
            free_secret(&o->access_token);   /* expired: let the server challenge us */
            free_secret(&o->refresh_token);
        }
    }
    if (o->access_token == NULL)
        return NULL;
    return mcp__aprintf("Bearer %s", o->access_token);
}

mcp_status
mcp__oauth_handle_challenge(mcp_oauth *o, const char *server_url, long http_status,
                            const char *www_authenticate, mcp_error *err)
{
    if (o == NULL)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "no OAuth client configured");
    mcp_status rc = use_server(o, server_url);
    if (rc != MCP_OK)
        return mcp_error_set(err, rc, "out of memory");
    mcp__bearer_challenge ch;
    mcp_status prc = mcp__www_auth_parse(www_authenticate, &ch);
    if (prc != MCP_OK && prc != MCP_ERR_NOT_FOUND)
        mcp__log(MCP__LOG_WARN, "oauth", "ignoring malformed WWW-Authenticate header");
    char *scope = NULL;
    bool step_up = http_status == 403;
    if (step_up && (ch.error == NULL || strcmp(ch.error, "insufficient_scope") != 0)) {
        char desc[160] = "";
        mcp__sanitize(ch.error_description, desc, sizeof desc);
        rc = mcp_error_set(err, MCP_ERR_FORBIDDEN, "server answered 403 Forbidden%s%s",
                           desc[0] ? ": " : "", desc);
        goto out;
    }
    /* A fresh token that is rejected again is not fixed by another refresh. */
    if (!step_up && o->refresh_token != NULL &&
        (o->refreshed_at_ms == 0 || mcp_now_ms() - o->refreshed_at_ms > 10000)) {
        mcp_error e;
        if (refresh(o, &e) == MCP_OK)
            goto out;
        if (o->verbose)
            mcp__log(MCP__LOG_INFO, "oauth", "refresh failed (%s); authorizing again", e.message);
        free_secret(&o->refresh_token);
    }
    rc = discover(o, ch.resource_metadata, err);
    if (rc != MCP_OK)
        goto out;

    /* Scope selection (MCP 2025-11-25): challenge scope, else PRM scopes_supported, else none.
     * A step-up keeps what was asked before and adds the challenge (union, SEP-2350). */
    if (step_up) {
        scope = scope_union(o->requested_scope, ch.scope, o->opt_scope);
    } else if (o->opt_scope != NULL) {
        scope = scope_union(o->opt_scope, ch.scope, NULL);
    } else if (ch.scope != NULL) {
        scope = scope_union(ch.scope, NULL, NULL);
    } else if (o->prm_scopes != NULL) {
        mcp_buf b;
        mcp__buf_init(&b, 8192);
        size_t i;
        const json_t *v;
        json_array_foreach(o->prm_scopes, i, v)
            if (json_is_string(v) && json_string_length(v) > 0)
                if ((b.len > 0 && mcp__buf_append(&b, " ", 1) != MCP_OK) ||
                    mcp__buf_appends(&b, json_string_value(v)) != MCP_OK)
                    break;
        scope = b.len > 0 ? mcp__buf_steal(&b, NULL) : NULL;
        mcp__buf_cleanup(&b);
    }
    /* SEP-2207: ask for offline_access (refresh tokens) only when the AS lists it. */
    if (o->grant == MCP_OAUTH_GRANT_AUTHORIZATION_CODE && o->offline_access && scope != NULL &&
        o->as_meta != NULL &&
        json_array_has(json_object_get(o->as_meta, "scopes_supported"), "offline_access") &&
        !scope_has(scope, "offline_access")) {
        char *s2 = scope_union(scope, "offline_access", NULL);
        if (s2 != NULL) {
            mcp__free(scope);
            scope = s2;
        }
    }
    free_secret(&o->access_token);
    switch (o->grant) {
    case MCP_OAUTH_GRANT_CLIENT_CREDENTIALS:
        rc = client_credentials(o, scope, err);
        break;
    case MCP_OAUTH_GRANT_TOKEN_EXCHANGE:
        rc = token_exchange(o, scope, err);
        break;
    default:
        rc = authorization_code(o, scope, err);
        break;
    }
out:
    mcp__free(scope);
    mcp__bearer_challenge_cleanup(&ch);
    return rc;
}
