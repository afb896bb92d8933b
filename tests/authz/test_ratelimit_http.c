/*
 * Per-tool rate limits over real HTTP (loopback): one principal cannot get a fresh per-tool
 * bucket by flooding other tool names, made-up or registered, into the bounded bucket table.
 * (The security review's proof: with buckets keyed by any tools/call name and LRU shards picked
 * by an unseeded hash, junk names evicted the victim bucket, which then came back full.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/jwt.h>
#include <mcp/mcp.h>
#include <mcp/policy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/harness.h"

#define NKNOWN 80              /* registered tools besides "t": more than the table holds */

static const char SECRET[] = "0123456789abcdef0123456789abcdef";

typedef struct fixture {
    char               policy[64];
    mcp_server        *srv;
    mcp_jwt_verifier  *v;
    mcp_rbac          *rb;
    char               url[128];
    char               names[NKNOWN][16];
} fixture;

static mcp_status
tool_ok(mcp_ctx *c, void *u, mcp_error *e)
{
    (void)u;
    return mcp_ctx_add_text(c, "ok", e);
}

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->policy, sizeof f->policy, "/tmp/mcp-rl-http-XXXXXX");
    int fd = mkstemp(f->policy);
    assert_true(fd >= 0);
    /* every tool: 1 call per 1000 s per principal, so nothing refills during the test */
    static const char pol[] = "{\"version\":1,\"rate_limits\":{\"per_tool\":"
                              "{\"*\":{\"rate\":0.001,\"burst\":1}}}}";
    assert_int_equal(write(fd, pol, sizeof pol - 1), (ssize_t)(sizeof pol - 1));
    close(fd);

    mcp_error err;
    mcp_error_clear(&err);
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.stateless = true;
    so.workers = 2;
    assert_int_equal(mcp_server_new(&so, &f->srv, &err), MCP_OK);
    mcp_tool_def t = { .name = "t", .description = "t", .access = { .any_authenticated = true },
                       .handler = tool_ok };
    assert_int_equal(mcp_server_add_tool(f->srv, &t, NULL, &err), MCP_OK);
    for (int i = 0; i < NKNOWN; i++) {
        /* names that differ from their first byte on, so they spread over any hash */
        snprintf(f->names[i], sizeof f->names[i], "%08x", (unsigned)(i + 1) * 2654435761u);
        mcp_tool_def k = { .name = f->names[i], .description = "k",
                           .access = { .any_authenticated = true }, .handler = tool_ok };
        assert_int_equal(mcp_server_add_tool(f->srv, &k, NULL, &err), MCP_OK);
    }
    mcp_jwt_opts jo;
    mcp_jwt_opts_default(&jo);
    jo.issuer = "iss";
    jo.audience = "aud";
    assert_int_equal(mcp_jwt_verifier_new(&jo, &f->v, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_add_hmac(f->v, NULL, "HS256", SECRET, 32, &err), MCP_OK);
    assert_int_equal(mcp_server_use(f->srv, MCP_PHASE_AUTHN, mcp_jwt_authn, f->v, &err), MCP_OK);
    mcp_rbac_opts ro;
    mcp_rbac_opts_default(&ro);
    ro.policy_path = f->policy;
    ro.rate_buckets_max = 64;                  /* the review's setting: 16 shards x 4 */
    assert_int_equal(mcp_rbac_new(&ro, &f->rb, &err), MCP_OK);
    assert_int_equal(mcp_rbac_attach(f->rb, f->srv, &err), MCP_OK);
    mcp_http_opts ho;
    mcp_http_opts_default(&ho);
    ho.port = 0;
    ho.access_log = false;
    assert_int_equal(mcp_server_listen_http(f->srv, &ho, &err), MCP_OK);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u/mcp", mcp_server_http_port(f->srv));
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    mcp_server_free(f->srv);
    mcp_rbac_free(f->rb);
    mcp_jwt_verifier_free(f->v);
    unlink(f->policy);
    free(f);
    return 0;
}

static char *
token_for(const char *sub)
{
    char claims[256];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"iss\",\"aud\":\"aud\",\"sub\":\"%s\",\"exp\":9999999999}", sub);
    char *tok = NULL;
    mcp_error err;
    assert_int_equal(mcp_jwt_sign("HS256", SECRET, 32, claims, NULL, &tok, &err), MCP_OK);
    return tok;
}

/* tools/call name as tok; returns the HTTP status. */
static long
call(const fixture *f, const char *tok, const char *name)
{
    char auth[1024], body[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\"}}",
             name);
    const char *h[] = { "Content-Type: application/json",
                        "Accept: application/json, text/event-stream", auth, NULL };
    http_resp r;
    assert_int_equal(th_request("POST", f->url, body, h, &r), 0);
    long st = r.status;
    th_resp_free(&r);
    return st;
}

/* As call(), also copying the body (at most cap - 1 bytes) into body. */
static long
call_answer(const fixture *f, const char *tok, const char *name, char *body, size_t cap)
{
    char auth[1024], req[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    snprintf(req, sizeof req,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\"}}",
             name);
    const char *h[] = { "Content-Type: application/json",
                        "Accept: application/json, text/event-stream", auth, NULL };
    http_resp r;
    assert_int_equal(th_request("POST", f->url, req, h, &r), 0);
    long st = r.status;
    snprintf(body, cap, "%s", r.body ? r.body : "");
    th_resp_free(&r);
    return st;
}

/* The review's scenario: made-up tool names no longer take (or make) buckets. */
static void
junk_tool_names_cannot_evict_a_bucket(void **state)
{
    fixture *f = *state;
    char *mallory = token_for("mallory");
    assert_int_equal(call(f, mallory, "t"), 200);
    assert_int_equal(call(f, mallory, "t"), 429);
    /* far more names than the table holds (64 buckets), so every shard overflows */
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof name, "%08x-junk", (unsigned)(i + 7) * 2246822519u);
        char body[512];
        long st = call_answer(f, mallory, name, body, sizeof body);
        assert_true(st != 429);                /* not metered: no bucket for an unknown name */
        /* ... but refused as what it is, an unknown tool */
        assert_int_equal(st, 200);
        assert_string_equal(body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32602,"
                                  "\"message\":\"unknown tool\"}}");
    }
    assert_int_equal(call(f, mallory, "t"), 429);
    /* another principal has its own bucket */
    char *bob = token_for("bob");
    assert_int_equal(call(f, bob, "t"), 200);
    assert_int_equal(call(f, bob, "t"), 429);
    mcp_free(bob);
    mcp_free(mallory);
}

/* Registered names: a principal's own buckets never push out each other; past the
 * per-principal cap (64 tool buckets) further names share one overflow bucket. */
static void
registered_tool_names_cannot_evict_a_bucket(void **state)
{
    fixture *f = *state;
    char *mallory = token_for("mallory");
    assert_int_equal(call(f, mallory, "t"), 200);
    assert_int_equal(call(f, mallory, "t"), 429);
    int ok = 0;
    for (int i = 0; i < NKNOWN; i++) {
        long st = call(f, mallory, f->names[i]);
        assert_true(st == 200 || st == 429);
        ok += st == 200;
    }
    assert_int_equal(call(f, mallory, "t"), 429);
    /* "t" holds one of the 64 buckets: 63 more names get their own (200 each), then the
     * overflow bucket grants its burst of 1 and refuses the other 16 */
    assert_int_equal(ok, 64);
    assert_int_equal(call(f, mallory, f->names[0]), 429);
    assert_int_equal(call(f, mallory, f->names[NKNOWN - 1]), 429);
    mcp_free(mallory);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(junk_tool_names_cannot_evict_a_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(registered_tool_names_cannot_evict_a_bucket, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
