/*
 * /token: the token endpoint (RFC 6749 section 3.2) with the grants authorization_code (PKCE
 * S256 mandatory), refresh_token (rotation: every use returns a new refresh token and retires
 * the old one; a retired one presented again revokes the whole family, RFC 9700 section 4.14.2)
 * and client_credentials (confidential clients bound to a store user).
 *
 * The scopes of every token are recomputed from the store at issue time: a role taken away
 * shrinks the next refreshed token, and a disabled or removed user gets none.
 */
#include "as/internal.h"

#include <stdio.h>
#include <string.h>

/* ---- client authentication -------------------------------------------------------------- */

/* RFC 6749 section 2.3.1: Basic with the form-urlencoded id and secret. */
static bool
basic_credentials(const char *hdr, char **id, char **secret)
{
    *id = *secret = NULL;
    if (hdr == NULL || mcp__strcasecmp(hdr, "") == 0 || strncmp(hdr, "Basic ", 6) != 0)
        return false;
    const char *b64 = hdr + 6;
    size_t n = strlen(b64);
    /* standard base64 -> base64url for the shared decoder */
    char *u = mcp__strndup(b64, n);
    if (u == NULL)
        return false;
    while (n > 0 && u[n - 1] == '=')
        u[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        u[i] = u[i] == '+' ? '-' : u[i] == '/' ? '_' : u[i];
    unsigned char *raw = NULL;
    size_t rl = 0;
    bool ok = mcp__b64url_decode(u, n, &raw, &rl) == MCP_OK;
    mcp__free(u);
    if (!ok)
        return false;
    const unsigned char *colon = memchr(raw, ':', rl);
    if (colon != NULL) {
        *id = mcp__as_urldecode((const char *)raw, (size_t)(colon - raw));
        *secret = mcp__as_urldecode((const char *)colon + 1, rl - (size_t)(colon - raw) - 1);
    }
    mcp_memzero(raw, rl);
    mcp__free(raw);
    if (*id == NULL || *secret == NULL) {
        mcp__free(*id);
        if (*secret != NULL)
            mcp_memzero(*secret, strlen(*secret));
        mcp__free(*secret);
        *id = *secret = NULL;
        return false;
    }
    return true;
}

bool
mcp__as_client_confidential(const mcp__store_as_client *cl)
{
    return cl->secret_hash[0] != '\0' || (cl->jwks != NULL && cl->jwks[0] != '\0');
}

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define ASSERTION_MAX_S 300   /* an assertion expires at most this far ahead */
#define ASSERTION_LEEWAY_S 30

/* Does aud (a string or an array of strings) name one of the accepted audiences? */
static bool
aud_has(const json_t *aud, const char *const *want)
{
    for (size_t w = 0; want[w] != NULL; w++) {
        if (json_is_string(aud) && strcmp(json_string_value(aud), want[w]) == 0)
            return true;
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v)
            if (json_is_string(v) && strcmp(json_string_value(v), want[w]) == 0)
                return true;
    }
    return false;
}

/* The client a client assertion names (its sub; checked only later, against the client's own
 * keys): a new string, or NULL. */
static char *
assertion_subject(const char *assertion)
{
    char *hdr = NULL, *payload = NULL, *out = NULL;
    if (mcp_jwt_decode_unverified(assertion, strlen(assertion), &hdr, &payload, NULL) != MCP_OK)
        return NULL;
    json_error_t je;
    json_t *c = json_loads(payload, 0, &je);
    const char *sub = json_string_value(json_object_get(c, "sub"));
    if (sub != NULL && sub[0] != '\0')
        out = mcp__strdup(sub);
    json_decref(c);
    mcp_free(hdr);
    mcp_free(payload);
    return out;
}

/*
 * RFC 7523 section 3 with RFC 7521 section 5.2: a JWT signed by one of the client's registered
 * keys (the key's pinned algorithm only), iss = sub = the client id, aud = our token endpoint,
 * the endpoint called, or the issuer, exp at most ASSERTION_MAX_S ahead (and the clock leeway:
 * a client's default lifetime is often exactly 300 s), and a jti never seen
 * before from this client (kept until exp). false: rs holds 401 invalid_client (or 503).
 */
static bool
assertion_ok(mcp_as *as, const mcp_http_route_req *rq, const mcp__store_as_client *cl,
             const char *assertion, mcp_http_route_resp *rs)
{
    mcp_jwt_opts jo;
    mcp_jwt_opts_default(&jo);
    jo.issuer = cl->id;
    jo.allow_no_audience = true;   /* checked below: several values are accepted */
    jo.leeway_s = ASSERTION_LEEWAY_S;
    jo.cache_size = 0;
    jo.jwks_refresh_s = 0;
    mcp_jwt_verifier *v = NULL;
    mcp_principal *p = NULL;
    mcp_error e;
    mcp_error_clear(&e);
    const char *why = NULL;
    char whybuf[sizeof e.message + 32];
    if (mcp_jwt_verifier_new(&jo, &v, &e) != MCP_OK ||
        mcp_jwt_verifier_add_jwks(v, cl->jwks, strlen(cl->jwks), &e) != MCP_OK) {
        mcp__log(MCP__LOG_ERROR, "as", "client %s: its registered keys are unusable: %s", cl->id,
                 e.message);
        why = "the client's keys are unusable";
    } else if (mcp_jwt_verify(v, assertion, strlen(assertion), &p, &e) != MCP_OK) {
        snprintf(whybuf, sizeof whybuf, "client assertion rejected: %s", e.message);
        why = whybuf;
    }
    mcp_jwt_verifier_free(v);
    int64_t now = mcp__unix_now(), exp = p != NULL ? mcp_principal_expires_at(p) : 0;
    char *tep = mcp__aprintf("%s/token", as->issuer), *here = mcp__aprintf("%s%s", as->issuer,
                                                                            rq->path);
    json_error_t je;
    json_t *claims = p != NULL ? json_loads(mcp_principal_claims_json(p), 0, &je) : NULL;
    const char *jti = p != NULL ? mcp_principal_jti(p) : NULL;
    if (why == NULL) {
        const char *const auds[] = { tep != NULL ? tep : "", here != NULL ? here : "",
                                     as->issuer, NULL };
        if (claims == NULL || tep == NULL || here == NULL)
            why = "out of memory";
        else if (strcmp(mcp_principal_subject(p), cl->id) != 0)
            why = "client assertion rejected: sub is not the client id";
        else if (!aud_has(json_object_get(claims, "aud"), auds))
            why = "client assertion rejected: aud is not this authorization server";
        else if (exp > now + ASSERTION_MAX_S + ASSERTION_LEEWAY_S)
            why = "client assertion rejected: exp is too far ahead (at most 300 s)";
        else if (jti == NULL || jti[0] == '\0' || strlen(jti) > 256)
            why = "client assertion rejected: jti is missing";
    }
    bool ok = false;
    if (why == NULL) {
        bool fresh = false;
        if (mcp__store_as_assertion_use(as->opts.store, cl->id, jti, exp + ASSERTION_LEEWAY_S, now,
                                        &fresh, &e) != MCP_OK) {
            mcp__log(MCP__LOG_ERROR, "as", "client assertion: %s", e.message);
            mcp__as_oauth_error(rs, 503, "temporarily_unavailable", "store unreadable");
        } else if (!fresh) {
            mcp__log(MCP__LOG_WARN, "as", "audit: client assertion replayed (client %s)", cl->id);
            why = "client assertion rejected: jti already used (replay)";
        } else {
            ok = true;
        }
    }
    if (why != NULL)
        mcp__as_oauth_error(rs, 401, "invalid_client", why);
    json_decref(claims);
    mcp__free(tep);
    mcp__free(here);
    mcp_principal_unref(p);
    return ok;
}

/*
 * Authenticate the client of a request: client_secret_basic, client_secret_post,
 * private_key_jwt, or none for a public client. true: *cl is filled (clean it up). false: rs
 * holds the error (401 invalid_client, or 400 for a malformed request).
 */
static bool
client_auth(mcp_as *as, const mcp_http_route_req *rq, const mcp__as_form *f,
            mcp__store_as_client *cl, mcp_http_route_resp *rs)
{
    memset(cl, 0, sizeof *cl);
    char *bid = NULL, *bsecret = NULL, *aid = NULL;
    const char *auth = rq->header(rq, "Authorization");
    bool basic = auth != NULL && basic_credentials(auth, &bid, &bsecret);
    const char *fid = mcp__as_form_get(f, "client_id");
    const char *fsecret = mcp__as_form_get(f, "client_secret");
    const char *atype = mcp__as_form_get(f, "client_assertion_type");
    const char *assertion = mcp__as_form_get(f, "client_assertion");
    bool jwt = atype != NULL || assertion != NULL;
    if (jwt && fid == NULL && assertion != NULL)
        aid = assertion_subject(assertion);   /* RFC 7521 section 4.2: client_id optional */
    const char *id = basic ? bid : fid != NULL ? fid : aid, *secret = basic ? bsecret : fsecret;
    bool ok = false;
    if (auth != NULL && !basic) {
        mcp__as_oauth_error(rs, 401, "invalid_client", "unsupported client authentication");
    } else if ((basic && (fsecret != NULL || (fid != NULL && strcmp(fid, bid) != 0))) ||
               (jwt && (basic || fsecret != NULL))) {
        /* RFC 6749 section 2.3: one method per request */
        mcp__as_oauth_error(rs, 400, "invalid_request", "more than one client authentication");
    } else if (jwt && (atype == NULL || strcmp(atype, ASSERTION_TYPE) != 0 ||
                       assertion == NULL || assertion[0] == '\0')) {
        mcp__as_oauth_error(rs, 401, "invalid_client",
                            "client_assertion_type must be " ASSERTION_TYPE
                            " with a client_assertion");
    } else if (id == NULL || id[0] == '\0') {
        mcp__as_oauth_error(rs, 401, "invalid_client", "no client identification");
    } else {
        mcp_error e;
        mcp_status rc = mcp__as_client_get(as, id, cl, &e);
        char hash[65];
        bool keys = rc == MCP_OK && cl->jwks != NULL && cl->jwks[0] != '\0';
        if (rc == MCP_ERR_NOT_FOUND || rc == MCP_ERR_INVALID_ARG) {
            mcp__as_oauth_error(rs, 401, "invalid_client", "client authentication failed");
        } else if (rc != MCP_OK) {
            mcp__log(MCP__LOG_ERROR, "as", "client authentication: %s", e.message);
            mcp__as_oauth_error(rs, 503, "temporarily_unavailable", "store unreadable");
        } else if (jwt != keys) {
            /* a key client proves itself with an assertion only, any other never with one */
            mcp__as_oauth_error(rs, 401, "invalid_client",
                                keys ? "this client authenticates with private_key_jwt"
                                     : "client authentication failed");
        } else if (jwt) {
            ok = assertion_ok(as, rq, cl, assertion, rs);
        } else if (cl->secret_hash[0] == '\0') {
            /* a public client: identification only, and it must not pretend to a secret */
            ok = secret == NULL;
            if (!ok)
                mcp__as_oauth_error(rs, 401, "invalid_client", "client authentication failed");
        } else {
            ok = secret != NULL && mcp__as_sha256_hex(secret, strlen(secret), hash) &&
                 mcp_ct_equal(hash, 64, cl->secret_hash, strlen(cl->secret_hash));
            if (!ok)
                mcp__as_oauth_error(rs, 401, "invalid_client", "client authentication failed");
        }
        if (!ok)
            mcp__store_as_client_cleanup(cl);
    }
    if (!ok && rs->status == 401 && basic)
        mcp__as_header(rs, "WWW-Authenticate", "Basic realm=\"token\"");
    mcp__free(bid);
    mcp__free(aid);
    if (bsecret != NULL)
        mcp_memzero(bsecret, strlen(bsecret));
    mcp__free(bsecret);
    return ok;
}

/*
 * The prologue of every endpoint a client authenticates to (/token, /revoke, /introspect):
 * POST only (405 with Allow), a form body without repeated names, the parameter `required`
 * present, then the client authenticated, and a confidential one when `confidential`.
 * true: *f and *cl are filled (client_post_end releases them); false: rs holds the answer.
 */
static bool
client_post(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs,
            const char *required, bool confidential, mcp__as_form *f, mcp__store_as_client *cl)
{
    memset(f, 0, sizeof *f);
    memset(cl, 0, sizeof *cl);
    if (strcmp(rq->method, "POST") != 0) {
        mcp__as_oauth_error(rs, 405, "invalid_request", "this endpoint takes POST");
        mcp__as_header(rs, "Allow", "POST");
        return false;
    }
    const char *ct = rq->header(rq, "Content-Type");
    if (ct == NULL || strncmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        mcp__as_oauth_error(rs, 400, "invalid_request",
                            "the body must be application/x-www-form-urlencoded");
        return false;
    }
    if (mcp__as_form_parse(f, rq->body, rq->body_len) != MCP_OK || f->dup) {
        mcp__as_form_cleanup(f);
        mcp__as_oauth_error(rs, 400, "invalid_request", "malformed or repeated parameters");
        return false;
    }
    const char *v = mcp__as_form_get(f, required);
    if (v == NULL || v[0] == '\0') {
        char *m = mcp__aprintf("%s is missing", required);
        mcp__as_oauth_error(rs, 400, "invalid_request", m != NULL ? m : "a parameter is missing");
        mcp__free(m);
    } else if (client_auth(as, rq, f, cl, rs)) {
        if (!confidential || mcp__as_client_confidential(cl))
            return true;
        mcp__as_oauth_error(rs, 401, "invalid_client", "this endpoint is for confidential clients");
        mcp__store_as_client_cleanup(cl);
    }
    mcp__as_form_cleanup(f);
    return false;
}

static void
client_post_end(mcp__as_form *f, mcp__store_as_client *cl)
{
    mcp__store_as_client_cleanup(cl);
    mcp__as_form_cleanup(f);
}

/* ---- issuing ---------------------------------------------------------------------------- */

/* The user's current permissions: false (rs filled) when the user is gone or disabled. */
static bool
current_perms(mcp_as *as, const char *subject, mcp_store_user_info *info,
              mcp_http_route_resp *rs)
{
    mcp_error e;
    mcp_status rc = mcp_store_user_lookup(as->opts.store, subject, info, &e);
    if (rc != MCP_OK) {
        mcp__log(MCP__LOG_ERROR, "as", "token: %s", e.message);
        mcp__as_oauth_error(rs, 503, "temporarily_unavailable", "store unreadable");
        return false;
    }
    if (!info->exists || !info->enabled) {
        mcp__as_oauth_error(rs, 400, "invalid_grant", "the user is disabled or removed");
        return false;
    }
    return true;
}

/* Mint the access token (and, with family != NULL, a refresh token of that family) and
 * answer. */
static void
respond(mcp_as *as, mcp_http_route_resp *rs, const char *subject, const char *client_id,
        const char *resource, const char *scope, const char *family)
{
    int64_t now = mcp__unix_now();
    char *at = NULL, *jti = NULL, *rt = NULL;
    mcp_error e;
    if (mcp__as_mint(as, subject, client_id, resource, scope, now, &at, &jti, &e) != MCP_OK) {
        mcp__log(MCP__LOG_ERROR, "as", "token: %s", e.message);
        mcp__as_oauth_error(rs, 500, "server_error", "cannot sign the token");
        return;
    }
    if (family != NULL) {
        char hash[65];
        mcp__store_as_grant g = {
            .client_id = (char *)client_id, .subject = (char *)subject,
            .resource = (char *)resource, .scope = (char *)scope, .family = (char *)family,
            .expires = now + (int64_t)as->opts.refresh_ttl_s,
        };
        if ((rt = mcp__as_random_token()) == NULL ||
            !mcp__as_sha256_hex(rt, strlen(rt), hash) ||
            mcp__store_as_refresh_put(as->opts.store, hash, &g, jti,
                                      now + (int64_t)as->opts.access_ttl_s + 60, now,
                                      &e) != MCP_OK) {
            mcp__log(MCP__LOG_ERROR, "as", "token: cannot store the refresh token");
            mcp__as_oauth_error(rs, 503, "temporarily_unavailable", "cannot store the grant");
            goto out;
        }
    }
    json_t *doc = json_pack("{s:s, s:s, s:I}", "access_token", at, "token_type", "Bearer",
                            "expires_in", (json_int_t)as->opts.access_ttl_s);
    if (doc != NULL && scope != NULL && scope[0] != '\0')
        json_object_set_new(doc, "scope", json_string(scope));
    if (doc != NULL && rt != NULL)
        json_object_set_new(doc, "refresh_token", json_string(rt));
    mcp__as_json(rs, 200, doc);
out:
    mcp_memzero(at, strlen(at));
    mcp__free(at);
    mcp__free(jti);
    if (rt != NULL)
        mcp_memzero(rt, strlen(rt));
    mcp__free(rt);
}

/* ---- grants ----------------------------------------------------------------------------- */

static void
grant_code(mcp_as *as, const mcp__as_form *f, const mcp__store_as_client *cl,
           mcp_http_route_resp *rs)
{
    const char *code = mcp__as_form_get(f, "code"), *verifier = mcp__as_form_get(f,
                                                                               "code_verifier");
    const char *redirect = mcp__as_form_get(f, "redirect_uri");
    const char *resource = mcp__as_form_get(f, "resource");
    if (code == NULL || code[0] == '\0') {
        mcp__as_oauth_error(rs, 400, "invalid_request", "code is missing");
        return;
    }
    if (verifier == NULL) {
        /* PKCE is mandatory (OAuth 2.1): without a verifier the code is not even looked at */
        mcp__as_oauth_error(rs, 400, "invalid_request", "code_verifier is missing");
        return;
    }
    char hash[65];
    mcp__store_as_grant g;
    mcp__store_as_take res = MCP__AS_TAKE_UNKNOWN;
    mcp_error e;
    int64_t now = mcp__unix_now();
    if (!mcp__as_sha256_hex(code, strlen(code), hash) ||
        mcp__store_as_code_take(as->opts.store, hash, now, &res, &g, &e) != MCP_OK) {
        mcp__as_oauth_error(rs, 503, "temporarily_unavailable", "store unreadable");
        return;
    }
    if (res == MCP__AS_TAKE_REUSED) {
        mcp__log(MCP__LOG_WARN, "as", "audit: authorization code reused (client %s); the tokens "
                 "issued for it are revoked", cl->id);
        mcp__as_oauth_error(rs, 400, "invalid_grant", "the code was already used");
        return;
    }
    if (res != MCP__AS_TAKE_OK) {
        mcp__as_oauth_error(rs, 400, "invalid_grant",
                            res == MCP__AS_TAKE_EXPIRED ? "the code expired" : "unknown code");
        return;
    }
    mcp_store_user_info info;
    mcp_store_user_info_init(&info);
    char *scope = NULL, *family = NULL;
    if (strcmp(g.client_id, cl->id) != 0) {
        mcp__as_oauth_error(rs, 400, "invalid_grant", "the code was issued to another client");
    } else if (g.redirect_uri[0] != '\0' ? redirect == NULL || strcmp(redirect,
                                                                        g.redirect_uri) != 0
                                         : redirect != NULL) {
        mcp__as_oauth_error(rs, 400, "invalid_grant", "redirect_uri does not match");
    } else if (!mcp__as_pkce_ok(verifier, g.challenge)) {
        mcp__as_oauth_error(rs, 400, "invalid_grant", "PKCE verification failed");
    } else if (resource != NULL && strcmp(resource, g.resource) != 0) {
        mcp__as_oauth_error(rs, 400, "invalid_target", "resource differs from the authorization");
    } else if (current_perms(as, g.subject, &info, rs)) {
        scope = mcp__as_scope_grant(g.scope[0] ? g.scope : NULL, info.permissions, NULL);
        family = mcp__as_random_token();
        if (scope == NULL || family == NULL) {
            mcp__as_oauth_error(rs, 500, "server_error", "out of memory");
        } else {
            respond(as, rs, g.subject, cl->id, g.resource, scope, family);
            if (rs->status == 200 &&
                mcp__store_as_code_set_family(as->opts.store, hash, family, &e) != MCP_OK)
                mcp__log(MCP__LOG_ERROR, "as", "token: %s", e.message);
        }
    }
    mcp__free(scope);
    mcp__free(family);
    mcp_store_user_info_cleanup(&info);
    mcp__store_as_grant_cleanup(&g);
}

static void
grant_refresh(mcp_as *as, const mcp__as_form *f, const mcp__store_as_client *cl,
              mcp_http_route_resp *rs)
{
    const char *rt = mcp__as_form_get(f, "refresh_token");
    const char *want = mcp__as_form_get(f, "scope"), *resource = mcp__as_form_get(f, "resource");
    if (rt == NULL || rt[0] == '\0') {
        mcp__as_oauth_error(rs, 400, "invalid_request", "refresh_token is missing");
        return;
    }
    if (!mcp__as_scope_ok(want)) {
        mcp__as_oauth_error(rs, 400, "invalid_scope", "malformed scope");
        return;
    }
    char hash[65];
    mcp__store_as_grant g;
    mcp__store_as_take res = MCP__AS_TAKE_UNKNOWN;
    mcp_error e;
    int64_t now = mcp__unix_now();
    if (!mcp__as_sha256_hex(rt, strlen(rt), hash) ||
        mcp__store_as_refresh_take(as->opts.store, hash, now, &res, &g, &e) != MCP_OK) {
        mcp__as_oauth_error(rs, 503, "temporarily_unavailable", "store unreadable");
        return;
    }
    if (res == MCP__AS_TAKE_REUSED) {
        mcp__log(MCP__LOG_WARN, "as", "audit: refresh token reused (client %s): family %.12s... "
                 "revoked", cl->id, g.family != NULL ? g.family : "?");
        mcp__store_as_grant_cleanup(&g);
        mcp__as_oauth_error(rs, 400, "invalid_grant", "the refresh token is no longer valid");
        return;
    }
    if (res != MCP__AS_TAKE_OK) {
        mcp__as_oauth_error(rs, 400, "invalid_grant",
                            res == MCP__AS_TAKE_EXPIRED ? "the refresh token expired"
                                                        : "unknown refresh token");
        return;
    }
    mcp_store_user_info info;
    mcp_store_user_info_init(&info);
    char *scope = NULL, *narrowed = NULL;
    if (strcmp(g.client_id, cl->id) != 0) {
        /* someone else's token: it is compromised, so its family goes */
        (void)mcp__store_as_family_revoke(as->opts.store, g.family, now, &e);
        mcp__as_oauth_error(rs, 400, "invalid_grant", "the refresh token is not this client's");
    } else if (resource != NULL && strcmp(resource, g.resource) != 0) {
        mcp__as_oauth_error(rs, 400, "invalid_target", "resource differs from the grant");
    } else if (current_perms(as, g.subject, &info, rs)) {
        /* never more than the original grant, never more than the roles allow today */
        narrowed = mcp__as_scope_grant(want, NULL, g.scope);
        scope = narrowed != NULL ? mcp__as_scope_grant(narrowed[0] ? narrowed : NULL,
                                                       info.permissions, NULL)
                                 : NULL;
        if (scope == NULL)
            mcp__as_oauth_error(rs, 500, "server_error", "out of memory");
        else if (want != NULL && want[0] != '\0' && narrowed[0] == '\0')
            mcp__as_oauth_error(rs, 400, "invalid_scope", "the scope exceeds the grant");
        else
            respond(as, rs, g.subject, cl->id, g.resource, scope, g.family);
    }
    mcp__free(scope);
    mcp__free(narrowed);
    mcp_store_user_info_cleanup(&info);
    mcp__store_as_grant_cleanup(&g);
}

static void
grant_client(mcp_as *as, const mcp__as_form *f, const mcp__store_as_client *cl,
             mcp_http_route_resp *rs)
{
    const char *want = mcp__as_form_get(f, "scope"), *resource = mcp__as_form_get(f, "resource");
    if (!mcp__as_client_confidential(cl) || cl->owner[0] == '\0') {
        mcp__as_oauth_error(rs, 400, "unauthorized_client",
                            "client_credentials needs a confidential client with an owner");
        return;
    }
    if (resource == NULL)
        resource = as->resources[0];
    if (!mcp__as_resource_ok(as, resource)) {
        mcp__as_oauth_error(rs, 400, "invalid_target", "resource is not served here");
        return;
    }
    if (!mcp__as_scope_ok(want)) {
        mcp__as_oauth_error(rs, 400, "invalid_scope", "malformed scope");
        return;
    }
    mcp_store_user_info info;
    mcp_store_user_info_init(&info);
    if (current_perms(as, cl->owner, &info, rs)) {
        char *scope = mcp__as_scope_grant(want, info.permissions, NULL);
        if (scope == NULL)
            mcp__as_oauth_error(rs, 500, "server_error", "out of memory");
        else if (want != NULL && strspn(want, " ") != strlen(want) && scope[0] == '\0')
            mcp__as_oauth_error(rs, 400, "invalid_scope", "none of the scopes is granted");
        else
            respond(as, rs, cl->owner, cl->id, resource, scope, NULL);
        mcp__free(scope);
    }
    mcp_store_user_info_cleanup(&info);
}

void
mcp__as_token(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs)
{
    mcp__as_form f;
    mcp__store_as_client cl;
    if (!client_post(as, rq, rs, "grant_type", false, &f, &cl))
        return;
    const char *gt = mcp__as_form_get(&f, "grant_type");
    if (strcmp(gt, "authorization_code") == 0)
        grant_code(as, &f, &cl, rs);
    else if (strcmp(gt, "refresh_token") == 0)
        grant_refresh(as, &f, &cl, rs);
    else if (strcmp(gt, "client_credentials") == 0)
        grant_client(as, &f, &cl, rs);
    else
        mcp__as_oauth_error(rs, 400, "unsupported_grant_type", "unsupported grant_type");
    client_post_end(&f, &cl);
}

/* ---- /revoke (RFC 7009) ----------------------------------------------------------------- */

/*
 * A refresh token revokes its family; an access token of ours (verified with our key) is
 * recorded as revoked by jti until its exp, which the resource server checks on every request.
 * Only the client the token was issued to may revoke it. Unknown, foreign or invalid tokens
 * get the same 200 (section 2.2), so the endpoint tells nothing about them.
 */
void
mcp__as_revoke(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs)
{
    mcp__as_form f;
    mcp__store_as_client cl;
    if (!client_post(as, rq, rs, "token", false, &f, &cl))
        return;
    const char *tok = mcp__as_form_get(&f, "token");
    mcp_error e;
    mcp_status rc = MCP_OK;
    int64_t now = mcp__unix_now();
    if (strchr(tok, '.') != NULL) {
        mcp_principal *p = NULL;
        if (mcp_jwt_verify(as->verifier, tok, strlen(tok), &p, &e) == MCP_OK) {
            const char *cid = mcp_principal_client_id(p), *jti = mcp_principal_jti(p);
            if (cid != NULL && jti != NULL && strcmp(cid, cl.id) == 0) {
                rc = mcp_store_token_revoke(as->opts.store, jti,
                                            mcp_principal_expires_at(p), &e);
                if (rc == MCP_OK)
                    mcp__log(MCP__LOG_INFO, "as", "audit: access token revoked by client %s",
                             cl.id);
            }
            mcp_principal_unref(p);
        }
    } else {
        char hash[65], *family = NULL, *owner = NULL;
        if (mcp__as_sha256_hex(tok, strlen(tok), hash))
            rc = mcp__store_as_refresh_owner(as->opts.store, hash, &family, &owner, &e);
        if (rc == MCP_OK && family != NULL && strcmp(owner, cl.id) == 0) {
            rc = mcp__store_as_family_revoke(as->opts.store, family, now, &e);
            if (rc == MCP_OK)
                mcp__log(MCP__LOG_INFO, "as", "audit: refresh family %.12s... revoked by "
                         "client %s", family, cl.id);
        }
        mcp__free(family);
        mcp__free(owner);
    }
    if (rc != MCP_OK) {
        mcp__log(MCP__LOG_ERROR, "as", "revoke: %s", e.message);
        mcp__as_oauth_error(rs, 503, "temporarily_unavailable", "store unreadable");
    } else {
        mcp__as_json(rs, 200, json_object());
    }
    client_post_end(&f, &cl);
}

/* ---- /introspect (RFC 7662) -------------------------------------------------------------- */

/*
 * For other resource servers: a confidential client asks about an access token. Active means:
 * signed by our key, not expired, its jti not revoked, its subject still enabled. Anything else
 * (refresh tokens included: they are for the client, not for resource servers) is
 * {"active":false}, with no reason given (section 2.2).
 */
void
mcp__as_introspect(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs)
{
    mcp__as_form f;
    mcp__store_as_client cl;
    if (!client_post(as, rq, rs, "token", true, &f, &cl))
        return;
    const char *tok = mcp__as_form_get(&f, "token");
    mcp_principal *p = NULL;
    mcp_error e;
    json_t *out = NULL;
    if (strchr(tok, '.') != NULL &&
        mcp_jwt_verify(as->verifier, tok, strlen(tok), &p, &e) == MCP_OK) {
        bool revoked = true;
        mcp_store_user_info info;
        mcp_store_user_info_init(&info);
        const char *jti = mcp_principal_jti(p), *sub = mcp_principal_subject(p);
        mcp_status rc = jti != NULL
                            ? mcp_store_token_is_revoked(as->opts.store, jti, &revoked, &e)
                            : MCP_ERR_INVALID_ARG;
        if (rc == MCP_OK && !revoked)
            rc = mcp_store_user_lookup(as->opts.store, sub, &info, &e);
        if (rc == MCP_OK && !revoked && info.exists && info.enabled) {
            json_error_t je;
            out = json_loads(mcp_principal_claims_json(p), 0, &je);
            if (out != NULL) {
                json_object_set_new(out, "active", json_true());
                json_object_set_new(out, "token_type", json_string("Bearer"));
            }
        } else if (rc != MCP_OK && rc != MCP_ERR_INVALID_ARG) {
            mcp__log(MCP__LOG_ERROR, "as", "introspect: %s", e.message);
        }
        mcp_store_user_info_cleanup(&info);
        mcp_principal_unref(p);
        mcp__as_json(rs, 200, out != NULL ? out : json_pack("{s:b}", "active", 0));
    } else {
        mcp__as_json(rs, 200, json_pack("{s:b}", "active", 0));
    }
    client_post_end(&f, &cl);
}
