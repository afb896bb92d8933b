/*
 * Revoking a JWT that is already in the verified-token cache (the authentication layer,
 * <mcp/authn.h>, through the public API over real HTTP on 127.0.0.1): a token verified before
 * (so cached by the verifier, and its jti cached as "not revoked" by the store) is refused
 * with 401 "token revoked" on the very next request once its jti is revoked, whether the
 * revocation comes through the server's own store handle or through another one on the same
 * file (as mcp-admin does). Another token of the same subject is not affected. The verifier on
 * its own still accepts the token: revocation is the authentication layer's check, not the
 * cache's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/authn.h>
#include <mcp/jwt.h>
#include <mcp/mcp.h>
#include <mcp/store.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/harness.h"

static const char SECRET[] = "0123456789abcdef0123456789abcdef";
#define ISS "https://issuer.revocation.test"
#define AUD "https://mcp.revocation.test/mcp"

typedef struct fixture {
    char              dir[64];
    char              db[96];
    mcp_store        *store;
    mcp_jwt_verifier *v;
    mcp_authn        *authn;
    mcp_server       *srv;
    char              url[128];
} fixture;

static mcp_status
whoami(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    const mcp_principal *p = mcp_ctx_principal(ctx);
    return mcp_ctx_add_text(ctx, p ? mcp_principal_subject(p) : "-", err);
}

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mcp-authn-revoke-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/mcp.db", f->dir);
    mcp_error err;
    mcp_error_clear(&err);
    mcp_store_opts so;
    mcp_store_opts_default(&so);
    so.change_check_ms = 50;          /* another handle's change is seen within 50 ms */
    assert_int_equal(mcp_store_open(f->db, &so, &f->store, &err), MCP_OK);

    mcp_jwt_opts jo;
    mcp_jwt_opts_default(&jo);
    jo.issuer = ISS;
    jo.audience = AUD;
    jo.cache_size = 64;               /* the verified-token cache is on */
    assert_int_equal(mcp_jwt_verifier_new(&jo, &f->v, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_add_hmac(f->v, NULL, "HS256", SECRET, 32, &err), MCP_OK);

    mcp_authn_opts ao;
    mcp_authn_opts_default(&ao);
    assert_true(ao.check_jwt_revocation);        /* the default */
    ao.store = f->store;
    ao.jwt = f->v;
    assert_int_equal(mcp_authn_new(&ao, &f->authn, &err), MCP_OK);

    mcp_server_opts sv;
    mcp_server_opts_default(&sv);
    sv.stateless = true;
    sv.workers = 2;
    assert_int_equal(mcp_server_new(&sv, &f->srv, &err), MCP_OK);
    mcp_tool_def t = { .name = "whoami", .description = "the caller's subject",
                       .access = { .any_authenticated = true }, .handler = whoami };
    assert_int_equal(mcp_server_add_tool(f->srv, &t, NULL, &err), MCP_OK);
    assert_int_equal(mcp_server_use(f->srv, MCP_PHASE_AUTHN, mcp_authn_middleware, f->authn,
                                    &err), MCP_OK);
    assert_int_equal(th_listen(f->srv, 0, 0, f->url, sizeof f->url), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    mcp_server_free(f->srv);
    mcp_authn_free(f->authn);
    mcp_jwt_verifier_free(f->v);
    mcp_store_close(f->store);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static char *
token(const char *sub, const char *jti)
{
    char claims[512];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"%s\",\"jti\":\"%s\","
             "\"exp\":%lld}", sub, jti, (long long)time(NULL) + 600);
    char *tok = NULL;
    mcp_error err;
    assert_int_equal(mcp_jwt_sign("HS256", SECRET, 32, claims, NULL, &tok, &err), MCP_OK);
    return tok;
}

typedef struct answer {
    long status;
    char www[512];
    char body[1024];
} answer;

static answer
call(const fixture *f, const char *tok)
{
    char auth[1024];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    const char *h[] = { "Content-Type: application/json",
                        "Accept: application/json, text/event-stream", auth, NULL };
    http_resp r;
    assert_int_equal(th_request("POST", f->url,
                                "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
                                "\"params\":{\"name\":\"whoami\"}}", h, &r), 0);
    answer a = { .status = r.status };
    if (th_header(&r, "WWW-Authenticate", a.www, sizeof a.www) != 0)
        a.www[0] = '\0';
    snprintf(a.body, sizeof a.body, "%s", r.body ? r.body : "");
    th_resp_free(&r);
    return a;
}

static void
assert_served(const fixture *f, const char *tok, const char *sub)
{
    answer a = call(f, tok);
    assert_int_equal(a.status, 200);
    char want[128];
    snprintf(want, sizeof want, "\"text\":\"%s\"", sub);
    if (strstr(a.body, want) == NULL)
        fail_msg("want %s in %s", want, a.body);
}

#define REVOKED_WWW "Bearer error=\"invalid_token\", error_description=\"token revoked\""
/* id null: authentication runs before the body is read */
#define REVOKED_BODY "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001," \
                     "\"message\":\"token revoked\"}}"

static void
assert_revoked(const answer *a)
{
    assert_int_equal(a->status, 401);
    assert_string_equal(a->www, REVOKED_WWW);
    assert_string_equal(a->body, REVOKED_BODY);
}

/* The token is verified twice (the second time from the cache), revoked through the server's
 * own store handle, and the very next request is refused. */
static void
revoking_a_cached_token_applies_to_the_next_request(void **state)
{
    fixture *f = *state;
    char *tok = token("alice", "jti-cached-1");
    char *other = token("alice", "jti-cached-2");
    assert_served(f, tok, "alice");
    assert_served(f, tok, "alice");
    assert_served(f, other, "alice");

    mcp_error err;
    assert_int_equal(mcp_store_token_revoke(f->store, "jti-cached-1", 0, &err), MCP_OK);
    answer a = call(f, tok);
    assert_revoked(&a);
    a = call(f, tok);                           /* and stays refused */
    assert_revoked(&a);
    assert_served(f, other, "alice");           /* revocation is per jti */

    /* the verifier alone still accepts it (from its cache): the check is authn's */
    mcp_principal *p = NULL;
    assert_int_equal(mcp_jwt_verify(f->v, tok, strlen(tok), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_jti(p), "jti-cached-1");
    mcp_principal_unref(p);
    mcp_free(other);
    mcp_free(tok);
}

/* Revoked through another handle on the same file (what mcp-admin does from its own process):
 * refused once the store sees the change (change_check_ms = 50 here). */
static void
revoking_through_another_handle_applies(void **state)
{
    fixture *f = *state;
    char *tok = token("bob", "jti-other-handle");
    assert_served(f, tok, "bob");
    assert_served(f, tok, "bob");

    mcp_store *admin = NULL;
    mcp_error err;
    assert_int_equal(mcp_store_open(f->db, NULL, &admin, &err), MCP_OK);
    assert_int_equal(mcp_store_token_revoke(admin, "jti-other-handle", 0, &err), MCP_OK);
    mcp_store_close(admin);
    usleep(120 * 1000);                         /* more than change_check_ms */
    answer a = call(f, tok);
    assert_revoked(&a);
    mcp_free(tok);
}

/* A token without a jti cannot be revoked, and is served (the check needs a jti). */
static void
token_without_jti_is_not_looked_up(void **state)
{
    fixture *f = *state;
    char claims[256];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"carol\",\"exp\":%lld}",
             (long long)time(NULL) + 600);
    char *tok = NULL;
    mcp_error err;
    assert_int_equal(mcp_jwt_sign("HS256", SECRET, 32, claims, NULL, &tok, &err), MCP_OK);
    assert_served(f, tok, "carol");
    mcp_free(tok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(revoking_a_cached_token_applies_to_the_next_request,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(revoking_through_another_handle_applies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(token_without_jti_is_not_looked_up, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
