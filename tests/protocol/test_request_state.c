/* Unit tests for src/protocol/request_state.c: sealed requestState round-trips, and tampered,
 * foreign-principal, other-request, expired, unknown-key and oversized states are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "protocol/request_state.h"

static const char SECRET_A[] = "0123456789abcdef0123456789abcdef-server-A";
static const char SECRET_B[] = "fedcba9876543210fedcba9876543210-server-B";
#define NOW 1780000000

static void
keyring(mcp__rstate_keyring *kr, const char *secret)
{
    mcp__rstate_keyring_init(kr);
    assert_int_equal(mcp__rstate_key_derive(&kr->current, secret, strlen(secret), NULL), MCP_OK);
}

static void
bind(mcp__rstate_binding *b, const char *name, const char *sub, const char *args_json)
{
    json_t *args = args_json ? json_loads(args_json, 0, NULL) : NULL;
    assert_int_equal(mcp__rstate_bind(b, "tools/call", name, "https://idp.example", sub, args,
                                      NULL), MCP_OK);
    json_decref(args);
}

static char *
seal(const mcp__rstate_keyring *kr, const mcp__rstate_binding *b, int64_t ttl, int64_t now)
{
    json_t *payload = json_pack("{s:{s:s}}", "answers", "user_name", "Alice");
    char *tok = NULL;
    assert_int_equal(mcp__rstate_seal(kr, b, payload, ttl, now, &tok, NULL), MCP_OK);
    json_decref(payload);
    assert_non_null(tok);
    assert_int_equal(strncmp(tok, "mrs1.", 5), 0);
    return tok;
}

static mcp_status
open_tok(const mcp__rstate_keyring *kr, const mcp__rstate_binding *b, const char *tok,
         int64_t now, json_t **out, mcp_error *err)
{
    return mcp__rstate_open(kr, b, tok, strlen(tok), now, out, err);
}

static void
rstate_roundtrip(void **state)
{
    (void)state;
    mcp__rstate_keyring kr;
    mcp__rstate_binding b;
    keyring(&kr, SECRET_A);
    bind(&b, "deploy", "alice", "{\"env\":\"prod\",\"n\":1}");
    char *tok = seal(&kr, &b, 60, NOW);
    json_t *p = NULL;
    assert_int_equal(open_tok(&kr, &b, tok, NOW + 59, &p, NULL), MCP_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "answers"),
                                                          "user_name")), "Alice");
    json_decref(p);
    mcp__free(tok);
    mcp__rstate_keyring_cleanup(&kr);
}

static void
rstate_binding_ignores_argument_key_order(void **state)
{
    (void)state;
    mcp__rstate_binding a, b;
    bind(&a, "deploy", "alice", "{\"env\":\"prod\",\"n\":1}");
    bind(&b, "deploy", "alice", "{\"n\":1,\"env\":\"prod\"}");
    assert_memory_equal(a.digest, b.digest, 32);
    /* ... but not absent vs empty, nor field boundaries */
    mcp__rstate_binding c, d;
    assert_int_equal(mcp__rstate_bind(&c, "tools/call", "ab", NULL, "c", NULL, NULL), MCP_OK);
    assert_int_equal(mcp__rstate_bind(&d, "tools/call", "a", NULL, "bc", NULL, NULL), MCP_OK);
    assert_memory_not_equal(c.digest, d.digest, 32);
    assert_int_equal(mcp__rstate_bind(&d, "tools/call", "ab", "", "c", NULL, NULL), MCP_OK);
    assert_memory_not_equal(c.digest, d.digest, 32);
}

static void
rstate_rejects_tampered(void **state)
{
    (void)state;
    mcp__rstate_keyring kr;
    mcp__rstate_binding b;
    keyring(&kr, SECRET_A);
    bind(&b, "deploy", "alice", NULL);
    char *tok = seal(&kr, &b, 60, NOW);
    size_t n = strlen(tok);
    json_t *p = NULL;
    mcp_error err;

    /* what the conformance suite sends: the state with a suffix */
    char *suffixed = mcp__aprintf("%s-TAMPERED", tok);
    assert_int_equal(open_tok(&kr, &b, suffixed, NOW, &p, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(err.rpc_code, -32602);
    mcp__free(suffixed);

    /* every single-character change anywhere in the token is refused */
    for (size_t i = 0; i < n; i++) {
        char *t = mcp__strdup(tok);
        t[i] = (char)(t[i] == 'A' ? 'B' : 'A');
        assert_int_not_equal(open_tok(&kr, &b, t, NOW, &p, &err), MCP_OK);
        mcp__free(t);
    }
    /* truncation */
    assert_int_equal(mcp__rstate_open(&kr, &b, tok, n - 1, NOW, &p, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp__rstate_open(&kr, &b, tok, 5, NOW, &p, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(open_tok(&kr, &b, "", NOW, &p, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(open_tok(&kr, &b, "not-a-state", NOW, &p, &err), MCP_ERR_INVALID_ARG);
    mcp__free(tok);
    mcp__rstate_keyring_cleanup(&kr);
}

static void
rstate_rejects_forged_body_with_valid_shape(void **state)
{
    (void)state;
    /* a client that builds its own body (correct kid, far expiry) cannot produce the MAC */
    mcp__rstate_keyring kr;
    mcp__rstate_binding b;
    keyring(&kr, SECRET_A);
    bind(&b, "deploy", "alice", NULL);
    char *bnd = mcp__b64url_encode(b.digest, 32);
    char *body = mcp__aprintf("{\"kid\":\"%s\",\"iat\":%d,\"exp\":%d,\"bnd\":\"%s\",\"d\":{}}",
                              kr.current.kid, NOW, NOW + 999999, bnd);
    char *b64 = mcp__b64url_encode((const unsigned char *)body, strlen(body));
    char *tok = mcp__aprintf("mrs1.%s.%s", b64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    json_t *p = NULL;
    mcp_error err;
    assert_int_equal(open_tok(&kr, &b, tok, NOW, &p, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "requestState: integrity check failed");
    mcp__free(tok);
    mcp__free(b64);
    mcp__free(body);
    mcp__free(bnd);
}

static void
rstate_rejects_other_principal_and_request(void **state)
{
    (void)state;
    mcp__rstate_keyring kr;
    mcp__rstate_binding alice, bob, other_tool, other_args;
    keyring(&kr, SECRET_A);
    bind(&alice, "deploy", "alice", "{\"env\":\"prod\"}");
    bind(&bob, "deploy", "bob", "{\"env\":\"prod\"}");
    bind(&other_tool, "delete", "alice", "{\"env\":\"prod\"}");
    bind(&other_args, "deploy", "alice", "{\"env\":\"dev\"}");
    char *tok = seal(&kr, &alice, 60, NOW);
    json_t *p = NULL;
    mcp_error err;
    assert_int_equal(open_tok(&kr, &bob, tok, NOW, &p, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "requestState: issued for another request or principal");
    assert_int_equal(open_tok(&kr, &other_tool, tok, NOW, &p, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(open_tok(&kr, &other_args, tok, NOW, &p, &err), MCP_ERR_INVALID_ARG);
    mcp__free(tok);
}

static void
rstate_rejects_expired_and_future(void **state)
{
    (void)state;
    mcp__rstate_keyring kr;
    mcp__rstate_binding b;
    keyring(&kr, SECRET_A);
    bind(&b, "deploy", "alice", NULL);
    char *tok = seal(&kr, &b, 60, NOW);
    json_t *p = NULL;
    mcp_error err;
    assert_int_equal(open_tok(&kr, &b, tok, NOW + 60, &p, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "requestState: expired");
    assert_int_equal(open_tok(&kr, &b, tok, NOW - MCP__RSTATE_MAX_SKEW - 1, &p, &err),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "requestState: not yet valid");
    mcp__free(tok);
    assert_int_equal(mcp__rstate_seal(&kr, &b, NULL, 0, NOW, &tok, &err), MCP_ERR_INVALID_ARG);
}

static void
rstate_shared_key_and_rotation(void **state)
{
    (void)state;
    mcp__rstate_keyring a1, a2, b, rotated;
    mcp__rstate_binding bnd;
    keyring(&a1, SECRET_A);
    keyring(&a2, SECRET_A);           /* a second process with the same key file */
    keyring(&b, SECRET_B);
    bind(&bnd, "deploy", "alice", NULL);
    char *tok = seal(&a1, &bnd, 60, NOW);
    json_t *p = NULL;
    mcp_error err;
    assert_int_equal(open_tok(&a2, &bnd, tok, NOW, &p, NULL), MCP_OK);
    json_decref(p);
    assert_int_equal(open_tok(&b, &bnd, tok, NOW, &p, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "requestState: unknown key");
    /* after rotation (B current, A previous) the old state still opens; new ones use B */
    keyring(&rotated, SECRET_B);
    rotated.previous = a1.current;
    assert_int_equal(open_tok(&rotated, &bnd, tok, NOW, &p, NULL), MCP_OK);
    json_decref(p);
    char *tok2 = seal(&rotated, &bnd, 60, NOW);
    assert_int_equal(open_tok(&b, &bnd, tok2, NOW, &p, NULL), MCP_OK);
    json_decref(p);
    assert_int_equal(open_tok(&a1, &bnd, tok2, NOW, &p, &err), MCP_ERR_INVALID_ARG);
    mcp__free(tok);
    mcp__free(tok2);
}

static void
rstate_key_rules(void **state)
{
    (void)state;
    mcp__rstate_keyring kr, none;
    mcp__rstate_binding b;
    mcp_error err;
    mcp__rstate_keyring_init(&kr);
    mcp__rstate_keyring_init(&none);
    assert_int_equal(mcp__rstate_key_derive(&kr.current, "short", 5, &err), MCP_ERR_INVALID_ARG);
    assert_false(kr.current.set);
    assert_int_equal(mcp__rstate_key_random(&kr.current, NULL), MCP_OK);
    assert_true(kr.current.set);
    assert_int_equal(strlen(kr.current.kid), MCP__RSTATE_KID_LEN);
    bind(&b, "deploy", "alice", NULL);
    char *tok = NULL;
    assert_int_equal(mcp__rstate_seal(&none, &b, NULL, 60, NOW, &tok, &err), MCP_ERR_STATE);
    json_t *p = NULL;
    assert_int_equal(open_tok(&none, &b, "mrs1.x.y", NOW, &p, &err), MCP_ERR_STATE);
    /* oversized input is refused before any decoding */
    size_t big = MCP__RSTATE_MAX_TOKEN + 1;
    char *huge = mcp__alloc(big + 1);
    memset(huge, 'A', big);
    memcpy(huge, "mrs1.", 5);
    huge[big] = '\0';
    assert_int_equal(mcp__rstate_open(&kr, &b, huge, big, NOW, &p, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "requestState: invalid length");
    mcp__free(huge);
    mcp__rstate_keyring_cleanup(&kr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rstate_roundtrip),
        cmocka_unit_test(rstate_binding_ignores_argument_key_order),
        cmocka_unit_test(rstate_rejects_tampered),
        cmocka_unit_test(rstate_rejects_forged_body_with_valid_shape),
        cmocka_unit_test(rstate_rejects_other_principal_and_request),
        cmocka_unit_test(rstate_rejects_expired_and_future),
        cmocka_unit_test(rstate_shared_key_and_rotation),
        cmocka_unit_test(rstate_key_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
