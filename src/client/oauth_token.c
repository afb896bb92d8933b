/*
 * The token endpoint: client authentication (client_secret_basic/_post, private_key_jwt,
 * none), the token request and response, and the grants that need no browser: refresh, client
 * credentials, and the SEP-990 token exchange. The form, the client authentication and the
 * response all hold secrets: each is wiped before it is freed.
 */
#include "client/internal.h"

#include <string.h>

typedef struct client_auth {
    char *user, *pass;     /* Basic credentials, form-encoded (RFC 6749 section 2.3.1) */
} client_auth;

static void
client_auth_cleanup(client_auth *a)
{
    mcp__free_secret(&a->user);
    mcp__free_secret(&a->pass);
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
        mcp__free_secret(&jwt);
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
    mcp__http_req rq = { .oauth = o, .method = "POST", .url = url,
                         .body = form->ptr ? form->ptr : "",
                         .content_type = "application/x-www-form-urlencoded",
                         .accept = "application/json", .basic_user = a ? a->user : NULL,
                         .basic_pass = a ? a->pass : NULL, .max_body = MCP__OAUTH_META_MAX,
                         .timeout_ms = o->http_timeout_ms, .verbose = o->verbose };
    /* DPoP (RFC 9449 section 5) at the MCP server's AS, not at an IdP; one more try when
     * the AS answers use_dpop_nonce with a nonce (section 8). */
    bool dpop = o->token_ep != NULL && strcmp(url, o->token_ep) == 0 &&
                mcp__oauth_dpop_wanted(o);
    o->dpop_sent = false;
    mcp__http_resp rs;
    json_t *j = NULL;
    mcp_status rc = MCP_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *proof = NULL;
        if (dpop) {
            rc = mcp__oauth_dpop_proof(o, "POST", url, NULL, o->dpop_as_nonce, &proof, err);
            if (rc != MCP_OK)
                return rc;
        }
        rq.dpop = proof;
        rc = mcp__http_fetch(&rq, &rs, err);
        mcp__free(proof);
        if (rc != MCP_OK)
            return rc;
        o->dpop_sent = dpop;
        json_error_t je;
        j = json_loadb(rs.body, rs.body_len, 0, &je);
        const char *code = mcp__json_str(j, "error");
        bool retry = dpop && attempt == 0 && rs.status == 400 && code != NULL &&
                     strcmp(code, "use_dpop_nonce") == 0 && rs.dpop_nonce != NULL &&
                     (o->dpop_as_nonce == NULL || strcmp(o->dpop_as_nonce, rs.dpop_nonce) != 0);
        if (!retry)
            break;
        mcp__oauth_dpop_nonce(o, true, rs.dpop_nonce);
        if (o->verbose)
            mcp__log(MCP__LOG_INFO, "oauth", "token endpoint wants a DPoP nonce; retrying");
        json_decref(j);
        j = NULL;
        mcp__http_resp_cleanup(&rs);
    }
    if (dpop && rs.dpop_nonce != NULL)
        mcp__oauth_dpop_nonce(o, true, rs.dpop_nonce);
    if (rs.status != 200) {
        char code[64] = "", desc[160] = "";
        mcp__sanitize(mcp__json_str(j, "error"), code, sizeof code);
        mcp__sanitize(mcp__json_str(j, "error_description"), desc, sizeof desc);
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                           "%s refused the request: HTTP %ld %s%s%s%s", what, rs.status, code,
                           desc[0] ? " (" : "", desc, desc[0] ? ")" : "");
        json_decref(j);
    } else if (!json_is_object(j) || mcp__json_str(j, "access_token") == NULL ||
               json_string_length(json_object_get(j, "access_token")) > MCP__OAUTH_TOKEN_MAX) {
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
    const char *type = mcp__json_str(j, "token_type");
    bool bound = type != NULL && o->dpop_sent && mcp__strcasecmp(type, "dpop") == 0;
    if (type == NULL || (!bound && mcp__strcasecmp(type, "bearer") != 0))
        return mcp_error_set(err, MCP_ERR_PROTOCOL, "token endpoint issued a %s token",
                             o->dpop_sent ? "neither Bearer nor DPoP" : "non-Bearer");
    o->dpop_bound = bound;
    if (mcp__set_str(&o->access_token, mcp__json_str(j, "access_token")) != MCP_OK)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    bool same_as = o->token_issuer != NULL && o->issuer != NULL &&
                   mcp__same_issuer(o->token_issuer, o->issuer);
    if (!same_as)                   /* an old refresh token belongs to its own issuer */
        mcp__free_secret(&o->refresh_token);
    if (mcp__set_str(&o->token_issuer, o->issuer) != MCP_OK)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    const char *rt = mcp__json_str(j, "refresh_token");
    if (rt != NULL && strlen(rt) <= MCP__OAUTH_TOKEN_MAX &&
        mcp__set_str(&o->refresh_token, rt) != MCP_OK)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    json_t *exp = json_object_get(j, "expires_in");
    o->expires_at = json_is_number(exp) && json_number_value(exp) > 0
                        ? mcp__unix_now() + (int64_t)json_number_value(exp)
                        : 0;
    const char *granted = mcp__json_str(j, "scope");
    (void)mcp__set_str(&o->requested_scope, scope ? scope : granted);
    mcp__oauth_cache_store(o);
    return MCP_OK;
}

/* Append fields to form in order, stopping at the first failure. */
mcp_status
mcp__form_add_fields(mcp_buf *form, const mcp__form_field *fields, size_t n)
{
    mcp_status rc = MCP_OK;
    for (size_t i = 0; rc == MCP_OK && i < n; i++)
        rc = mcp__form_add(form, fields[i].name, fields[i].value);
    return rc;
}

/* One request to a token endpoint: the form, our client authentication and the answer. All
 * three may hold secrets: token_req_end() wipes each before freeing it. */
typedef struct token_req {
    mcp_buf     form;
    client_auth auth;
    json_t     *resp;
} token_req;

/* Start a request with the grant's fields; what names it when building fails. */
static mcp_status
token_req_begin(token_req *t, const mcp__form_field *fields, size_t n, const char *what,
                mcp_error *err)
{
    mcp__buf_init(&t->form, 256 * 1024);
    memset(&t->auth, 0, sizeof t->auth);
    t->resp = NULL;
    mcp_status rc = mcp__form_add_fields(&t->form, fields, n);
    return rc == MCP_OK ? MCP_OK : mcp_error_set(err, rc, "cannot build the %s", what);
}

static void
token_req_end(token_req *t)
{
    wipe_json_secrets(t->resp);
    json_decref(t->resp);
    t->resp = NULL;
    client_auth_cleanup(&t->auth);
    if (t->form.ptr)
        mcp_memzero(t->form.ptr, t->form.len);
    mcp__buf_cleanup(&t->form);
}

/* A grant redeemed at the token endpoint, fields to tokens: build the form (build names it in
 * errors), add our client authentication (method), count it as an authorization if counts,
 * post it (what names the request in errors) and take the tokens from the answer. */
static mcp_status
redeem_grant(mcp_oauth *o, const mcp__form_field *fields, size_t n, const char *build,
             const char *method, bool counts, const char *what, const char *scope,
             mcp_error *err)
{
    token_req t;
    mcp_status rc = token_req_begin(&t, fields, n, build, err);
    if (rc == MCP_OK && counts)
        o->count++;
    if (rc == MCP_OK)
        rc = apply_client_auth(o, o->client_id, o->client_secret, method, &t.form, &t.auth, err);
    if (rc == MCP_OK)
        rc = post_token(o, o->token_ep, what, &t.form, &t.auth, &t.resp, err);
    if (rc == MCP_OK)
        rc = accept_tokens(o, t.resp, scope, err);
    token_req_end(&t);
    return rc;
}

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

mcp_status
mcp__oauth_refresh(mcp_oauth *o, mcp_error *err)
{
    if (o->refresh_token == NULL || o->token_ep == NULL || o->client_id == NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "no refresh token");
    /* The token endpoint in use must be the issuing AS's (and a pinned one). */
    if (o->token_issuer == NULL || o->issuer == NULL ||
        !mcp__same_issuer(o->token_issuer, o->issuer) ||
        !mcp__oauth_issuer_allowed(o, o->issuer))
        return mcp_error_set(err, MCP_ERR_STATE,
                             "refresh token belongs to another authorization server");
    const mcp__form_field fields[] = {
        { "grant_type", "refresh_token" },
        { "refresh_token", o->refresh_token },
        { "resource", o->resource },
    };
    mcp_status rc = redeem_grant(o, fields, NFIELDS(fields), "refresh request",
                                 o->auth_method ? o->auth_method : "none", false,
                                 "token endpoint (refresh)", o->requested_scope, err);
    if (rc == MCP_OK) {
        o->refreshed_at_ms = mcp_now_ms();
        if (o->verbose)
            mcp__log(MCP__LOG_INFO, "oauth", "access token refreshed");
    }
    return rc;
}

mcp_status
mcp__oauth_client_credentials(mcp_oauth *o, const char *scope, mcp_error *err)
{
    mcp_status rc = mcp__oauth_ensure_client(o, NULL, err);
    if (rc != MCP_OK)
        return rc;
    const mcp__form_field fields[] = {
        { "grant_type", "client_credentials" },
        { "resource", o->resource },
        { "scope", scope },
    };
    return redeem_grant(o, fields, NFIELDS(fields), "token request", o->auth_method, true,
                        "token endpoint", scope, err);
}

mcp_status
mcp__oauth_redeem_code(mcp_oauth *o, const char *code, const char *redirect_uri,
                       const char *verifier, const char *scope, mcp_error *err)
{
    const mcp__form_field fields[] = {
        { "grant_type", "authorization_code" },
        { "code", code },
        { "redirect_uri", redirect_uri },
        { "code_verifier", verifier },
        { "resource", o->resource },
    };
    return redeem_grant(o, fields, NFIELDS(fields), "token request", o->auth_method, false,
                        "token endpoint", scope, err);
}

/* SEP-990: exchange the IdP ID token for an ID-JAG (RFC 8693) at the IdP, then present it to
 * the MCP server's AS as a JWT authorization grant (RFC 7523). */
mcp_status
mcp__oauth_token_exchange(mcp_oauth *o, const char *scope, mcp_error *err)
{
    if (o->idp_id_token == NULL || o->idp_token_endpoint == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "token exchange needs an IdP ID token and token endpoint");
    mcp_status rc = mcp__oauth_ensure_client(o, NULL, err);
    if (rc != MCP_OK)
        return rc;
    const mcp__form_field fields[] = {
        { "grant_type", "urn:ietf:params:oauth:grant-type:token-exchange" },
        { "requested_token_type", "urn:ietf:params:oauth:token-type:id-jag" },
        { "audience", o->issuer },
        { "resource", o->resource },
        { "scope", scope },
        { "subject_token", o->idp_id_token },
        { "subject_token_type", "urn:ietf:params:oauth:token-type:id_token" },
    };
    token_req t;
    char *jag = NULL;
    rc = token_req_begin(&t, fields, NFIELDS(fields), "token exchange request", err);
    if (rc == MCP_OK && o->idp_client_id != NULL)
        rc = apply_client_auth(o, o->idp_client_id, o->idp_client_secret,
                               o->idp_client_secret ? "client_secret_basic" : "none", &t.form,
                               &t.auth, err);
    if (rc == MCP_OK) {
        o->count++;
        rc = post_token(o, o->idp_token_endpoint, "IdP token exchange", &t.form, &t.auth,
                        &t.resp, err);
    }
    if (rc == MCP_OK) {
        const char *itt = mcp__json_str(t.resp, "issued_token_type");
        if (itt != NULL && strcmp(itt, "urn:ietf:params:oauth:token-type:id-jag") != 0)
            rc = mcp_error_set(err, MCP_ERR_PROTOCOL, "IdP issued a token that is not an ID-JAG");
        else if ((jag = mcp__strdup(mcp__json_str(t.resp, "access_token"))) == NULL)
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    token_req_end(&t);
    if (rc != MCP_OK)
        return rc;
    const mcp__form_field grant[] = {
        { "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer" },
        { "assertion", jag },
        { "scope", scope },
    };
    rc = redeem_grant(o, grant, NFIELDS(grant), "JWT bearer grant", o->auth_method, false,
                      "token endpoint (jwt-bearer)", scope, err);
    mcp__free_secret(&jag);
    return rc;
}

/* Workload identity federation (SEP-1933): the platform's JWT as an RFC 7523 grant. */
mcp_status
mcp__oauth_jwt_bearer(mcp_oauth *o, const char *scope, mcp_error *err)
{
    if (o->assertion == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "the JWT-bearer grant needs an assertion");
    mcp_status rc = mcp__oauth_ensure_client(o, NULL, err);
    if (rc != MCP_OK)
        return rc;
    const mcp__form_field grant[] = {
        { "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer" },
        { "assertion", o->assertion },
        { "scope", scope },
        { "resource", o->resource },
    };
    return redeem_grant(o, grant, NFIELDS(grant), "JWT bearer grant", o->auth_method, true,
                        "token endpoint (jwt-bearer)", scope, err);
}
