/*
 * Combined authentication end to end: a real server configured through mcp_app_config_parse()
 * and mcp_app_setup() on 127.0.0.1, a real SQLite store, a scripted introspection endpoint, and
 * libcurl as the client. Checks how each credential shape is routed and the exact 401/503
 * answers (status, WWW-Authenticate, JSON-RPC error), and that no answer echoes the credential.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/app.h>
#include <mcp/authn.h>
#include <mcp/jwt.h>
#include <mcp/store.h>

#include "authn/test_introspect_util.h"
#include "common/common.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <unistd.h>

#define ISS "https://as.test"
#define HS_SECRET "0123456789abcdef0123456789abcdef"

static char dir[256];
static fake_as AS;

typedef struct server {
    mcp_app_config cfg;
    mcp_server    *srv;
    char           url[128];
    char           prm_url[160];
} server;

typedef struct reply {
    long status;
    char www[1024];
    char body[16384];
    size_t blen;
} reply;

/* ---- plumbing ---------------------------------------------------------------------------- */

static mcp_status
whoami(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    const mcp_principal *p = mcp_ctx_principal(ctx);
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s|%s|", p ? mcp_principal_subject(p) : "-",
                     mcp_cred_kind_name(p ? mcp_principal_kind(p) : MCP_CRED_NONE));
    for (size_t i = 0; p != NULL && i < mcp_principal_permission_count(p) && n > 0
                       && (size_t)n < sizeof buf; i++)   /* "subject|kind|perm perm" */
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%s", i ? " " : "",
                      mcp_principal_permission(p, i));
    return mcp_ctx_add_text(ctx, buf, err);
}

static void
write_file(const char *name, const char *content, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void
server_start(server *s, const char **args)
{
    char *argv[48];
    int argc = 0;
    argv[argc++] = (char *)"test";
    for (; *args != NULL; args++)
        argv[argc++] = (char *)*args;
    assert_int_equal(mcp_app_config_parse(&s->cfg, argc, argv, "test", NULL, NULL, NULL), -1);
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    mcp_app_server_opts(&s->cfg, &so);    /* --authn-fail-limit and the like */
    so.workers = 2;
    so.stateless = true;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &s->srv, &err), MCP_OK);
    mcp_tool_def d = { .name = "whoami", .description = "who is calling",
                       .access = { .any_authenticated = true }, .handler = whoami };
    assert_int_equal(mcp_server_add_tool(s->srv, &d, NULL, &err), MCP_OK);
    if (mcp_app_setup(&s->cfg, s->srv, &err) != MCP_OK)
        fail_msg("setup: %s", err.message);
    mcp_http_opts ho;
    mcp_app_http_opts(&s->cfg, &ho);
    if (mcp_server_listen_http(s->srv, &ho, &err) != MCP_OK)
        fail_msg("listen: %s", err.message);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u/mcp",
             (unsigned)mcp_server_http_port(s->srv));
    snprintf(s->prm_url, sizeof s->prm_url,
             "http://127.0.0.1:%u/.well-known/oauth-protected-resource/mcp",
             (unsigned)mcp_server_http_port(s->srv));
    assert_string_equal(mcp_app_resource_url(&s->cfg), s->url);
}

static void
server_stop(server *s)
{
    mcp_server_free(s->srv);
    mcp_app_config_cleanup(&s->cfg);
}

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
    reply *r = ud;
    size_t len = sz * n;
    size_t room = sizeof r->body - 1 - r->blen;
    size_t take = len < room ? len : room;
    memcpy(r->body + r->blen, p, take);
    r->blen += take;
    r->body[r->blen] = '\0';
    return len;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
    reply *r = ud;
    size_t len = sz * n;
    static const char name[] = "www-authenticate:";
    if (len > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0) {
        const char *v = p + sizeof name - 1;
        while (*v == ' ')
            v++;
        size_t vl = len - (size_t)(v - p);
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        snprintf(r->www, sizeof r->www, "%.*s", (int)vl, v);
    }
    return len;
}

/* POST tools/call whoami with extra headers (NULL-terminated). */
static void
call(const server *s, reply *r, const char *h1, const char *h2)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Accept: application/json, text/event-stream");
    hl = curl_slist_append(hl, "MCP-Protocol-Version: " MCP_PROTOCOL_LATEST);
    if (h1 != NULL)
        hl = curl_slist_append(hl, h1);
    if (h2 != NULL)
        hl = curl_slist_append(hl, h2);
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"whoami\",\"arguments\":{}}}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

static void
get(const char *url, reply *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
}

static void
expect_ok(const server *s, const char *h1, const char *h2, const char *who)
{
    reply r;
    call(s, &r, h1, h2);
    if (r.status != 200 || strstr(r.body, who) == NULL)
        fail_msg("want 200 with %s, got %ld %s / %s", who, r.status, r.www, r.body);
}

/* A 401: the exact challenge error and description, the resource_metadata URL, and the
 * credential (the part of h1 after the first space) appears nowhere in the answer. */
static void
expect_401(const server *s, const char *h1, const char *h2, const char *error, const char *desc)
{
    reply r;
    call(s, &r, h1, h2);
    char want[1024];
    if (error[0] == '\0')     /* no credentials: no error information (RFC 6750 section 3.1) */
        snprintf(want, sizeof want, "Bearer resource_metadata=\"%s\"", s->prm_url);
    else
        snprintf(want, sizeof want,
                 "Bearer error=\"%s\", error_description=\"%s\", resource_metadata=\"%s\"",
                 error, desc, s->prm_url);
    assert_non_null(strstr(r.body, desc));
    if (r.status != 401 || strcmp(r.www, want) != 0)
        fail_msg("want 401 [%s], got %ld [%s] %s", want, r.status, r.www, r.body);
    assert_non_null(strstr(r.body, "\"code\":-32001"));
    const char *cred = h1 ? strchr(h1, ' ') : NULL;
    if (cred != NULL && strlen(cred) > 8) {
        cred = strrchr(h1, ' ') + 1;
        assert_null(strstr(r.body, cred));
        assert_null(strstr(r.www, cred));
    }
}

static char *
mint(const char *aud, const char *sub, const char *jti, long ttl)
{
    char claims[512];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"exp\":%lld,\"jti\":\"%s\","
             "\"scope\":\"tools:call\"}",
             ISS, aud, sub, (long long)(mcp__unix_now() + ttl), jti);
    char *tok = NULL;
    mcp_error err;
    assert_int_equal(mcp_jwt_sign("HS256", HS_SECRET, strlen(HS_SECRET), claims, NULL, &tok, &err),
                     MCP_OK);
    return tok;
}

static void
hdr(char *buf, size_t cap, const char *name, const char *value)
{
    snprintf(buf, cap, "%s: %s", name, value);
}

static int
setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(dir, sizeof dir, "/tmp/mcp-test-authn-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    return fake_as_start(&AS);
}

static int
teardown(void **state)
{
    (void)state;
    fake_as_free(&AS);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    curl_global_cleanup();
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void
authn_routes_each_credential_kind(void **state)
{
    (void)state;
    char sec[300], isec[300], db[300];
    write_file("hs.key", HS_SECRET "\n", sec, sizeof sec);
    write_file("intro.secret", "introspector-secret\n", isec, sizeof isec);
    snprintf(db, sizeof db, "%s/all.db", dir);
    server s;
    server_start(&s, (const char *[]){ "--listen", "127.0.0.1:0", "--no-access-log", "--auth",
                                       "apikey,jwt,introspection", "--db", db, "--db-create",
                                       "--jwt-secret-file", sec, "--issuer", ISS,
                                       "--introspection-url", AS.url, "--introspection-client-id",
                                       "rs", "--introspection-client-secret-file", isec, NULL });
    mcp_store *store = mcp_app_store(&s.cfg);
    assert_non_null(store);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(store, "bob", "Bob", &err), MCP_OK);
    char *key = NULL, *key2 = NULL;
    char kid[MCP_APIKEY_ID_LEN + 1], kid2[MCP_APIKEY_ID_LEN + 1];
    assert_int_equal(mcp_store_key_create(store, "bob", "k1", 0, &key, kid, &err), MCP_OK);
    assert_int_equal(mcp_store_key_create(store, "bob", "k2", 0, &key2, kid2, &err), MCP_OK);
    char a[2048], b[2048];

    /* no credential */
    expect_401(&s, NULL, NULL, "", "missing Authorization header");

    /* JWT */
    char *good = mint(s.url, "alice", "jti-1", 600);
    hdr(a, sizeof a, "Authorization", "Bearer ");
    strncat(a, good, sizeof a - strlen(a) - 1);
    expect_ok(&s, a, NULL, "alice|jwt");
    snprintf(a, sizeof a, "authorization: bEaReR %s", good);       /* scheme case-insensitive */
    expect_ok(&s, a, NULL, "alice|jwt");
    char *other = mint("http://127.0.0.1:1/mcp", "alice", "jti-2", 600);
    snprintf(a, sizeof a, "Authorization: Bearer %s", other);
    expect_401(&s, a, NULL, "invalid_token", "audience mismatch");
    char *expired = mint(s.url, "alice", "jti-3", -3600);
    snprintf(a, sizeof a, "Authorization: Bearer %s", expired);
    expect_401(&s, a, NULL, "invalid_token", "token expired");
    /* a revoked jti (mcp-admin token revoke) */
    char *revoked = mint(s.url, "alice", "jti-revoked", 600);
    assert_int_equal(mcp_store_token_revoke(store, "jti-revoked", 0, &err), MCP_OK);
    mcp_store_invalidate(store);
    snprintf(a, sizeof a, "Authorization: Bearer %s", revoked);
    expect_401(&s, a, NULL, "invalid_token", "token revoked");

    /* API keys, either header */
    snprintf(a, sizeof a, "Authorization: Bearer %s", key);
    expect_ok(&s, a, NULL, "bob|api_key");
    snprintf(a, sizeof a, "X-API-Key: %s", key);
    expect_ok(&s, a, NULL, "bob|api_key");
    assert_int_equal(mcp_store_key_revoke(store, kid2, &err), MCP_OK);
    mcp_store_invalidate(store);
    snprintf(a, sizeof a, "Authorization: Bearer %s", key2);
    reply r;
    call(&s, &r, a, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.www, "revoked"));
    assert_null(strstr(r.body, key2));

    /* opaque tokens go to introspection */
    char ans[512];
    snprintf(ans, sizeof ans, "{\"active\":true,\"sub\":\"svc\",\"iss\":\"%s\",\"aud\":\"%s\","
             "\"exp\":%lld}", ISS, s.url, (long long)mcp__unix_now() + 600);
    fake_as_set(&AS, 200, ans);
    fake_as_set_good_token(&AS, "opaque-good-token");
    expect_ok(&s, "Authorization: Bearer opaque-good-token", NULL, "svc|introspection");
    expect_401(&s, "Authorization: Bearer opaque-bad-token", NULL, "invalid_token",
               "token inactive");
    /* the introspection endpoint failing: 503, no challenge, fail closed */
    fake_as_set(&AS, 500, "{}");
    call(&s, &r, "Authorization: Bearer opaque-other-token", NULL);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.www, "");
    assert_null(strstr(r.body, "opaque-other-token"));
    /* ... while a cached result still serves */
    expect_ok(&s, "Authorization: Bearer opaque-good-token", NULL, "svc|introspection");

    /* malformed headers */
    expect_401(&s, "Authorization: Basic Ym9iOnNlY3JldA==", NULL, "invalid_request",
               "Authorization scheme is not Bearer");
    expect_401(&s, "Authorization: Bearerx abc", NULL, "invalid_request",
               "Authorization scheme is not Bearer");
    expect_401(&s, "Authorization: Bearer", NULL, "invalid_request",
               "malformed Authorization header");
    expect_401(&s, "Authorization: Bearer two words", NULL, "invalid_request",
               "malformed Authorization header");
    expect_401(&s, "Authorization: Bearer a\"b", NULL, "invalid_request",
               "malformed Authorization header");
    snprintf(a, sizeof a, "Authorization: Bearer %s", good);
    snprintf(b, sizeof b, "X-API-Key: %s", key);
    expect_401(&s, a, b, "invalid_request", "both Authorization and X-API-Key headers present");
    snprintf(a, sizeof a, "X-API-Key: %s", good);
    expect_401(&s, a, NULL, "invalid_token", "X-API-Key does not hold an API key");
    expect_401(&s, "X-API-Key: mcp_short", NULL, "invalid_token", "API key malformed");

    /* the metadata */
    get(s.prm_url, &r);
    assert_int_equal(r.status, 200);
    json_t *prm = json_loads(r.body, 0, NULL);
    assert_non_null(prm);
    assert_string_equal(json_string_value(json_object_get(prm, "resource")), s.url);
    assert_string_equal(json_string_value(json_array_get(json_object_get(prm,
                                                          "authorization_servers"), 0)), ISS);
    json_decref(prm);

    mcp_memzero(key, strlen(key));
    mcp_free(key);
    mcp_memzero(key2, strlen(key2));
    mcp_free(key2);
    mcp_free(good);
    mcp_free(other);
    mcp_free(expired);
    mcp_free(revoked);
    fake_as_set_good_token(&AS, NULL);
    server_stop(&s);
}

static void
authn_names_the_kind_that_is_not_enabled(void **state)
{
    (void)state;
    char sec[300], db[300];
    write_file("hs2.key", HS_SECRET, sec, sizeof sec);
    snprintf(db, sizeof db, "%s/jwtonly.db", dir);
    server s;
    server_start(&s, (const char *[]){ "--listen", "127.0.0.1:0", "--no-access-log", "--auth",
                                       "jwt", "--db", db, "--db-create", "--jwt-secret-file", sec,
                                       "--issuer", ISS, NULL });
    mcp_store *store = mcp_app_store(&s.cfg);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(store, "bob", NULL, &err), MCP_OK);
    char *key = NULL;
    assert_int_equal(mcp_store_key_create(store, "bob", NULL, 0, &key, NULL, &err), MCP_OK);
    char a[512];
    snprintf(a, sizeof a, "Authorization: Bearer %s", key);
    expect_401(&s, a, NULL, "invalid_token", "API key authentication is not enabled");
    snprintf(a, sizeof a, "X-API-Key: %s", key);
    expect_401(&s, a, NULL, "invalid_token", "API key authentication is not enabled");
    expect_401(&s, "Authorization: Bearer opaque-token-value", NULL, "invalid_token",
               "opaque tokens are not accepted (token introspection is not enabled)");
    char *tok = mint(s.url, "carol", "j", 600);
    snprintf(a, sizeof a, "Authorization: Bearer %s", tok);
    expect_ok(&s, a, NULL, "carol|jwt");
    mcp_free(tok);
    mcp_memzero(key, strlen(key));
    mcp_free(key);
    server_stop(&s);

    /* API keys only: a JWT is refused by name */
    snprintf(db, sizeof db, "%s/keysonly.db", dir);
    server_start(&s, (const char *[]){ "--listen", "127.0.0.1:0", "--no-access-log", "--auth",
                                       "apikey", "--db", db, "--db-create", NULL });
    tok = mint(s.url, "carol", "j", 600);
    snprintf(a, sizeof a, "Authorization: Bearer %s", tok);
    expect_401(&s, a, NULL, "invalid_token", "JWT authentication is not enabled");
    mcp_free(tok);
    server_stop(&s);
}

static void
authn_sends_jws_to_introspection_when_no_jwt_verifier(void **state)
{
    (void)state;
    char isec[300];
    write_file("intro2.secret", "introspector-secret", isec, sizeof isec);
    server s;
    server_start(&s, (const char *[]){ "--listen", "127.0.0.1:0", "--no-access-log", "--auth",
                                       "introspection", "--introspection-url", AS.url,
                                       "--introspection-client-id", "rs",
                                       "--introspection-client-secret-file", isec,
                                       "--introspection-cache-ttl", "0", NULL });
    char ans[512];
    snprintf(ans, sizeof ans, "{\"active\":true,\"sub\":\"dave\",\"aud\":[\"%s\"],\"scope\":\"a\"}",
             s.url);
    fake_as_set(&AS, 200, ans);
    char *tok = mint(s.url, "ignored", "j", 600);
    fake_as_set_good_token(&AS, tok);
    char a[1024];
    snprintf(a, sizeof a, "Authorization: Bearer %s", tok);
    unsigned before = fake_as_requests(&AS);
    expect_ok(&s, a, NULL, "dave|introspection");
    expect_ok(&s, a, NULL, "dave|introspection");
    assert_int_equal(fake_as_requests(&AS), before + 2);     /* cache ttl 0: no cache */
    assert_string_equal(AS.last_auth, "Basic cnM6aW50cm9zcGVjdG9yLXNlY3JldA==");
    fake_as_set_good_token(&AS, NULL);
    mcp_free(tok);
    server_stop(&s);
}

/* POST ping with one Authorization header, from a chosen loopback source address. */
static long
post_from(const server *s, const char *auth, const char *src_ip)
{
    reply r;
    memset(&r, 0, sizeof r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char h[2048];
    snprintf(h, sizeof h, "Authorization: Bearer %s", auth);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Accept: application/json, text/event-stream");
    hl = curl_slist_append(hl, h);
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_INTERFACE, src_ip);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return r.status;
}

/* The failed-authentication limiter also counts per presented credential (its hash): a bad
 * token replayed from many addresses is refused before verification, while nobody can lock out
 * a credential they do not hold. */
static void
authn_limits_failures_per_credential(void **state)
{
    (void)state;
    char sec[300];
    write_file("hs4.key", HS_SECRET, sec, sizeof sec);
    server s;
    server_start(&s, (const char *[]){ "--listen", "127.0.0.1:0", "--no-access-log", "--auth",
                                       "jwt", "--jwt-secret-file", sec, "--issuer", ISS,
                                       "--authn-fail-limit", "3", NULL });
    char *expired = mint(s.url, "alice", "j-exp", -3600);
    char *good = mint(s.url, "alice", "j-ok", 600);
    /* three failures from three addresses: each address is far from its own limit */
    assert_int_equal(post_from(&s, expired, "127.0.0.2"), 401);
    assert_int_equal(post_from(&s, expired, "127.0.0.3"), 401);
    assert_int_equal(post_from(&s, expired, "127.0.0.4"), 401);
    /* the fourth use of that credential, from a fresh address: refused unverified */
    assert_int_equal(post_from(&s, expired, "127.0.0.5"), 429);
    /* that address is not blocked for another credential, nor is a good token anywhere */
    char *other = mint(s.url, "bob", "j-exp2", -3600);
    assert_int_equal(post_from(&s, other, "127.0.0.5"), 401);
    assert_int_equal(post_from(&s, good, "127.0.0.5"), 200);
    assert_int_equal(post_from(&s, good, "127.0.0.2"), 200);
    mcp_free(expired);
    mcp_free(good);
    mcp_free(other);
    server_stop(&s);
}

/* An HS256 JWS with the header `typ` of our choice (mcp_jwt_sign always writes "JWT"). */
static char *
mint_typ(const char *typ, const char *aud, const char *sub)
{
    char header[128], claims[512];
    snprintf(header, sizeof header, "{\"alg\":\"HS256\",\"typ\":\"%s\"}", typ);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"exp\":%lld,\"iat\":%lld,"
             "\"nonce\":\"n-1\"}",
             ISS, aud, sub, (long long)(mcp__unix_now() + 600), (long long)mcp__unix_now());
    char *h = mcp__b64url_encode((const unsigned char *)header, strlen(header));
    char *c = mcp__b64url_encode((const unsigned char *)claims, strlen(claims));
    assert_non_null(h);
    assert_non_null(c);
    char input[1024];
    snprintf(input, sizeof input, "%s.%s", h, c);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    assert_non_null(HMAC(EVP_sha256(), HS_SECRET, (int)strlen(HS_SECRET),
                         (const unsigned char *)input, strlen(input), mac, &maclen));
    char *sig = mcp__b64url_encode(mac, maclen);
    assert_non_null(sig);
    char *tok = malloc(strlen(input) + strlen(sig) + 2);
    assert_non_null(tok);
    sprintf(tok, "%s.%s", input, sig);
    mcp__free(h);
    mcp__free(c);
    mcp__free(sig);
    return tok;
}

static void
authn_require_at_jwt_refuses_id_tokens(void **state)
{
    (void)state;
    char sec[300], a[2048];
    write_file("hs3.key", HS_SECRET, sec, sizeof sec);
    server s;
    /* without the flag: an ID token (typ JWT) whose aud is our resource URL is accepted */
    server_start(&s, (const char *[]){ "--listen", "127.0.0.1:0", "--no-access-log", "--auth",
                                       "jwt", "--jwt-secret-file", sec, "--issuer", ISS, NULL });
    char *id_token = mint_typ("JWT", s.url, "erin");
    snprintf(a, sizeof a, "Authorization: Bearer %s", id_token);
    expect_ok(&s, a, NULL, "erin|jwt");
    free(id_token);
    server_stop(&s);

    server_start(&s, (const char *[]){ "--listen", "127.0.0.1:0", "--no-access-log", "--auth",
                                       "jwt", "--jwt-secret-file", sec, "--issuer", ISS,
                                       "--require-at-jwt", NULL });
    assert_true(s.cfg.require_at_jwt);
    id_token = mint_typ("JWT", s.url, "erin");
    snprintf(a, sizeof a, "Authorization: Bearer %s", id_token);
    expect_401(&s, a, NULL, "invalid_token", "typ mismatch");
    char *at = mint_typ("at+jwt", s.url, "erin");
    snprintf(a, sizeof a, "Authorization: Bearer %s", at);
    expect_ok(&s, a, NULL, "erin|jwt");
    free(at);
    at = mint_typ("application/at+jwt", s.url, "erin");    /* RFC 8725 section 3.11 form */
    snprintf(a, sizeof a, "Authorization: Bearer %s", at);
    expect_ok(&s, a, NULL, "erin|jwt");
    free(at);
    free(id_token);
    server_stop(&s);

    /* the flag belongs to --auth jwt */
    mcp_app_config cfg;
    char *argv[] = { (char *)"test", (char *)"--require-at-jwt", NULL };
    assert_int_equal(mcp_app_config_parse(&cfg, 2, argv, "test", NULL, NULL, NULL), 2);
}

static void
authn_classifies_by_shape(void **state)
{
    (void)state;
    assert_int_equal(mcp_authn_classify("mcp_abc_def", 11), MCP_CREDENTIAL_API_KEY);
    assert_int_equal(mcp_authn_classify("a.b.c", 5), MCP_CREDENTIAL_JWS);
    assert_int_equal(mcp_authn_classify("eyJ-_.eyJ.sig", 13), MCP_CREDENTIAL_JWS);
    assert_int_equal(mcp_authn_classify("a..c", 4), MCP_CREDENTIAL_OPAQUE);
    assert_int_equal(mcp_authn_classify(".b.c", 4), MCP_CREDENTIAL_OPAQUE);
    assert_int_equal(mcp_authn_classify("a.b.", 4), MCP_CREDENTIAL_OPAQUE);
    assert_int_equal(mcp_authn_classify("a.b.c.d", 7), MCP_CREDENTIAL_OPAQUE);
    assert_int_equal(mcp_authn_classify("a.b", 3), MCP_CREDENTIAL_OPAQUE);
    assert_int_equal(mcp_authn_classify("a+b.c.d", 7), MCP_CREDENTIAL_OPAQUE);
    assert_int_equal(mcp_authn_classify("opaque", 6), MCP_CREDENTIAL_OPAQUE);

    mcp_authn_opts o;
    mcp_authn_opts_default(&o);
    mcp_authn *a = NULL;
    mcp_error err;
    assert_int_equal(mcp_authn_new(&o, &a, &err), MCP_ERR_INVALID_ARG);   /* nothing enabled */
    o.api_keys = true;
    assert_int_equal(mcp_authn_new(&o, &a, &err), MCP_ERR_INVALID_ARG);   /* no store */
    assert_null(a);
    mcp_authn_free(NULL);
}

/* --subject-claim / --permission-claim: --issuer's tokens read through the paths (the subject
 * from a nested claim, permissions from Keycloak's client roles and a namespaced claim); a token
 * without the subject path is refused with the reason. */
static void
authn_claim_paths_from_the_command_line(void **state)
{
    (void)state;
    char sec[300];
    write_file("hs.key", HS_SECRET "\n", sec, sizeof sec);
    server s;
    server_start(&s, (const char *[]){ "--listen", "127.0.0.1:0", "--no-access-log", "--auth",
                                       "jwt", "--jwt-secret-file", sec, "--issuer", ISS,
                                       "--subject-claim", "user.id", "--permission-claim",
                                       "resource_access.my-client.roles", "--permission-claim",
                                       "https://example\\.com/perms", NULL });
    char claims[1024];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"kc-sub\",\"exp\":%lld,"
             "\"user\":{\"id\":\"u-9\"},\"resource_access\":{\"my-client\":{\"roles\":"
             "[\"Products.Write\"]},\"other\":{\"roles\":[\"Not.Mine\"]}},"
             "\"https://example.com/perms\":\"Ns.One Ns.Two\"}",
             ISS, s.url, (long long)(mcp__unix_now() + 600));
    char *tok = NULL;
    mcp_error err;
    assert_int_equal(mcp_jwt_sign("HS256", HS_SECRET, strlen(HS_SECRET), claims, NULL, &tok, &err),
                     MCP_OK);
    char a[2048];
    snprintf(a, sizeof a, "Authorization: Bearer %s", tok);
    expect_ok(&s, a, NULL, "u-9|jwt|Products.Write Ns.One Ns.Two");
    mcp_free(tok);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"kc-sub\",\"exp\":%lld}", ISS, s.url,
             (long long)(mcp__unix_now() + 600));
    assert_int_equal(mcp_jwt_sign("HS256", HS_SECRET, strlen(HS_SECRET), claims, NULL, &tok, &err),
                     MCP_OK);
    snprintf(a, sizeof a, "Authorization: Bearer %s", tok);
    expect_401(&s, a, NULL, "invalid_token", "missing subject claim user.id");
    mcp_free(tok);
    server_stop(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(authn_routes_each_credential_kind),
        cmocka_unit_test(authn_names_the_kind_that_is_not_enabled),
        cmocka_unit_test(authn_sends_jws_to_introspection_when_no_jwt_verifier),
        cmocka_unit_test(authn_classifies_by_shape),
        cmocka_unit_test(authn_require_at_jwt_refuses_id_tokens),
        cmocka_unit_test(authn_limits_failures_per_credential),
        cmocka_unit_test(authn_claim_paths_from_the_command_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
