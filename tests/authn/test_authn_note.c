/*
 * The stand-alone AUTHN items (mcp_apikey_authn, mcp_jwt_authn) name the presented credential
 * to the failed-authentication limiter: a bad credential used from several client addresses
 * (127.0.0.2, .3, ...) is refused with 429 once it failed authn_fail_limit times, while other
 * credentials from those addresses are still verified; the combined item (mcp_authn_middleware)
 * likewise for a JWT, named from the digest its verifier computes. Real HTTP on loopback.
 */
#include "store/test_store_util.h"
#include "jwt/test_jwt_util.h"

#include <curl/curl.h>
#include <mcp/authn.h>
#include <mcp/server.h>

static mcp_status
ok_tool(mcp_ctx *ctx, void *udata, mcp_error *err)
{
    (void)udata;
    return mcp_ctx_add_text(ctx, "ok", err);
}

static void
start(mcp_middleware_fn authn, void *ctx, mcp_server **srv, char url[128])
{
    mcp_error err;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.stateless = true;
    so.workers = 1;
    so.authn_fail_limit = 2;
    assert_int_equal(mcp_server_new(&so, srv, &err), MCP_OK);
    mcp_tool_def t = { .name = "t", .description = "t", .access = { .any_authenticated = true },
                       .handler = ok_tool, .flags = MCP_TOOL_INLINE };
    assert_int_equal(mcp_server_add_tool(*srv, &t, NULL, &err), MCP_OK);
    assert_int_equal(mcp_server_use(*srv, MCP_PHASE_AUTHN, authn, ctx, &err), MCP_OK);
    mcp_http_opts ho;
    mcp_http_opts_default(&ho);
    ho.port = 0;
    ho.access_log = false;
    assert_int_equal(mcp_server_listen_http(*srv, &ho, &err), MCP_OK);
    snprintf(url, 128, "http://127.0.0.1:%u/mcp", (unsigned)mcp_server_http_port(*srv));
}

static size_t
discard(char *p, size_t sz, size_t n, void *ud)
{
    (void)p, (void)ud;
    return sz * n;
}

static long
post_from(const char *url, const char *cred, const char *src_ip)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char h[2048];
    snprintf(h, sizeof h, "Authorization: Bearer %s", cred);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Accept: application/json, text/event-stream");
    hl = curl_slist_append(hl, h);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_INTERFACE, src_ip);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    long status = 0;
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return status;
}

/* bad fails twice from two addresses, then is refused from a third; other is still checked
 * there and good is accepted. */
static void
expect_limited(const char *url, const char *bad, const char *other, const char *good)
{
    assert_int_equal(post_from(url, bad, "127.0.0.2"), 401);
    assert_int_equal(post_from(url, bad, "127.0.0.3"), 401);
    assert_int_equal(post_from(url, bad, "127.0.0.4"), 429);
    assert_int_equal(post_from(url, other, "127.0.0.4"), 401);
    assert_int_equal(post_from(url, good, "127.0.0.4"), 200);
}

static void
apikey_item_counts_the_credential(void **state)
{
    (void)state;
    tdir t;
    tdir_make(&t);
    mcp_store *st = open_store(t.db, 0);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(st, "alice", NULL, &err), MCP_OK);
    char *key = NULL;
    assert_int_equal(mcp_store_key_create(st, "alice", NULL, 0, &key, NULL, &err), MCP_OK);
    /* the same key id with a wrong secret, twice over */
    char bad[256], other[256];
    snprintf(bad, sizeof bad, "%s", key);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
    snprintf(other, sizeof other, "%s", key);
    other[strlen(other) - 2] = other[strlen(other) - 2] == 'A' ? 'B' : 'A';
    mcp_server *srv = NULL;
    char url[128];
    start(mcp_apikey_authn, st, &srv, url);
    /* the wrong secrets share the real key's id: the key itself is not locked out */
    expect_limited(url, bad, other, key);
    mcp_server_free(srv);
    mcp_memzero(key, strlen(key));
    mcp_free(key);
    mcp_store_close(st);
    tdir_remove(&t);
}

static void
jwt_item_counts_the_credential(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = tu_verifier(0);
    static const unsigned char secret[32] = "0123456789abcdef0123456789abcde";
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, "k1", "HS256", secret, 32, &err), MCP_OK);
    int64_t now = mcp__unix_now();
    char *good = tu_mint("HS256", secret, 32, "k1", "alice", now, 300, NULL);
    char *bad = tu_mint("HS256", secret, 32, "k1", "alice", now - 7200, 300, NULL);   /* expired */
    char *other = tu_mint("HS256", secret, 32, "k1", "bob", now - 7200, 300, NULL);
    mcp_server *srv = NULL;
    char url[128];
    start(mcp_jwt_authn, v, &srv, url);
    /* bad, other and good share the kid: failures with bad lock out neither */
    expect_limited(url, bad, other, good);
    mcp_server_free(srv);
    mcp_free(good);
    mcp_free(bad);
    mcp_free(other);
    mcp_jwt_verifier_free(v);
}

/* The combined item (mcp_authn_middleware) names a JWT by the digest its verifier computes
 * for the cache (one hash per token): the same limits as the stand-alone item. */
static void
combined_item_counts_the_jwt(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = tu_verifier(16);
    static const unsigned char secret[32] = "0123456789abcdef0123456789abcde";
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, "k1", "HS256", secret, 32, &err), MCP_OK);
    int64_t now = mcp__unix_now();
    char *good = tu_mint("HS256", secret, 32, "k1", "alice", now, 300, NULL);
    char *bad = tu_mint("HS256", secret, 32, "k1", "alice", now - 7200, 300, NULL);   /* expired */
    char *other = tu_mint("HS256", secret, 32, "k1", "bob", now - 7200, 300, NULL);
    mcp_authn_opts o;
    mcp_authn_opts_default(&o);
    o.jwt = v;
    mcp_authn *a = NULL;
    assert_int_equal(mcp_authn_new(&o, &a, &err), MCP_OK);
    mcp_server *srv = NULL;
    char url[128];
    start(mcp_authn_middleware, a, &srv, url);
    expect_limited(url, bad, other, good);
    assert_int_equal(post_from(url, good, "127.0.0.4"), 200);   /* now a cache hit */
    mcp_server_free(srv);
    mcp_authn_free(a);
    mcp_free(good);
    mcp_free(bad);
    mcp_free(other);
    mcp_jwt_verifier_free(v);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apikey_item_counts_the_credential),
        cmocka_unit_test(jwt_item_counts_the_credential),
        cmocka_unit_test(combined_item_counts_the_jwt),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
