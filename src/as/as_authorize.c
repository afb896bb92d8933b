/*
 * /authorize: the authorization endpoint with its login and consent page.
 *
 * GET checks the request and renders a form; POST (the form) checks it again, then the CSRF
 * token, the throttle and the password, and redirects back with a single-use code.
 *
 * Order of checks (RFC 6749 section 4.1.2.1): an unknown client or a redirect URI that is not
 * registered is answered here with an error page and never redirected to (no open redirect);
 * every later error goes back to the client's redirect URI with `error`, `state` and `iss`.
 *
 * CSRF: the form carries a token, HMAC-SHA256 (key derived from the signing key) over a random
 * cookie set with the page (HttpOnly, SameSite=Strict), the time and every parameter of the
 * request. A
 * cross-site form post has neither the cookie nor a matching token, and hidden fields changed
 * in the page break the MAC. The page cannot be framed (clickjacking). There is no login
 * session: the user enters the password for each authorization, so no cookie grants access.
 */
#include "as/internal.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSRF_COOKIE "mcp_as_csrf"
#define CSRF_MAX_AGE_S 600

typedef struct areq {
    const char *response_type, *client_id, *redirect_uri, *state, *challenge, *method, *resource,
        *scope;
    bool        dup;
} areq;

static const char *const PARAMS[] = { "response_type", "client_id", "redirect_uri", "state",
                                      "code_challenge", "code_challenge_method", "resource",
                                      "scope" };

static void
areq_fill(areq *a, const char *(*get)(const void *src, const char *name, unsigned *count),
          const void *src)
{
    const char **slots[] = { &a->response_type, &a->client_id, &a->redirect_uri, &a->state,
                             &a->challenge, &a->method, &a->resource, &a->scope };
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < sizeof PARAMS / sizeof PARAMS[0]; i++) {
        unsigned n = 0;
        *slots[i] = get(src, PARAMS[i], &n);
        if (n > 1)
            a->dup = true;
    }
}

static const char *
from_query(const void *src, const char *name, unsigned *count)
{
    const mcp_http_route_req *rq = src;
    return rq->query(rq, name, count);
}

static const char *
from_form(const void *src, const char *name, unsigned *count)
{
    const mcp__as_form *f = src;
    unsigned n = 0;
    const char *first = NULL;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->name[i], name) == 0 && n++ == 0)
            first = f->value[i];
    *count = n;
    return first;
}

/* ---- answers ---------------------------------------------------------------------------- */

static void
page_headers(mcp_http_route_resp *rs)
{
    rs->content_type = "text/html; charset=utf-8";
    mcp__as_header(rs, "Cache-Control", "no-store");
    mcp__as_header(rs, "X-Frame-Options", "DENY");
    mcp__as_header(rs, "Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    mcp__as_header(rs, "Referrer-Policy", "no-referrer");
}

static void
take_page(mcp_http_route_resp *rs, unsigned status, mcp_buf *b)
{
    if (mcp__buf_append(b, "", 1) != MCP_OK) {
        mcp__buf_cleanup(b);
        rs->status = 500;
        return;
    }
    size_t len;
    rs->body = mcp__buf_steal(b, &len);
    rs->body_len = strlen(rs->body);
    rs->status = status;
    page_headers(rs);
}

static void
error_page(mcp_http_route_resp *rs, unsigned status, const char *msg)
{
    mcp_buf b;
    mcp__buf_init(&b, 64u << 10);
    mcp__buf_appends(&b, "<!doctype html><html><head><meta charset=\"utf-8\"><title>Authorization "
                         "error</title></head><body><h1>Authorization error</h1><p>");
    mcp__as_html(&b, msg);
    mcp__buf_appends(&b, "</p></body></html>\n");
    take_page(rs, status, &b);
}

/* Back to the client with an error (RFC 6749 section 4.1.2.1, RFC 9207 `iss`). */
static void
error_redirect(mcp_as *as, mcp_http_route_resp *rs, const char *redirect, const char *state,
               const char *code, const char *desc)
{
    mcp_buf b;
    mcp__buf_init(&b, 16u << 10);
    mcp__buf_appends(&b, redirect);
    mcp__buf_appends(&b, strchr(redirect, '?') != NULL ? "&error=" : "?error=");
    mcp__as_urlencode(&b, code);
    mcp__buf_appends(&b, "&error_description=");
    mcp__as_urlencode(&b, desc);
    if (state != NULL) {
        mcp__buf_appends(&b, "&state=");
        mcp__as_urlencode(&b, state);
    }
    mcp__buf_appends(&b, "&iss=");
    mcp__as_urlencode(&b, as->issuer);
    if (mcp__buf_append(&b, "", 1) != MCP_OK) {
        mcp__buf_cleanup(&b);
        rs->status = 500;
        return;
    }
    rs->status = 302;
    mcp__as_header(rs, "Location", b.ptr);
    mcp__as_header(rs, "Cache-Control", "no-store");
    mcp__buf_cleanup(&b);
}

/* ---- checks ----------------------------------------------------------------------------- */

/* Is uri exactly one of the space-separated words of list (client metadata documents: no
 * loopback port wildcard)? */
static bool
exact_member(const char *list, const char *uri)
{
    size_t n = strlen(uri);
    for (const char *p = list; *p != '\0';) {
        size_t w = strcspn(p, " ");
        if (w == n && memcmp(p, uri, n) == 0)
            return true;
        p += w;
        while (*p == ' ')
            p++;
    }
    return false;
}

/*
 * Check the request. true: *cl is the client (clean it up), *redirect the redirect URI in
 * force (borrowed from a or cl). false: rs holds the answer already.
 */
static bool
check_request(mcp_as *as, const areq *a, mcp__store_as_client *cl, const char **redirect,
              mcp_http_route_resp *rs)
{
    memset(cl, 0, sizeof *cl);
    if (a->dup) {
        error_page(rs, 400, "A parameter was given more than once.");
        return false;
    }
    if (a->client_id == NULL || a->client_id[0] == '\0') {
        error_page(rs, 400, "The request names no client (client_id).");
        return false;
    }
    mcp_error e;
    mcp_status rc = mcp__as_client_get(as, a->client_id, cl, &e);
    if (rc == MCP_ERR_NOT_FOUND || rc == MCP_ERR_INVALID_ARG) {
        error_page(rs, 400, "Unknown client.");
        return false;
    }
    if (rc != MCP_OK) {
        mcp__log(MCP__LOG_ERROR, "as", "authorize: %s", e.message);
        error_page(rs, 503, "The authorization server cannot read its store.");
        return false;
    }
    /* RFC 6749 section 3.1.2.3: without redirect_uri only a client with exactly one */
    if (a->redirect_uri == NULL) {
        if (cl->redirect_uris[0] == '\0' || strchr(cl->redirect_uris, ' ') != NULL) {
            error_page(rs, 400, "The request names no redirect_uri.");
            mcp__store_as_client_cleanup(cl);
            return false;
        }
        *redirect = cl->redirect_uris;
    } else if (mcp__as_cimd_id(cl->id) ? !exact_member(cl->redirect_uris, a->redirect_uri)
                                       : !mcp__as_redirect_ok(cl->redirect_uris, a->redirect_uri)) {
        error_page(rs, 400, "The redirect_uri is not registered for this client.");
        mcp__store_as_client_cleanup(cl);
        return false;
    } else {
        *redirect = a->redirect_uri;
    }
    const char *st = a->state;
    const char *why = NULL, *code = "invalid_request";
    if (a->response_type == NULL || strcmp(a->response_type, "code") != 0) {
        code = "unsupported_response_type";
        why = "response_type must be code";
    } else if (a->challenge == NULL || a->challenge[0] == '\0') {
        why = "PKCE is required: code_challenge is missing";
    } else if (a->method == NULL || strcmp(a->method, "S256") != 0) {
        why = "code_challenge_method must be S256";
    } else if (strlen(a->challenge) != 43 || strspn(a->challenge,
                                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
                                                    "uvwxyz0123456789-_") != 43) {
        why = "code_challenge is not a base64url SHA-256";
    } else if (a->resource != NULL && !mcp__as_resource_ok(as, a->resource)) {
        code = "invalid_target";
        why = "resource is not served here";
    } else if (!mcp__as_scope_ok(a->scope) || (a->state != NULL && strlen(a->state) > 1024)) {
        why = "malformed scope or state";
    }
    if (why != NULL) {
        error_redirect(as, rs, *redirect, st, code, why);
        mcp__store_as_client_cleanup(cl);
        return false;
    }
    return true;
}

/* ---- CSRF ------------------------------------------------------------------------------- */

static char *
csrf_token(const mcp_as *as, const char *cookie, const char *ts, const areq *a,
           const char *redirect)
{
    mcp_buf b;
    mcp__buf_init(&b, 64u << 10);
    const char *parts[] = { cookie, ts, a->client_id, redirect, a->challenge,
                            a->resource ? a->resource : "", a->scope ? a->scope : "",
                            a->state ? a->state : "" };
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof parts / sizeof parts[0]; i++)
        ok = mcp__buf_appends(&b, parts[i]) == MCP_OK && mcp__buf_append(&b, "\n", 1) == MCP_OK;
    unsigned char mac[32];
    unsigned mlen = 0;
    char *out = NULL;
    if (ok && HMAC(EVP_sha256(), as->csrf_key, (int)sizeof as->csrf_key,
                   (const unsigned char *)b.ptr, b.len, mac, &mlen) != NULL && mlen == 32)
        out = mcp__b64url_encode(mac, sizeof mac);
    mcp__buf_cleanup(&b);
    return out;
}

/* The value of our cookie in a Cookie header, copied into out; false when absent. */
static bool
cookie_value(const char *hdr, char *out, size_t cap)
{
    const size_t nl = sizeof CSRF_COOKIE - 1;
    for (const char *p = hdr; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t n = strcspn(p, ";");
        if (n > nl + 1 && strncmp(p, CSRF_COOKIE "=", nl + 1) == 0 && n - nl - 1 < cap) {
            memcpy(out, p + nl + 1, n - nl - 1);
            out[n - nl - 1] = '\0';
            return true;
        }
        p += n;
    }
    return false;
}

/* ---- the page --------------------------------------------------------------------------- */

static void
hidden(mcp_buf *b, const char *name, const char *value)
{
    if (value == NULL)
        return;
    mcp__buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    mcp__as_html(b, value);
    mcp__buf_appends(b, "\">");
}

static void
login_page(mcp_as *as, mcp_http_route_resp *rs, unsigned status, const areq *a,
           const mcp__store_as_client *cl, const char *redirect, const char *cookie,
           bool new_cookie, const char *message)
{
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)mcp__unix_now());
    char *tok = csrf_token(as, cookie, ts, a, redirect);
    if (tok == NULL) {
        rs->status = 500;
        return;
    }
    mcp_buf b;
    mcp__buf_init(&b, 64u << 10);
    mcp__buf_appends(&b, "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in"
                         "</title></head><body><h1>Sign in</h1><p><b>");
    mcp__as_html(&b, cl->name[0] ? cl->name : cl->id);
    mcp__buf_appends(&b, "</b> asks for access to <code>");
    mcp__as_html(&b, a->resource ? a->resource : as->resources[0]);
    mcp__buf_appends(&b, "</code> with ");
    if (a->scope != NULL && a->scope[0] != '\0') {
        mcp__buf_appends(&b, "the scopes <code>");
        mcp__as_html(&b, a->scope);
        mcp__buf_appends(&b, "</code> (as far as your roles allow).</p>");
    } else {
        mcp__buf_appends(&b, "the permissions of your roles.</p>");
    }
    if (message != NULL) {
        mcp__buf_appends(&b, "<p role=\"alert\"><b>");
        mcp__as_html(&b, message);
        mcp__buf_appends(&b, "</b></p>");
    }
    mcp__buf_appends(&b, "<form method=\"post\" action=\"/authorize\">");
    hidden(&b, "response_type", a->response_type);
    hidden(&b, "client_id", a->client_id);
    hidden(&b, "redirect_uri", a->redirect_uri);
    hidden(&b, "state", a->state);
    hidden(&b, "code_challenge", a->challenge);
    hidden(&b, "code_challenge_method", a->method);
    hidden(&b, "resource", a->resource);
    hidden(&b, "scope", a->scope);
    hidden(&b, "csrf_ts", ts);
    hidden(&b, "csrf_token", tok);
    mcp__buf_appends(&b, "<p><label>User <input name=\"username\" autocomplete=\"username\" "
                         "required></label></p><p><label>Password <input type=\"password\" "
                         "name=\"password\" autocomplete=\"current-password\" required></label>"
                         "</p><p><button name=\"action\" value=\"allow\">Allow</button> "
                         "<button name=\"action\" value=\"deny\" formnovalidate>Deny</button>"
                         "</p></form></body></html>\n");
    mcp__free(tok);
    take_page(rs, status, &b);
    if (new_cookie) {
        char *c = mcp__aprintf(CSRF_COOKIE "=%s; Path=/authorize; HttpOnly; SameSite=Strict",
                               cookie);
        if (c != NULL)
            mcp__as_header(rs, "Set-Cookie", c);
        mcp__free(c);
    }
}

/* ---- POST: the login -------------------------------------------------------------------- */

static void
issue_code(mcp_as *as, mcp_http_route_resp *rs, const areq *a, const char *redirect,
           const char *subject, const char *scope)
{
    char *code = mcp__as_random_token();
    char hash[65];
    mcp__store_as_grant g = {
        .client_id = (char *)a->client_id,
        .subject = (char *)subject,
        .redirect_uri = (char *)(a->redirect_uri != NULL ? a->redirect_uri : ""),
        .challenge = (char *)a->challenge,
        .resource = (char *)(a->resource != NULL ? a->resource : as->resources[0]),
        .scope = (char *)scope,
        .expires = mcp__unix_now() + (int64_t)as->opts.code_ttl_s,
    };
    mcp_error e;
    if (code == NULL || !mcp__as_sha256_hex(code, strlen(code), hash) ||
        mcp__store_as_code_put(as->opts.store, hash, &g, &e) != MCP_OK) {
        if (code != NULL)
            mcp__log(MCP__LOG_ERROR, "as", "authorize: cannot store the code");
        mcp__free(code);
        error_redirect(as, rs, redirect, a->state, "server_error", "cannot issue a code");
        return;
    }
    mcp_buf b;
    mcp__buf_init(&b, 16u << 10);
    mcp__buf_appends(&b, redirect);
    mcp__buf_appends(&b, strchr(redirect, '?') != NULL ? "&code=" : "?code=");
    mcp__buf_appends(&b, code);
    if (a->state != NULL) {
        mcp__buf_appends(&b, "&state=");
        mcp__as_urlencode(&b, a->state);
    }
    mcp__buf_appends(&b, "&iss=");
    mcp__as_urlencode(&b, as->issuer);
    mcp_memzero(code, strlen(code));
    mcp__free(code);
    if (mcp__buf_append(&b, "", 1) != MCP_OK) {
        mcp__buf_cleanup(&b);
        rs->status = 500;
        return;
    }
    rs->status = 303;  /* after a POST: the browser follows with a GET */
    mcp__as_header(rs, "Location", b.ptr);
    mcp__as_header(rs, "Cache-Control", "no-store");
    mcp_memzero(b.ptr, b.len);
    mcp__buf_cleanup(&b);
}

static void
post(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs)
{
    const char *ct = rq->header(rq, "Content-Type");
    if (ct == NULL || strncmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        error_page(rs, 415, "The form must be sent as application/x-www-form-urlencoded.");
        return;
    }
    mcp__as_form f;
    if (mcp__as_form_parse(&f, rq->body, rq->body_len) != MCP_OK) {
        mcp__as_form_cleanup(&f);
        error_page(rs, 400, "Malformed form.");
        return;
    }
    areq a;
    areq_fill(&a, from_form, &f);
    mcp__store_as_client cl;
    const char *redirect = NULL;
    mcp_store_user_info info;
    mcp_store_user_info_init(&info);
    char *stored = NULL, *granted = NULL;
    if (!check_request(as, &a, &cl, &redirect, rs))
        goto out;

    char cookie[128];
    const char *ts = mcp__as_form_get(&f, "csrf_ts"), *tok = mcp__as_form_get(&f, "csrf_token");
    char *want = NULL;
    long long t = ts != NULL ? strtoll(ts, NULL, 10) : 0;
    int64_t now = mcp__unix_now();
    bool csrf = cookie_value(rq->header(rq, "Cookie"), cookie, sizeof cookie) && tok != NULL &&
                t > 0 && now - t <= CSRF_MAX_AGE_S && t - now <= 60 &&
                (want = csrf_token(as, cookie, ts, &a, redirect)) != NULL &&
                mcp_ct_equal(want, strlen(want), tok, strlen(tok));
    mcp__free(want);
    if (!csrf) {
        error_page(rs, 403, "The form expired or did not come from this server; "
                            "start the sign-in again.");
        goto out;
    }
    const char *action = mcp__as_form_get(&f, "action");
    if (action != NULL && strcmp(action, "deny") == 0) {
        error_redirect(as, rs, redirect, a.state, "access_denied", "the user denied access");
        goto out;
    }
    const char *user = mcp__as_form_get(&f, "username"), *pw = mcp__as_form_get(&f, "password");
    if (user == NULL || pw == NULL || user[0] == '\0' || strlen(user) > MCP_STORE_SUBJECT_MAX) {
        login_page(as, rs, 400, &a, &cl, redirect, cookie, false,
                   "Enter your user name and password.");
        goto out;
    }
    char ukey[MCP_STORE_SUBJECT_MAX + 3], akey[64];
    snprintf(ukey, sizeof ukey, "u:%s", user);
    snprintf(akey, sizeof akey, "a:%s", rq->peer);
    unsigned wait = mcp__as_throttle_wait(as, ukey, as->opts.login_fail_limit, now);
    unsigned wait2 = mcp__as_throttle_wait(as, akey, as->opts.login_fail_addr_limit, now);
    if (wait2 > wait)
        wait = wait2;
    if (wait > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", wait);
        login_page(as, rs, 429, &a, &cl, redirect, cookie, false,
                   "Too many failed sign-ins; try again later.");
        mcp__as_header(rs, "Retry-After", ra);
        mcp__log(MCP__LOG_WARN, "as", "login throttled from %s", rq->peer);
        goto out;
    }
    mcp_error e;
    mcp_status rc = mcp__store_as_password_get(as->opts.store, user, &stored, &e);
    if (rc == MCP_OK)
        rc = mcp_store_user_lookup(as->opts.store, user, &info, &e);
    if (rc != MCP_OK && rc != MCP_ERR_INVALID_ARG) {
        mcp__log(MCP__LOG_ERROR, "as", "authorize: %s", e.message);
        error_page(rs, 503, "The authorization server cannot read its store.");
        goto out;
    }
    /* always one scrypt run, known user or not (no timing oracle for user names) */
    bool ok = mcp__as_password_check(pw, strlen(pw), rc == MCP_OK ? stored : NULL) &&
              info.exists && info.enabled;
    if (!ok) {
        mcp__as_throttle_fail(as, ukey, now);
        mcp__as_throttle_fail(as, akey, now);
        mcp__log(MCP__LOG_INFO, "as", "failed sign-in from %s", rq->peer);
        login_page(as, rs, 401, &a, &cl, redirect, cookie, false,
                   "Invalid user name or password.");
        goto out;
    }
    mcp__as_throttle_reset(as, ukey);
    granted = mcp__as_scope_grant(a.scope, info.permissions, NULL);
    if (granted == NULL) {
        rs->status = 500;
        goto out;
    }
    if (a.scope != NULL && strspn(a.scope, " ") != strlen(a.scope) && granted[0] == '\0') {
        error_redirect(as, rs, redirect, a.state, "invalid_scope",
                       "none of the requested scopes is granted to this user");
        goto out;
    }
    issue_code(as, rs, &a, redirect, info.subject, granted);
    mcp__log(MCP__LOG_INFO, "as", "code issued to client %s for %s", a.client_id, info.subject);
out:
    mcp__free(granted);
    if (stored != NULL) {
        mcp_memzero(stored, strlen(stored));
        mcp__free(stored);
    }
    mcp_store_user_info_cleanup(&info);
    mcp__store_as_client_cleanup(&cl);
    mcp__as_form_cleanup(&f);
}

void
mcp__as_authorize(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs)
{
    if (strcmp(rq->method, "POST") == 0) {
        /* the sign-in computes an scrypt hash (tens of ms, 32 MiB): never on an IO thread */
        if (!rq->can_block)
            rs->defer = true;
        else
            post(as, rq, rs);
        return;
    }
    if (strcmp(rq->method, "GET") != 0) {
        error_page(rs, 405, "Method not allowed.");
        mcp__as_header(rs, "Allow", "GET, POST");
        return;
    }
    areq a;
    areq_fill(&a, from_query, rq);
    mcp__store_as_client cl;
    const char *redirect = NULL;
    if (!check_request(as, &a, &cl, &redirect, rs))
        return;
    char *cookie = mcp__as_random_token();
    if (cookie == NULL)
        rs->status = 500;
    else
        login_page(as, rs, 200, &a, &cl, redirect, cookie, true, NULL);
    mcp__free(cookie);
    mcp__store_as_client_cleanup(&cl);
}
