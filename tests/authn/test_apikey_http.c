/* mcp_apikey_authn in a real server: Streamable HTTP on 127.0.0.1, requests with libcurl.
 * Checks status codes, the WWW-Authenticate challenge, that the principal reaches the handler
 * and the authorization phase, and the 503 when the store is unreadable. */
#include "test_authn_server.h"
#include "store/test_store_util.h"

#include <curl/curl.h>
#include <mcp/server.h>

typedef struct fixture {
    tdir        t;
    mcp_store  *store;
    mcp_server *srv;
    char        url[128];
    char       *alice_key; /* admin */
    char       *bob_key;   /* user */
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    tdir_make(&f->t);
    f->store = open_store(f->t.db, 0);
    mcp_error err;
    assert_int_equal(mcp_store_user_add_with_roles(f->store, "alice", "Alice",
                                                   (const char *const[]){ "admin", NULL }, &err),
                     MCP_OK);
    assert_int_equal(mcp_store_user_add_with_roles(f->store, "bob", NULL,
                                                   (const char *const[]){ "user", NULL }, &err),
                     MCP_OK);
    assert_int_equal(mcp_store_key_create(f->store, "alice", NULL, 0, &f->alice_key, NULL, &err),
                     MCP_OK);
    assert_int_equal(mcp_store_key_create(f->store, "bob", NULL, 0, &f->bob_key, NULL, &err),
                     MCP_OK);

    (void)authn_server_start(mcp_apikey_authn, f->store, &f->srv, f->url);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    mcp_server_free(f->srv);
    mcp_store_close(f->store);
    mcp_memzero(f->alice_key, strlen(f->alice_key));
    mcp_memzero(f->bob_key, strlen(f->bob_key));
    mcp_free(f->alice_key);
    mcp_free(f->bob_key);
    tdir_remove(&f->t);
    free(f);
    return 0;
}

typedef struct reply {
    long   status;
    char   www_auth[512];
    char   body[4096];
    size_t blen;
} reply;

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
    reply *r = ud;
    size_t len = sz * n, room = sizeof r->body - 1 - r->blen;
    memcpy(r->body + r->blen, p, len < room ? len : room);
    r->blen += len < room ? len : room;
    r->body[r->blen] = '\0';
    return len;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
    reply *r = ud;
    size_t len = sz * n;
    if (len > 17 && strncasecmp(p, "WWW-Authenticate:", 17) == 0) {
        size_t m = len - 17 < sizeof r->www_auth - 1 ? len - 17 : sizeof r->www_auth - 1;
        memcpy(r->www_auth, p + 17, m);
        r->www_auth[m] = '\0';
    }
    return len;
}

/* POST a tools/call of tool with up to two extra headers (NULL to omit). */
static void
call_tool(const fixture *f, const char *tool, const char *h1, const char *h2, reply *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *hs = NULL;
    hs = curl_slist_append(hs, "Content-Type: application/json");
    hs = curl_slist_append(hs, "Accept: application/json, text/event-stream");
    hs = curl_slist_append(hs, "MCP-Protocol-Version: " MCP_PROTOCOL_LATEST);
    if (h1 != NULL)
        hs = curl_slist_append(hs, h1);
    if (h2 != NULL)
        hs = curl_slist_append(hs, h2);
    char body[256];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"%s\",\"arguments\":{}}}", tool);
    curl_easy_setopt(c, CURLOPT_URL, f->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
}

static void
hdr(char *buf, size_t cap, const char *name, const char *value)
{
    snprintf(buf, cap, "%s: %s", name, value);
}

static void
apikey_authn_accepts_bearer_and_x_api_key(void **state)
{
    fixture *f = *state;
    char h[256], want[128];
    reply r;

    hdr(h, sizeof h, "Authorization", "Bearer ");
    strncat(h, f->alice_key, sizeof h - strlen(h) - 1);
    call_tool(f, "whoami", h, NULL, &r);
    assert_int_equal(r.status, 200);
    snprintf(want, sizeof want, "subject=alice kind=api_key key=%.12s", f->alice_key + 4);
    assert_non_null(strstr(r.body, want));

    hdr(h, sizeof h, "authorization", "bearer  ");   /* scheme is case-insensitive */
    strncat(h, f->alice_key, sizeof h - strlen(h) - 1);
    call_tool(f, "admin_only", h, NULL, &r);
    assert_int_equal(r.status, 200);

    hdr(h, sizeof h, "X-API-Key", f->bob_key);
    call_tool(f, "whoami", h, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "subject=bob kind=api_key"));

    /* The principal's permissions reach the authorization phase: bob has no Admin.Write. */
    call_tool(f, "admin_only", h, NULL, &r);
    assert_int_equal(r.status, 403);
}

static void
apikey_authn_rejects_with_challenge(void **state)
{
    fixture *f = *state;
    char h[256], h2[256];
    reply r;

    call_tool(f, "whoami", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "missing Authorization header"));
    assert_non_null(strstr(r.www_auth, "Bearer"));
    /* RFC 6750 section 3.1: no error code, no description without credentials */
    assert_null(strstr(r.www_auth, "error="));
    assert_null(strstr(r.www_auth, "error_description"));

    hdr(h, sizeof h, "Authorization", "Basic dXNlcjpwYXNz");
    call_tool(f, "whoami", h, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.www_auth, "error=\"invalid_request\""));
    assert_non_null(strstr(r.body, "Authorization scheme is not Bearer"));

    hdr(h, sizeof h, "Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
    call_tool(f, "whoami", h, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.www_auth, "error=\"invalid_token\""));
    assert_non_null(strstr(r.body, "credential is not an API key"));

    /* A real key id with a wrong secret: the check is named, the key is not echoed. */
    char bad[MCP_APIKEY_LEN + 1];
    memcpy(bad, f->alice_key, sizeof bad);
    bad[40] = bad[40] == 'A' ? 'B' : 'A';
    hdr(h, sizeof h, "Authorization", "Bearer ");
    strncat(h, bad, sizeof h - strlen(h) - 1);
    call_tool(f, "whoami", h, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.www_auth, "error=\"invalid_token\""));
    assert_non_null(strstr(r.body, "API key secret does not match"));
    assert_null(strstr(r.body, bad + 17));
    assert_null(strstr(r.www_auth, bad + 17));

    /* Two credentials at once are refused. */
    hdr(h, sizeof h, "Authorization", "Bearer ");
    strncat(h, f->alice_key, sizeof h - strlen(h) - 1);
    hdr(h2, sizeof h2, "X-API-Key", f->bob_key);
    call_tool(f, "whoami", h, h2, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.www_auth, "error=\"invalid_request\""));

    /* Disabled owner, through the same running server. */
    assert_int_equal(mcp_store_user_set_enabled(f->store, "bob", false, NULL), MCP_OK);
    hdr(h, sizeof h, "X-API-Key", f->bob_key);
    call_tool(f, "whoami", h, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "API key owner disabled"));
}

static void
apikey_authn_answers_503_when_store_unreadable(void **state)
{
    fixture *f = *state;
    char h[256];
    reply r;
    hdr(h, sizeof h, "Authorization", "Bearer ");
    strncat(h, f->alice_key, sizeof h - strlen(h) - 1);
    call_tool(f, "whoami", h, NULL, &r);
    assert_int_equal(r.status, 200);
    raw_sql(f->t.db, "DROP TABLE api_keys");
    call_tool(f, "whoami", h, NULL, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.www_auth, ""); /* not a credential problem: no challenge */
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(apikey_authn_accepts_bearer_and_x_api_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(apikey_authn_rejects_with_challenge, setup, teardown),
        cmocka_unit_test_setup_teardown(apikey_authn_answers_503_when_store_unreadable, setup,
                                        teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
