/* Unit tests for src/protocol/meta.c: per-request _meta of 2026-07-28, the era rule, the
 * version lists, and the missing-capability error data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "protocol/meta.h"

static json_t *
J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

#define GOOD_META                                                                 \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","      \
    "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"c\",\"version\":\"1\"},"  \
    "\"io.modelcontextprotocol/clientCapabilities\":{\"sampling\":{},"            \
    "\"elicitation\":{},\"roots\":{\"listChanged\":true}}}"

static void
meta_parses_full(void **state)
{
    (void)state;
    json_t *p = J("{\"name\":\"t\"," GOOD_META "}");
    mcp__meta26 m;
    assert_int_equal(mcp__meta26_parse(p, &m, NULL), MCP_OK);
    assert_string_equal(m.protocol_version, "2026-07-28");
    assert_string_equal(m.client_name, "c");
    assert_string_equal(m.client_version, "1");
    assert_int_equal(m.caps, MCP__CAP_SAMPLING | MCP__CAP_ELICIT_FORM | MCP__CAP_ROOTS);
    assert_int_equal(m.log_level, -1);
    assert_null(m.progress_token);
    json_decref(p);
}

static void
meta_optional_fields(void **state)
{
    (void)state;
    json_t *p = J("{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                  "\"io.modelcontextprotocol/clientCapabilities\":{\"elicitation\":{\"url\":{}},"
                  "\"extensions\":{\"io.modelcontextprotocol/tasks\":{}}},"
                  "\"io.modelcontextprotocol/logLevel\":\"warning\",\"progressToken\":7}}");
    mcp__meta26 m;
    assert_int_equal(mcp__meta26_parse(p, &m, NULL), MCP_OK);
    assert_null(m.client_name);                   /* clientInfo is a SHOULD */
    assert_int_equal(m.caps, MCP__CAP_ELICIT_URL | MCP__CAP_EXT_TASKS);
    assert_int_equal(m.log_level, 3);
    assert_int_equal(json_integer_value(m.progress_token), 7);
    json_decref(p);
}

static void
meta_rejects_with_path(void **state)
{
    (void)state;
    static const struct {
        const char *params;
        const char *msg_prefix;
    } rows[] = {
        { "{}", "params._meta: required" },
        { "{\"_meta\":[]}", "params._meta: must be an object" },
        { "{\"_meta\":{\"io.modelcontextprotocol/clientCapabilities\":{}}}",
          "params._meta.io.modelcontextprotocol/protocolVersion: required" },
        { "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":5,"
          "\"io.modelcontextprotocol/clientCapabilities\":{}}}",
          "params._meta.io.modelcontextprotocol/protocolVersion: must be" },
        { "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}",
          "params._meta.io.modelcontextprotocol/clientCapabilities: required" },
        { "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
          "\"io.modelcontextprotocol/clientCapabilities\":[]}}",
          "params._meta.io.modelcontextprotocol/clientCapabilities: must be an object" },
        { "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
          "\"io.modelcontextprotocol/clientCapabilities\":{\"sampling\":true}}}",
          "params._meta.io.modelcontextprotocol/clientCapabilities.sampling" },
        { "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
          "\"io.modelcontextprotocol/clientCapabilities\":{},"
          "\"io.modelcontextprotocol/logLevel\":\"loud\"}}",
          "params._meta.io.modelcontextprotocol/logLevel" },
        { "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
          "\"io.modelcontextprotocol/clientCapabilities\":{},\"progressToken\":1.5}}",
          "params._meta.progressToken" },
        { "[]", "params: must be an object" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *p = J(rows[i].params);
        mcp__meta26 m;
        mcp_error err;
        assert_int_equal(mcp__meta26_parse(p, &m, &err), MCP_ERR_INVALID_ARG);
        assert_int_equal(err.rpc_code, -32602);
        if (strncmp(err.message, rows[i].msg_prefix, strlen(rows[i].msg_prefix)) != 0)
            fail_msg("row %zu: got \"%s\"", i, err.message);
        json_decref(p);
    }
    mcp__meta26 m;
    mcp_error err;
    assert_int_equal(mcp__meta26_parse(NULL, &m, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(err.rpc_code, -32602);
}

static void
meta_ignores_malformed_client_info(void **state)
{
    (void)state;
    json_t *p = J("{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                  "\"io.modelcontextprotocol/clientCapabilities\":{},"
                  "\"io.modelcontextprotocol/clientInfo\":{\"name\":3}}}");
    mcp__meta26 m;
    assert_int_equal(mcp__meta26_parse(p, &m, NULL), MCP_OK);
    assert_null(m.client_name);
    json_decref(p);
}

static void
era_rule(void **state)
{
    (void)state;
    assert_int_equal(mcp__era_select("2026-07-28", "tools/list"), MCP__ERA_MODERN);
    assert_int_equal(mcp__era_select("2026-07-28", NULL), MCP__ERA_MODERN);
    assert_int_equal(mcp__era_select("2025-11-25", "tools/list"), MCP__ERA_LEGACY);
    assert_int_equal(mcp__era_select("2025-03-26", "initialize"), MCP__ERA_LEGACY);
    assert_int_equal(mcp__era_select(NULL, "initialize"), MCP__ERA_LEGACY);
    assert_int_equal(mcp__era_select("v999.0.0", "server/discover"), MCP__ERA_UNSUPPORTED);
    assert_int_equal(mcp__era_select("2024-11-05", "initialize"), MCP__ERA_UNSUPPORTED);
    assert_int_equal(mcp__era_select("", NULL), MCP__ERA_UNSUPPORTED);
}

static void
header_must_match_meta(void **state)
{
    (void)state;
    json_t *p = J("{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"v999.0.0\","
                  "\"io.modelcontextprotocol/clientCapabilities\":{}}}");
    mcp__meta26 m;
    mcp_error err;
    assert_int_equal(mcp__meta26_parse(p, &m, NULL), MCP_OK);
    assert_int_equal(mcp__meta26_header_check("2026-07-28", &m, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(err.rpc_code, -32020);
    assert_int_equal(mcp__meta26_header_check(NULL, &m, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(err.rpc_code, -32020);
    assert_int_equal(mcp__meta26_header_check("v999.0.0", &m, &err), MCP_OK);
    json_decref(p);
}

static void
unsupported_version_data(void **state)
{
    (void)state;
    json_t *d = mcp__pv_unsupported_data("v999.0.0");
    assert_string_equal(json_string_value(json_object_get(d, "requested")), "v999.0.0");
    json_t *sup = json_object_get(d, "supported");
    assert_true(json_array_size(sup) >= 2);
    assert_string_equal(json_string_value(json_array_get(sup, 0)), "2026-07-28");
    for (size_t i = 0; i < json_array_size(sup); i++)
        assert_true(mcp__pv_supported(json_string_value(json_array_get(sup, i))));
    assert_false(mcp__pv_supported("v999.0.0"));
    assert_false(mcp__pv_supported(NULL));
    json_decref(d);
}

static void
missing_capability_data_is_an_object(void **state)
{
    (void)state;
    json_t *p = J("{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                  "\"io.modelcontextprotocol/clientCapabilities\":{\"roots\":{}}}}");
    mcp__meta26 m;
    mcp_error err;
    json_t *data = NULL;
    assert_int_equal(mcp__meta26_parse(p, &m, NULL), MCP_OK);
    assert_int_equal(mcp__meta26_require_caps(&m, MCP__CAP_ROOTS, &data, &err), MCP_OK);
    assert_null(data);
    assert_int_equal(mcp__meta26_require_caps(&m, MCP__CAP_SAMPLING | MCP__CAP_ROOTS, &data,
                                              &err), MCP_ERR_UNSUPPORTED);
    assert_int_equal(err.rpc_code, -32021);
    json_t *rc = json_object_get(data, "requiredCapabilities");
    assert_true(json_is_object(rc));
    assert_true(json_is_object(json_object_get(rc, "sampling")));  /* {"sampling": {}} */
    assert_null(json_object_get(rc, "roots"));                     /* only what is missing */
    json_decref(data);
    json_decref(p);
}

static void
log_levels(void **state)
{
    (void)state;
    assert_int_equal(mcp__log_level_parse("debug"), 0);
    assert_int_equal(mcp__log_level_parse("emergency"), 7);
    assert_int_equal(mcp__log_level_parse("Debug"), -1);
    assert_int_equal(mcp__log_level_parse(NULL), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(meta_parses_full),
        cmocka_unit_test(meta_optional_fields),
        cmocka_unit_test(meta_rejects_with_path),
        cmocka_unit_test(meta_ignores_malformed_client_info),
        cmocka_unit_test(era_rule),
        cmocka_unit_test(header_must_match_meta),
        cmocka_unit_test(unsupported_version_data),
        cmocka_unit_test(missing_capability_data_is_an_object),
        cmocka_unit_test(log_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
