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

void
mcp__free_secret(char **s)
{
    if (*s != NULL) {
        mcp_memzero(*s, strlen(*s));
        mcp__free(*s);
        *s = NULL;
    }
}

mcp_status
mcp__set_str(char **dst, const char *src)
{
    char *d = NULL;
    if (src != NULL && (d = mcp__strdup(src)) == NULL)
        return MCP_ERR_NOMEM;
    mcp__free_secret(dst);
    *dst = d;
    return MCP_OK;
}

const char *
mcp__json_str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool
mcp__json_array_has(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    return false;
}

bool
mcp__same_issuer(const char *a, const char *b)
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

/* Same scheme, host and port (a default port spelled out or not is the same origin)? */
static bool
same_origin(const mcp__url *a, const mcp__url *b)
{
    const char *pa = a->port ? a->port : strcmp(a->scheme, "https") == 0 ? "443" : "80";
    const char *pb = b->port ? b->port : strcmp(b->scheme, "https") == 0 ? "443" : "80";
    return strcmp(a->scheme, b->scheme) == 0 && strcmp(a->host, b->host) == 0 &&
           strcmp(pa, pb) == 0;
}

mcp__net_addr_rule
mcp__oauth_addr_rule(const mcp_oauth *o, const char *url)
{
    if (o->allow_internal)
        return MCP__NET_ADDR_ANY;
    if (o->idp_token_endpoint != NULL && url != NULL && strcmp(url, o->idp_token_endpoint) == 0)
        return MCP__NET_ADDR_ANY;            /* configured, never learned (SEP-990) */
    mcp__url s, u;
    if (o->server_url == NULL || mcp__url_parse(o->server_url, &s) != MCP_OK)
        return MCP__NET_ADDR_PUBLIC_ONLY;    /* fail closed */
    mcp__net_addr_rule r = MCP__NET_ADDR_PUBLIC_ONLY;
    if (mcp__url_is_loopback(&s)) {
        r = MCP__NET_ADDR_ANY;               /* a local server may use a local AS */
    } else if (url != NULL && mcp__url_parse(url, &u) == MCP_OK) {
        if (same_origin(&s, &u))
            r = MCP__NET_ADDR_ANY;           /* the host the user chose to connect to */
        mcp__url_cleanup(&u);
    }
    mcp__url_cleanup(&s);
    return r;
}

/* GET url and parse a JSON object; MCP_ERR_NOT_FOUND for any non-200 answer. */
mcp_status
mcp__oauth_get_json(mcp_oauth *o, const char *url, json_t **out, mcp_error *err)
{
    *out = NULL;
    if (!mcp__url_is_secure(url, o->allow_http))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "refusing metadata URL that is neither https nor loopback: %s", url);
    mcp__http_req rq = { .oauth = o, .method = "GET", .url = url, .accept = "application/json",
                         .max_body = MCP__OAUTH_META_MAX, .timeout_ms = o->http_timeout_ms,
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

void
mcp__oauth_reset_discovery(mcp_oauth *o)
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

void
mcp__oauth_reset_tokens(mcp_oauth *o)
{
    mcp__free_secret(&o->access_token);
    mcp__free_secret(&o->refresh_token);
    mcp__free(o->requested_scope);
    mcp__free(o->token_issuer);
    o->requested_scope = o->token_issuer = NULL;
    o->expires_at = 0;
    o->refreshed_at_ms = 0;
    o->dpop_bound = false;
}

void
mcp_oauth_free(mcp_oauth *o)
{
    if (o == NULL)
        return;
    mcp__oauth_reset_tokens(o);
    mcp__oauth_reset_discovery(o);
    mcp__free_secret(&o->opt_client_secret);
    mcp__free_secret(&o->private_key_pem);
    mcp__free_secret(&o->idp_id_token);
    mcp__free_secret(&o->idp_client_secret);
    mcp__free_secret(&o->assertion);
    mcp__free_secret(&o->client_secret);
    char **plain[] = { &o->opt_client_id, &o->client_metadata_url, &o->client_name,
                       &o->opt_auth_method, &o->signing_alg, &o->key_id, &o->opt_scope,
                       &o->opt_redirect_uri, &o->cache_path, &o->idp_token_endpoint,
                       &o->idp_client_id, &o->server_url, &o->client_id, &o->auth_method,
                       &o->opt_issuer, &o->client_issuer };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        mcp__free(*plain[i]);
    if (o->cookie_curl != NULL)
        curl_share_cleanup(o->cookie_curl);
    mcp__dpop_key_free(o->dpop_key);
    json_decref(o->dpop_jwk);
    mcp__free(o->dpop_as_nonce);
    mcp__free(o->dpop_rs_nonce);
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
    if (opts->grant > MCP_OAUTH_GRANT_JWT_BEARER || opts->login > MCP_OAUTH_LOGIN_CALLBACK)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unknown grant or login mode");
    if (opts->grant == MCP_OAUTH_GRANT_JWT_BEARER &&
        (opts->assertion == NULL || opts->assertion[0] == '\0' || opts->client_id == NULL))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "the JWT-bearer grant needs an assertion and a client id");
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
    o->dpop_mode = opts->dpop;
    o->offline_access = opts->offline_access;
    o->allow_http = opts->allow_insecure_http;
    o->allow_internal = opts->allow_internal_as;
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
        { &o->assertion, opts->assertion },
    };
    for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++)
        if (mcp__set_str(copies[i].dst, copies[i].src) != MCP_OK) {
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

char *
mcp__oauth_auth_value(mcp_oauth *o, const char *server_url)
{
    if (o == NULL || mcp__oauth_use_server(o, server_url) != MCP_OK)
        return NULL;
    if (o->access_token != NULL && o->expires_at > 0 && mcp__unix_now() >= o->expires_at - 30) {
        mcp_error e;
        if (o->refresh_token == NULL || mcp__oauth_refresh(o, &e) != MCP_OK) {
            mcp__free_secret(&o->access_token);   /* expired: let the server challenge us */
            mcp__free_secret(&o->refresh_token);
        }
    }
    if (o->access_token == NULL)
        return NULL;
    return mcp__aprintf("%s %s", o->dpop_bound ? "DPoP" : "Bearer", o->access_token);
}

mcp_status
mcp__oauth_handle_challenge(mcp_oauth *o, const char *server_url, long http_status,
                            const char *www_authenticate, mcp_error *err)
{
    if (o == NULL)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "no OAuth client configured");
    mcp_status rc = mcp__oauth_use_server(o, server_url);
    if (rc != MCP_OK)
        return mcp_error_set(err, rc, "out of memory");
    mcp__bearer_challenge ch;
    mcp_status prc = mcp__www_auth_parse(www_authenticate, &ch);
    if (prc != MCP_OK && prc != MCP_ERR_NOT_FOUND)
        mcp__log(MCP__LOG_WARN, "oauth", "ignoring malformed WWW-Authenticate header");
    char *scope = NULL;
    bool step_up = http_status == 403;
    if (prc == MCP_OK && ch.dpop)
        o->rs_dpop = true;
    /* RFC 9449 section 9: the MCP server wants a nonce in the proof; the token is fine. */
    if (http_status == 401 && o->dpop_bound && ch.error != NULL &&
        strcmp(ch.error, "use_dpop_nonce") == 0 && o->dpop_rs_nonce_new) {
        o->dpop_rs_nonce_new = false;
        if (o->verbose)
            mcp__log(MCP__LOG_INFO, "oauth", "retrying with the server's DPoP nonce");
        goto out;
    }
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
        if (mcp__oauth_refresh(o, &e) == MCP_OK)
            goto out;
        if (o->verbose)
            mcp__log(MCP__LOG_INFO, "oauth", "refresh failed (%s); authorizing again", e.message);
        mcp__free_secret(&o->refresh_token);
    }
    /* A rejected token may mean the resource moved to another authorization server: read
     * the protected-resource metadata again (it may name a new AS; mcp__oauth_discover then
     * drops what belonged to the old one). */
    if (!step_up && o->discovered) {
        char *old = o->issuer ? mcp__strdup(o->issuer) : NULL;
        mcp__oauth_reset_discovery(o);
        rc = mcp__oauth_discover(o, ch.resource_metadata, err);
        if (rc == MCP_OK && old != NULL && o->issuer != NULL && strcmp(old, o->issuer) != 0) {
            if (o->verbose)
                mcp__log(MCP__LOG_INFO, "oauth", "the authorization server changed to %s",
                         o->issuer);
            mcp__oauth_reset_tokens(o);
        }
        mcp__free(old);
    } else {
        rc = mcp__oauth_discover(o, ch.resource_metadata, err);
    }
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
        mcp__json_array_has(json_object_get(o->as_meta, "scopes_supported"), "offline_access") &&
        !scope_has(scope, "offline_access")) {
        char *s2 = scope_union(scope, "offline_access", NULL);
        if (s2 != NULL) {
            mcp__free(scope);
            scope = s2;
        }
    }
    mcp__free_secret(&o->access_token);
    switch (o->grant) {
    case MCP_OAUTH_GRANT_CLIENT_CREDENTIALS:
        rc = mcp__oauth_client_credentials(o, scope, err);
        break;
    case MCP_OAUTH_GRANT_TOKEN_EXCHANGE:
        rc = mcp__oauth_token_exchange(o, scope, err);
        break;
    case MCP_OAUTH_GRANT_JWT_BEARER:
        rc = mcp__oauth_jwt_bearer(o, scope, err);
        break;
    default:
        rc = mcp__oauth_authorization_code(o, scope, err);
        break;
    }
out:
    mcp__free(scope);
    mcp__bearer_challenge_cleanup(&ch);
    return rc;
}
