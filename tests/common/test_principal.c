/*
 * Unit tests for src/common/principal.c: the session owner key is unambiguous (each field is
 * length-prefixed, so a '|' inside a subject or client id cannot move bytes between fields).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/auth.h>
#include <string.h>

static mcp_principal *
make(mcp_cred_kind kind, const char *iss, const char *sub, const char *client)
{
    mcp_principal_fields f = { .kind = kind, .issuer = iss, .subject = sub, .client_id = client };
    mcp_principal *p = NULL;
    assert_int_equal(mcp_principal_new(&f, &p, NULL), MCP_OK);
    assert_non_null(p);
    return p;
}

static void
owner_key_separator_in_fields_does_not_collide(void **state)
{
    (void)state;
    /* the review's pair: "auth0|alice" + "app" against "auth0" + "alice|app" */
    mcp_principal *a = make(MCP_CRED_JWT, "https://idp", "auth0|alice", "app");
    mcp_principal *b = make(MCP_CRED_JWT, "https://idp", "auth0", "alice|app");
    assert_string_not_equal(mcp_principal_owner_key(a), mcp_principal_owner_key(b));
    /* the same shift between issuer and subject */
    mcp_principal *c = make(MCP_CRED_JWT, "https://idp|x", "y", NULL);
    mcp_principal *d = make(MCP_CRED_JWT, "https://idp", "x|y", NULL);
    assert_string_not_equal(mcp_principal_owner_key(c), mcp_principal_owner_key(d));
    /* and an absent client id is not the same as a client id that is a length prefix */
    mcp_principal *e = make(MCP_CRED_JWT, "i", "s", NULL);
    mcp_principal *g = make(MCP_CRED_JWT, "i", "s", "0:");
    assert_string_not_equal(mcp_principal_owner_key(e), mcp_principal_owner_key(g));
    mcp_principal_unref(a);
    mcp_principal_unref(b);
    mcp_principal_unref(c);
    mcp_principal_unref(d);
    mcp_principal_unref(e);
    mcp_principal_unref(g);
}

static void
owner_key_is_stable_and_exact(void **state)
{
    (void)state;
    mcp_principal *a = make(MCP_CRED_JWT, "https://idp", "auth0|alice", "app");
    mcp_principal *a2 = make(MCP_CRED_JWT, "https://idp", "auth0|alice", "app");
    /* the same identity gives the same key (sessions survive a token refresh) */
    assert_string_equal(mcp_principal_owner_key(a), mcp_principal_owner_key(a2));
    assert_string_equal(mcp_principal_owner_key(a), "jwt|11:https://idp|11:auth0|alice|3:app");
    /* the credential kind is part of the identity */
    mcp_principal *k = make(MCP_CRED_API_KEY, "https://idp", "auth0|alice", "app");
    assert_string_not_equal(mcp_principal_owner_key(a), mcp_principal_owner_key(k));
    mcp_principal *n = make(MCP_CRED_API_KEY, NULL, "bob", NULL);
    assert_string_equal(mcp_principal_owner_key(n), "api_key|0:|3:bob|0:");
    assert_string_equal(mcp_principal_owner_key(NULL), "");
    mcp_principal_unref(a);
    mcp_principal_unref(a2);
    mcp_principal_unref(k);
    mcp_principal_unref(n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(owner_key_separator_in_fields_does_not_collide),
        cmocka_unit_test(owner_key_is_stable_and_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
