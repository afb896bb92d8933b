/* Unit tests for src/protocol/mcp_headers.c: Mcp-Method / Mcp-Name / Mcp-Param-* value rules,
 * the base64 sentinel encoding, and header/body agreement (SEP-2243). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "jsonrpc/jsonrpc.h"
#include "protocol/mcp_headers.h"

static void
rpc_name_member_per_method(void **state)
{
    (void)state;
    assert_string_equal(mcp__rpc_name_member("tools/call"), "name");
    assert_string_equal(mcp__rpc_name_member("prompts/get"), "name");
    assert_string_equal(mcp__rpc_name_member("resources/read"), "uri");
    assert_string_equal(mcp__rpc_name_member("tasks/get"), "taskId");
    assert_string_equal(mcp__rpc_name_member("tasks/update"), "taskId");
    assert_string_equal(mcp__rpc_name_member("tasks/cancel"), "taskId");
    assert_null(mcp__rpc_name_member("tasks/list"));      /* names no single task */
    assert_null(mcp__rpc_name_member("tools/list"));
    assert_null(mcp__rpc_name_member("server/discover"));
    assert_null(mcp__rpc_name_member("Tools/Call"));     /* values are case-sensitive */
    assert_null(mcp__rpc_name_member(NULL));
}

static void
hdr_plain_values(void **state)
{
    (void)state;
    assert_true(mcp__hdr_value_plain_ok("us-west1", 8));
    assert_true(mcp__hdr_value_plain_ok("a b\tc", 5));
    assert_true(mcp__hdr_value_plain_ok("file:///x/y.json", 16));
    assert_false(mcp__hdr_value_plain_ok("", 0));
    assert_false(mcp__hdr_value_plain_ok(" padded", 7));
    assert_false(mcp__hdr_value_plain_ok("padded ", 7));
    assert_false(mcp__hdr_value_plain_ok("a\nb", 3));
    assert_false(mcp__hdr_value_plain_ok("a\rb", 3));
    assert_false(mcp__hdr_value_plain_ok("caf\xc3\xa9", 5));
    assert_false(mcp__hdr_value_plain_ok("a\x7f", 2));
}

static void
hdr_tokens(void **state)
{
    (void)state;
    assert_true(mcp__hdr_token_ok("Region", 6));
    assert_true(mcp__hdr_token_ok("x-tenant_id.v2~!", 16));
    assert_false(mcp__hdr_token_ok("", 0));
    assert_false(mcp__hdr_token_ok("a b", 3));
    assert_false(mcp__hdr_token_ok("a:b", 3));
    assert_false(mcp__hdr_token_ok("a\r", 2));
    assert_false(mcp__hdr_token_ok("a\0b", 3));
}

static void
decode_ok(const char *in, const char *want)
{
    char *out = NULL;
    size_t n = 0;
    mcp_error err;
    mcp_status rc = mcp__hdr_decode(in, strlen(in), &out, &n, &err);
    if (rc != MCP_OK)
        fail_msg("decode(%s): %s", in, err.message);
    assert_int_equal(n, strlen(want));
    assert_string_equal(out, want);
    mcp__free(out);
}

static void
decode_bad(const char *in, size_t len)
{
    char *out = NULL;
    size_t n = 0;
    mcp_error err;
    assert_int_not_equal(mcp__hdr_decode(in, len, &out, &n, &err), MCP_OK);
    assert_int_equal(err.rpc_code, -32020);
    assert_null(out);
}

static void
hdr_decode_spec_examples(void **state)
{
    (void)state;
    /* the table in the transport spec, "Encoding examples" */
    decode_ok("us-west1", "us-west1");
    decode_ok("=?base64?SGVsbG8sIOS4lueVjA==?=", "Hello, \xe4\xb8\x96\xe7\x95\x8c");
    decode_ok("=?base64?IHBhZGRlZCA=?=", " padded ");
    decode_ok("=?base64?bGluZTEKbGluZTI=?=", "line1\nline2");
    decode_ok("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", "=?base64?literal?=");
}

static void
hdr_decode_rejects(void **state)
{
    (void)state;
    decode_ok(" x\t", "x");                           /* OWS trimmed */
    decode_bad(" ", 1);                                 /* nothing left */
    decode_bad("a\nb", 3);
    decode_bad("=?base64?SGVsbG8?=", 18);               /* missing padding */
    decode_bad("=?base64?SGVs bG8=?=", 20);             /* whitespace inside */
    decode_bad("=?base64?SGVsbG9=?=", 19);              /* stray bits under padding */
    decode_bad("=?base64?SGVsbG8-?=", 19);              /* base64url alphabet is not allowed */
    decode_bad("=?base64?/w==?=", 15);                  /* 0xff: not UTF-8 */
    decode_bad("=?base64?AA==?=", 15);                  /* NUL inside */
    decode_bad("=?base64?7aCA?=", 15);                  /* UTF-8 surrogate U+D800 */
    decode_bad("=?base64?wIA=?=", 15);                  /* overlong NUL */
    decode_ok("=?BASE64?SGk=?=", "=?BASE64?SGk=?="); /* markers are lowercase: plain value */
    decode_bad("=?base64?" "?=", 11);                 /* empty payload (split: trigraph) */
}

static void
hdr_target_from_headers(void **state)
{
    (void)state;
    mcp__hdr_target t;
    mcp_error err;
    assert_int_equal(mcp__hdr_target_read("tools/call", "deploy", &t, NULL), MCP_OK);
    assert_string_equal(t.method, "tools/call");
    assert_string_equal(t.name, "deploy");
    mcp__hdr_target_cleanup(&t);

    assert_int_equal(mcp__hdr_target_read("tools/list", NULL, &t, NULL), MCP_OK);
    assert_null(t.name);
    mcp__hdr_target_cleanup(&t);

    assert_int_equal(mcp__hdr_target_read(NULL, "deploy", &t, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(err.rpc_code, -32020);
    assert_int_equal(mcp__hdr_target_read("tools/call", NULL, &t, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(err.rpc_code, -32020);
    assert_string_equal(err.message, "Header mismatch: Mcp-Name header is required for tools/call");
    /* OWS around a value is not part of it (RFC 9110 5.5) */
    assert_int_equal(mcp__hdr_target_read(" tools/call\t", "  deploy  ", &t, NULL), MCP_OK);
    assert_string_equal(t.method, "tools/call");
    assert_string_equal(t.name, "deploy");
    mcp__hdr_target_cleanup(&t);
    assert_int_equal(mcp__hdr_target_read("tools/call", "   ", &t, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp__hdr_target_read("tools/call", "a\x01b", &t, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp__hdr_target_read("tools/\ncall", "x", &t, &err), MCP_ERR_INVALID_ARG);
}

static json_t *
J(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void
hdr_body_must_agree(void **state)
{
    (void)state;
    mcp__hdr_target t;
    mcp_error err;
    json_t *same = J("{\"name\":\"deploy\",\"arguments\":{}}");
    json_t *other = J("{\"name\":\"delete_all\"}");
    json_t *prefix = J("{\"name\":\"deploy2\"}");
    json_t *noname = J("{\"arguments\":{}}");
    json_t *uri = J("{\"uri\":\"test://a b\"}");

    assert_int_equal(mcp__hdr_target_read("tools/call", "deploy", &t, NULL), MCP_OK);
    assert_int_equal(mcp__hdr_verify_body(&t, "tools/call", same, &err), MCP_OK);
    assert_int_equal(mcp__hdr_verify_body(&t, "tools/call", other, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(err.rpc_code, -32020);
    assert_string_equal(err.message, "Header mismatch: Mcp-Name header does not match params.name");
    assert_int_equal(mcp__hdr_verify_body(&t, "tools/call", prefix, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp__hdr_verify_body(&t, "tools/call", noname, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp__hdr_verify_body(&t, "tools/call", NULL, &err), MCP_ERR_INVALID_ARG);
    /* the smuggling case: headers say prompts/get, body says tools/call */
    assert_int_equal(mcp__hdr_verify_body(&t, "prompts/get", same, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message,
                        "Header mismatch: Mcp-Method header does not match the body's method");
    mcp__hdr_target_cleanup(&t);

    /* a method without Mcp-Name: only the method is compared */
    assert_int_equal(mcp__hdr_target_read("tools/list", NULL, &t, NULL), MCP_OK);
    assert_int_equal(mcp__hdr_verify_body(&t, "tools/list", NULL, &err), MCP_OK);
    assert_int_equal(mcp__hdr_verify_body(&t, "tools/call", same, &err), MCP_ERR_INVALID_ARG);
    mcp__hdr_target_cleanup(&t);

    /* an encoded name is compared after decoding */
    assert_int_equal(mcp__hdr_target_read("resources/read", "=?base64?dGVzdDovL2EgYg==?=", &t,
                                          NULL), MCP_OK);
    assert_int_equal(mcp__hdr_verify_body(&t, "resources/read", uri, &err), MCP_OK);
    mcp__hdr_target_cleanup(&t);

    json_decref(same);
    json_decref(other);
    json_decref(prefix);
    json_decref(noname);
    json_decref(uri);
}

static void
hdr_param_values(void **state)
{
    (void)state;
    json_t *s = json_string("us-west1"), *i = json_integer(42), *neg = json_integer(-7);
    json_t *t = json_true(), *f = json_false(), *r = json_real(1.5), *n = json_null();
    json_t *big = json_integer((json_int_t)1 << 53);
    assert_true(mcp__hdr_param_matches("us-west1", s));
    assert_false(mcp__hdr_param_matches("us-west2", s));
    assert_false(mcp__hdr_param_matches("us-west", s));
    assert_true(mcp__hdr_param_matches("42", i));
    assert_true(mcp__hdr_param_matches("42.0", i));       /* numeric, not string, compare */
    assert_true(mcp__hdr_param_matches("042", i));
    assert_false(mcp__hdr_param_matches("42.5", i));
    assert_false(mcp__hdr_param_matches("+42", i));
    assert_false(mcp__hdr_param_matches(" 42", i));
    assert_false(mcp__hdr_param_matches("42.", i));
    assert_false(mcp__hdr_param_matches("4e1", i));
    assert_true(mcp__hdr_param_matches("-7", neg));
    assert_false(mcp__hdr_param_matches("7", neg));
    assert_false(mcp__hdr_param_matches("9007199254740992", big));  /* outside the safe range */
    assert_true(mcp__hdr_param_matches("true", t));
    assert_false(mcp__hdr_param_matches("True", t));
    assert_false(mcp__hdr_param_matches("1", t));
    assert_true(mcp__hdr_param_matches("false", f));
    assert_false(mcp__hdr_param_matches("1.5", r));        /* number is not allowed */
    assert_false(mcp__hdr_param_matches("null", n));
    assert_false(mcp__hdr_param_matches(NULL, s));
    json_t *all[] = { s, i, neg, t, f, r, n, big };
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        json_decref(all[k]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rpc_name_member_per_method),
        cmocka_unit_test(hdr_plain_values),
        cmocka_unit_test(hdr_tokens),
        cmocka_unit_test(hdr_decode_spec_examples),
        cmocka_unit_test(hdr_decode_rejects),
        cmocka_unit_test(hdr_target_from_headers),
        cmocka_unit_test(hdr_body_must_agree),
        cmocka_unit_test(hdr_param_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
