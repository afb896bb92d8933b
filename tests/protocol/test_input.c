/* Unit tests for src/protocol/input.c: which methods may ask, what an ask needs from the client,
 * the shape checks of the client's answers, and the InputRequiredResult builder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "protocol/input.h"
#include "protocol/meta.h"

static json_t *
J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

static void
input_allowed_only_on_three_methods(void **state)
{
    (void)state;
    assert_true(mcp__input_allowed("tools/call"));
    assert_true(mcp__input_allowed("prompts/get"));
    assert_true(mcp__input_allowed("resources/read"));
    assert_false(mcp__input_allowed("tools/list"));
    assert_false(mcp__input_allowed("prompts/list"));
    assert_false(mcp__input_allowed("completion/complete"));
    assert_false(mcp__input_allowed("server/discover"));
    assert_false(mcp__input_allowed(NULL));
}

static void
input_needed_caps(void **state)
{
    (void)state;
    json_t *url = J("{\"mode\":\"url\",\"url\":\"https://x\",\"message\":\"m\"}");
    json_t *tools = J("{\"messages\":[],\"maxTokens\":1,\"tools\":[]}");
    assert_int_equal(mcp__input_needed_caps("elicitation/create", NULL), MCP__CAP_ELICIT_FORM);
    assert_int_equal(mcp__input_needed_caps("elicitation/create", url), MCP__CAP_ELICIT_URL);
    assert_int_equal(mcp__input_needed_caps("sampling/createMessage", NULL), MCP__CAP_SAMPLING);
    assert_int_equal(mcp__input_needed_caps("sampling/createMessage", tools),
                     MCP__CAP_SAMPLING | MCP__CAP_SAMPLING_TOOLS);
    assert_int_equal(mcp__input_needed_caps("roots/list", NULL), MCP__CAP_ROOTS);
    assert_int_equal(mcp__input_needed_caps("tools/call", NULL), 0);
    json_decref(url);
    json_decref(tools);
}

static void
input_keys(void **state)
{
    (void)state;
    char long_key[MCP__INPUT_MAX_KEY + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_true(mcp__input_key_ok("user_name"));
    assert_true(mcp__input_key_ok("step 2"));
    assert_false(mcp__input_key_ok(""));
    assert_false(mcp__input_key_ok(NULL));
    assert_false(mcp__input_key_ok("a\nb"));
    assert_false(mcp__input_key_ok("caf\xc3\xa9"));
    assert_false(mcp__input_key_ok(long_key));
}

static void
input_responses_container(void **state)
{
    (void)state;
    const json_t *r;
    mcp_error err;
    json_t *absent = J("{\"name\":\"t\"}"), *ok = J("{\"inputResponses\":{}}");
    json_t *null = J("{\"inputResponses\":null}"), *arr = J("{\"inputResponses\":[]}");
    assert_int_equal(mcp__input_responses_get(absent, &r, NULL), MCP_OK);
    assert_null(r);
    assert_int_equal(mcp__input_responses_get(NULL, &r, NULL), MCP_OK);
    assert_int_equal(mcp__input_responses_get(ok, &r, NULL), MCP_OK);
    assert_non_null(r);
    assert_int_equal(mcp__input_responses_get(null, &r, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(err.rpc_code, -32602);
    assert_string_equal(err.message, "params.inputResponses: must be an object");
    assert_int_equal(mcp__input_responses_get(arr, &r, &err), MCP_ERR_INVALID_ARG);
    json_decref(absent);
    json_decref(ok);
    json_decref(null);
    json_decref(arr);
}

static void
input_response_shapes(void **state)
{
    (void)state;
    static const struct {
        const char *method;
        const char *resp;
        bool ok;
        const char *msg;
    } rows[] = {
        /* what the conformance harness sends */
        { "elicitation/create", "{\"action\":\"accept\",\"content\":{\"name\":\"Alice\"}}", true,
          NULL },
        { "elicitation/create", "{\"action\":\"accept\",\"content\":{\"ok\":true}}", true, NULL },
        { "sampling/createMessage", "{\"role\":\"assistant\",\"content\":{\"type\":\"text\","
          "\"text\":\"Paris\"},\"model\":\"test-model\",\"stopReason\":\"endTurn\"}", true, NULL },
        { "roots/list", "{\"roots\":[{\"uri\":\"file:///test/root\",\"name\":\"Test Root\"}]}",
          true, NULL },
        { "elicitation/create", "{\"action\":\"decline\"}", true, NULL },
        { "elicitation/create", "{\"action\":\"accept\",\"content\":{\"tags\":[\"a\",\"b\"]}}",
          true, NULL },
        /* and what it must not get away with (input-required-result-validate-input) */
        { "elicitation/create", "12345", false, "params.inputResponses.k: must be an object" },
        { "elicitation/create", "null", false, "params.inputResponses.k: must be an object" },
        { "elicitation/create", "{\"content\":{}}", false, "params.inputResponses.k.action" },
        { "elicitation/create", "{\"action\":\"maybe\"}", false, "params.inputResponses.k.action" },
        { "elicitation/create", "{\"action\":\"accept\",\"content\":[]}", false,
          "params.inputResponses.k.content: must be an object" },
        { "elicitation/create", "{\"action\":\"accept\",\"content\":{\"x\":{}}}", false,
          "params.inputResponses.k.content.x" },
        { "elicitation/create", "{\"action\":\"accept\",\"content\":{\"x\":[1]}}", false,
          "params.inputResponses.k.content.x" },
        { "sampling/createMessage", "{\"role\":\"assistant\",\"content\":{}}", false,
          "params.inputResponses.k.model" },
        { "sampling/createMessage", "{\"role\":\"system\",\"model\":\"m\",\"content\":{}}", false,
          "params.inputResponses.k.role" },
        { "sampling/createMessage", "{\"role\":\"user\",\"model\":\"m\",\"content\":\"hi\"}",
          false, "params.inputResponses.k.content" },
        { "roots/list", "{}", false, "params.inputResponses.k.roots: must be an array" },
        { "roots/list", "{\"roots\":[{\"name\":\"n\"}]}", false,
          "params.inputResponses.k.roots[0].uri" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *resp = J(rows[i].resp);
        mcp_error err;
        mcp_status rc = mcp__input_response_check(rows[i].method, "k", resp, &err);
        if (rows[i].ok && rc != MCP_OK)
            fail_msg("row %zu: refused: %s", i, err.message);
        if (!rows[i].ok) {
            if (rc == MCP_OK)
                fail_msg("row %zu: accepted", i);
            assert_int_equal(err.rpc_code, -32602);
            if (strncmp(err.message, rows[i].msg, strlen(rows[i].msg)) != 0)
                fail_msg("row %zu: got \"%s\"", i, err.message);
        }
        json_decref(resp);
    }
    mcp_error err;
    json_t *o = J("{}");
    assert_int_equal(mcp__input_response_check("tools/call", "k", o, &err), MCP_ERR_INVALID_ARG);
    json_decref(o);
}

static void
input_required_result_shape(void **state)
{
    (void)state;
    json_t *asks = J("{\"user_name\":{\"method\":\"elicitation/create\",\"params\":{"
                     "\"message\":\"What is your name?\",\"requestedSchema\":{\"type\":\"object\","
                     "\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}}}}");
    json_t *empty = J("{}");
    json_t *r = NULL;
    mcp_error err;
    assert_int_equal(mcp__input_required_result(asks, "mrs1.x.y", &r, NULL), MCP_OK);
    assert_string_equal(json_string_value(json_object_get(r, "resultType")), "input_required");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
                            r, "inputRequests"), "user_name"), "method")), "elicitation/create");
    assert_string_equal(json_string_value(json_object_get(r, "requestState")), "mrs1.x.y");
    assert_null(json_object_get(r, "ttlMs"));                /* interim results: no hints */
    json_decref(r);
    assert_int_equal(mcp__input_required_result(NULL, "s", &r, NULL), MCP_OK);
    assert_null(json_object_get(r, "inputRequests"));
    json_decref(r);
    assert_int_equal(mcp__input_required_result(asks, NULL, &r, NULL), MCP_OK);
    assert_null(json_object_get(r, "requestState"));
    json_decref(r);
    assert_int_equal(mcp__input_required_result(empty, NULL, &r, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp__input_required_result(NULL, NULL, &r, &err), MCP_ERR_INVALID_ARG);
    json_decref(asks);
    json_decref(empty);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(input_allowed_only_on_three_methods),
        cmocka_unit_test(input_needed_caps),
        cmocka_unit_test(input_keys),
        cmocka_unit_test(input_responses_container),
        cmocka_unit_test(input_response_shapes),
        cmocka_unit_test(input_required_result_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
