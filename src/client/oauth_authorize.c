/*
 * The authorization code grant with PKCE S256, state and the RFC 8707 resource: build the
 * authorization URL, let the user (or the headless redirect walk, or the application's
 * callback) log in, check what comes back to the redirect URI (state, RFC 9207 issuer), and
 * redeem the code at the token endpoint.
 */
#include "client/internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define HEADLESS_MAX_HOPS 12
#define DEFAULT_REDIRECT "http://127.0.0.1/callback"

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
        mcp__http_req rq = { .oauth = o, .method = "GET", .url = url,
                             .cookie_handle = o->cookie_curl,
                             .max_body = MCP__OAUTH_META_MAX, .timeout_ms = o->http_timeout_ms,
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
                mcp__sanitize(mcp__json_str(j, "error"), desc, sizeof desc);
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

mcp_status
mcp__oauth_authorization_code(mcp_oauth *o, const char *scope, mcp_error *err)
{
    if (o->as_meta != NULL) {
        /* MCP 2025-11-25: refuse to proceed when the AS does not advertise S256 (there is no
         * safe way to know it enforces PKCE otherwise). */
        const json_t *m = json_object_get(o->as_meta, "code_challenge_methods_supported");
        if (!mcp__json_array_has(m, "S256"))
            return mcp_error_set(err, MCP_ERR_UNSUPPORTED,
                                 "authorization server does not advertise PKCE S256; refusing");
    }
    if (o->authz_ep == NULL)
        return mcp_error_set(err, MCP_ERR_PROTOCOL, "no authorization endpoint");
    mcp__loopback *lb = NULL;
    char *redirect = NULL, *state = NULL, *auth_url = NULL, *callback = NULL;
    char *code = NULL, *got_state = NULL, *got_error = NULL, *got_iss = NULL;
    char verifier[MCP__PKCE_VERIFIER_LEN + 1] = "", challenge[44];
    mcp_buf q;
    mcp__buf_init(&q, 64 * 1024);
    mcp_status rc;

    if ((state = mcp__random_token(16)) == NULL) {
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "cannot make the state value");
        goto out;
    }
    if (o->login == MCP_OAUTH_LOGIN_LOOPBACK) {
        rc = mcp__loopback_open(state, &lb, &redirect, err);
        if (rc != MCP_OK)
            goto out;
    } else {
        redirect = mcp__strdup(o->opt_redirect_uri ? o->opt_redirect_uri : DEFAULT_REDIRECT);
        if (redirect == NULL) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    rc = mcp__oauth_ensure_client(o, redirect, err);
    if (rc != MCP_OK)
        goto out;
    rc = mcp__pkce_verifier(verifier, err);
    if (rc != MCP_OK)
        goto out;
    if (mcp__pkce_challenge(verifier, challenge) != MCP_OK) {
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "cannot make the PKCE challenge");
        goto out;
    }
    rc = mcp__buf_appends(&q, o->authz_ep);
    if (rc == MCP_OK)
        rc = mcp__buf_appends(&q, strchr(o->authz_ep, '?') ? "&" : "?");
    {
        /* form_add joins with '&' once the buffer is non-empty; add fields to a separate
         * buffer and append it to the endpoint. */
        const mcp__form_field params[] = {
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
            rc = mcp__form_add_fields(&p, params, sizeof params / sizeof params[0]);
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
    /* state first: a response that is not ours, error responses included, must not decide
     * anything about this login (RFC 6749 section 10.12). */
    if (got_state == NULL || !mcp_ct_equal(got_state, strlen(got_state), state, strlen(state))) {
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "authorization response state mismatch");
        goto out;
    }
    /* RFC 9207: an AS that says it sends iss must send it, in error responses too, and iss must
     * be the issuer we are talking to; otherwise this may be a mix-up attack. */
    bool iss_required = o->as_meta != NULL &&
        json_is_true(json_object_get(o->as_meta, "authorization_response_iss_parameter_supported"));
    if (got_iss == NULL && iss_required) {
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                           "authorization response has no iss although the authorization "
                           "server advertises authorization_response_iss_parameter_supported");
        goto out;
    }
    /* (a 2025-03-26 server without metadata has no issuer identifier to compare with) */
    /* Simple string comparison with the issuer the metadata gave (RFC 9207 section 2.4, MCP
     * 2026-07-28): no case folding, default-port or trailing-slash normalization. */
    const char *recorded = o->as_meta != NULL ? mcp__json_str(o->as_meta, "issuer") : NULL;
    if (recorded == NULL)
        recorded = o->issuer;
    if (got_iss != NULL && (o->as_meta != NULL || !o->legacy) &&
        (recorded == NULL || strcmp(got_iss, recorded) != 0)) {
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "authorization response issuer mismatch");
        goto out;
    }
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
    if (code == NULL || code[0] == '\0') {
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "authorization response has no code");
        goto out;
    }
    rc = mcp__oauth_redeem_code(o, code, redirect, verifier, scope, err);
out:
    mcp__loopback_close(lb);
    mcp_memzero(verifier, sizeof verifier);
    mcp__buf_cleanup(&q);
    mcp__free_secret(&code);
    mcp__free_secret(&callback);
    mcp__free(redirect);
    mcp__free(state);
    mcp__free(auth_url);
    mcp__free(got_state);
    mcp__free(got_error);
    mcp__free(got_iss);
    return rc;
}
