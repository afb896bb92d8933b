/*
 * `mcp-client conformance URL`: the client side of the official MCP conformance suite.
 *
 * The suite starts mock servers for a scenario and runs this command with the server URL as
 * the last argument, MCP_CONFORMANCE_SCENARIO=<name> and, for some scenarios,
 * MCP_CONFORMANCE_CONTEXT=<JSON> (credentials, keys). Each scenario below does what the suite
 * checks (see ../shared/conformance/README.md, "Client scenarios"); the OAuth behaviour is the
 * library's, configured the way a real application would (headless login because the mock AS
 * redirects without a page).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* The client ID metadata document URL the suite expects (auth/basic-cimd). */
#define CIMD_URL "https://conformance-test.local/client-metadata.json"

static const char *
ctx_str(const json_t *ctx, const char *key)
{
    const json_t *v = json_object_get(ctx, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* elicitation/create: accept with the schema's defaults (SEP-1034). */
static mcp_status
on_elicit(mcp_client *c, const char *method, const json_t *params, void *ud, json_t **result,
          mcp_error *err)
{
    (void)c;
    (void)method;
    (void)ud;
    json_t *content = NULL;
    mcp_status rc = mcp_client_elicit_defaults(json_object_get(params, "requestedSchema"),
                                               &content, err);
    if (rc != MCP_OK) {
        /* Nothing sensible to fill in: decline rather than invent values. */
        *result = json_pack("{s:s}", "action", "decline");
        return *result ? MCP_OK : rc;
    }
    *result = json_pack("{s:s, s:o}", "action", "accept", "content", content);
    return *result ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
}

/* sampling/createMessage: a canned answer (no model here). */
static mcp_status
on_sampling(mcp_client *c, const char *method, const json_t *params, void *ud, json_t **result,
            mcp_error *err)
{
    (void)c;
    (void)method;
    (void)params;
    (void)ud;
    *result = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "role", "assistant", "content", "type",
                        "text", "text", "This is a test response from the client", "model",
                        "test-model", "stopReason", "endTurn");
    return *result ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
}

static bool
has_tool(const json_t *tools, const char *name)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t) {
        const json_t *n = json_object_get(t, "name");
        if (json_is_string(n) && strcmp(json_string_value(n), name) == 0)
            return true;
    }
    return false;
}

/* Arguments for a tool the scenario gives no arguments for: each required property gets a
 * value of its type. */
static json_t *
sample_args(const json_t *tool)
{
    json_t *args = json_object();
    const json_t *schema = json_object_get(tool, "inputSchema");
    const json_t *props = json_object_get(schema, "properties");
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(schema, "required"), i, r) {
        const char *type = json_string_value(json_object_get(
            json_object_get(props, json_string_value(r)), "type"));
        json_t *v = type == NULL                      ? json_string("test")
                    : strcmp(type, "integer") == 0    ? json_integer(1)
                    : strcmp(type, "number") == 0     ? json_real(1.5)
                    : strcmp(type, "boolean") == 0    ? json_true()
                    : strcmp(type, "object") == 0     ? json_object()
                    : strcmp(type, "array") == 0      ? json_array()
                    : strcmp(type, "null") == 0       ? json_null()
                                                      : json_string("test");
        if (json_is_string(r))
            json_object_set_new(args, json_string_value(r), v);
        else
            json_decref(v);
    }
    return args;
}

static int
call(mcp_client *c, const char *name, json_t *args_owned)
{
    mcp_error err;
    json_t *res = NULL;
    mcp_status st = mcp_client_call_tool(c, name, args_owned, &res, &err);
    json_decref(args_owned);
    if (st != MCP_OK)
        return cli_fail("tools/call", &err);
    out_call_result(stdout, res);
    json_decref(res);
    return EXIT_OK;
}

/* resources/list + read each, prompts/list + get each (http-standard-headers: Mcp-Name). */
static int
resources_and_prompts(mcp_client *c)
{
    mcp_error err;
    json_t *list = NULL;
    size_t i;
    const json_t *e;
    if (mcp_client_list_resources(c, &list, &err) != MCP_OK)
        return cli_fail("resources/list", &err);
    json_array_foreach(list, i, e) {
        json_t *res = NULL;
        const char *uri = json_string_value(json_object_get(e, "uri"));
        if (uri != NULL && mcp_client_read_resource(c, uri, &res, &err) != MCP_OK) {
            json_decref(list);
            return cli_fail("resources/read", &err);
        }
        json_decref(res);
    }
    json_decref(list);
    if (mcp_client_list_prompts(c, &list, &err) != MCP_OK)
        return cli_fail("prompts/list", &err);
    json_array_foreach(list, i, e) {
        json_t *res = NULL;
        const char *name = json_string_value(json_object_get(e, "name"));
        if (name != NULL && mcp_client_get_prompt(c, name, NULL, &res, &err) != MCP_OK) {
            json_decref(list);
            return cli_fail("prompts/get", &err);
        }
        json_decref(res);
    }
    json_decref(list);
    return EXIT_OK;
}

int
conformance_main(const char *url, int verbose)
{
    const char *scenario = getenv("MCP_CONFORMANCE_SCENARIO");
    const char *ctx_text = getenv("MCP_CONFORMANCE_CONTEXT");
    if (scenario == NULL || scenario[0] == '\0') {
        fprintf(stderr, "mcp-client: conformance: MCP_CONFORMANCE_SCENARIO is not set\n");
        return EXIT_USAGE;
    }
    json_t *ctx = NULL;
    if (ctx_text != NULL && ctx_text[0] != '\0') {
        json_error_t je;
        ctx = json_loads(ctx_text, 0, &je);
        if (!json_is_object(ctx)) {
            json_decref(ctx);
            fprintf(stderr, "mcp-client: conformance: MCP_CONFORMANCE_CONTEXT is not an object\n");
            return EXIT_USAGE;
        }
    }
    mcp_error err;
    mcp_error_clear(&err);
    mcp_oauth *oauth = NULL;
    mcp_client *c = NULL;
    int rc = EXIT_OK;

    if (strncmp(scenario, "auth/", 5) == 0) {
        mcp_oauth_opts oo;
        mcp_oauth_opts_default(&oo);
        oo.login = MCP_OAUTH_LOGIN_HEADLESS;
        oo.client_metadata_url = CIMD_URL;
        oo.client_name = "libmcp conformance client";
        oo.client_id = ctx_str(ctx, "client_id");
        oo.client_secret = ctx_str(ctx, "client_secret");
        oo.private_key_pem = ctx_str(ctx, "private_key_pem");
        oo.signing_alg = ctx_str(ctx, "signing_algorithm");
        oo.verbose = verbose != 0;
        if (strstr(scenario, "client-credentials") != NULL) {
            oo.grant = MCP_OAUTH_GRANT_CLIENT_CREDENTIALS;
        } else if (ctx_str(ctx, "valid_jwt") != NULL) {
            /* auth/wif-jwt-bearer: the workload's platform-issued JWT */
            oo.grant = MCP_OAUTH_GRANT_JWT_BEARER;
            oo.assertion = ctx_str(ctx, "valid_jwt");
        } else if (ctx_str(ctx, "idp_id_token") != NULL) {
            oo.grant = MCP_OAUTH_GRANT_TOKEN_EXCHANGE;
            oo.idp_id_token = ctx_str(ctx, "idp_id_token");
            oo.idp_token_endpoint = ctx_str(ctx, "idp_token_endpoint");
            oo.idp_client_id = ctx_str(ctx, "idp_client_id");
        }
        if (mcp_oauth_new(&oo, &oauth, &err) != MCP_OK) {
            rc = cli_fail("oauth", &err);
            goto out;
        }
    }

    mcp_client_opts co;
    mcp_client_opts_default(&co);
    /* The suite names the revision a scenario runs at; pin it like the SDKs' clients do.
     * Without it (older suites) the default auto negotiation applies. */
    const char *pv = getenv("MCP_CONFORMANCE_PROTOCOL_VERSION");
    if (pv != NULL && strcmp(pv, MCP_PROTOCOL_2026) == 0)
        co.protocol = MCP_CLIENT_PROTOCOL_MODERN;
    else if (pv != NULL && pv[0] != '\0') {
        co.protocol = MCP_CLIENT_PROTOCOL_LEGACY;
        co.protocol_version = pv;
    }
    co.name = "libmcp-conformance-client";
    co.version = MCP_VERSION_STRING;
    co.request_timeout_ms = 20000;
    co.oauth = oauth;
    co.verbose = verbose != 0;
    /* Servers may send requests not tied to a POST (the SEP-1034 fixture's elicitation) on the
     * standalone stream only, so open it. */
    co.get_stream = true;
    co.cb.elicitation = on_elicit;
    co.cb.sampling = on_sampling;
    if (mcp_client_new(&co, &c, &err) != MCP_OK) {
        rc = cli_fail("client", &err);
        goto out;
    }
    if (mcp_client_connect_http(c, url, &err) != MCP_OK) {
        rc = cli_fail("connect", &err);
        goto out;
    }
    if (strcmp(scenario, "initialize") == 0)
        goto out;

    json_t *tools = NULL;
    if (mcp_client_list_tools(c, &tools, &err) != MCP_OK) {
        rc = cli_fail("tools/list", &err);
        goto out;
    }
    const json_t *calls = json_object_get(ctx, "toolCalls");
    size_t i;
    const json_t *t;
    if (json_is_array(calls)) {
        /* http-custom-headers: the calls the scenario asks for, in its order. */
        json_array_foreach(calls, i, t) {
            const json_t *a = json_object_get(t, "arguments");
            int r = call(c, json_string_value(json_object_get(t, "name")),
                         json_is_object(a) ? json_deep_copy(a) : json_object());
            if (r != EXIT_OK)
                rc = r;
        }
    } else if (strcmp(scenario, "http-invalid-tool-headers") == 0 ||
               strcmp(scenario, "sep-2322-client-request-state") == 0 ||
               strcmp(scenario, "http-standard-headers") == 0) {
        /* Every tool the library kept (it drops the ones with invalid x-mcp-header). */
        json_array_foreach(tools, i, t) {
            int r = call(c, json_string_value(json_object_get(t, "name")), sample_args(t));
            if (r != EXIT_OK)
                rc = r;
        }
        if (strcmp(scenario, "http-standard-headers") == 0)
            rc = rc != EXIT_OK ? rc : resources_and_prompts(c);
    } else if (strcmp(scenario, "json-schema-2020-12-preservation") == 0) {
        /* Hand the focal tool's inputSchema back as the library kept it (SEP-1613). */
        json_array_foreach(tools, i, t) {
            const char *n = json_string_value(json_object_get(t, "name"));
            if (n != NULL && strcmp(n, "json_schema_echo") != 0 &&
                json_is_object(json_object_get(t, "inputSchema")))
                rc = call(c, "json_schema_echo",
                          json_pack("{s:O}", "schema", json_object_get(t, "inputSchema")));
        }
    } else if (strcmp(scenario, "tools_call") == 0)
        rc = call(c, "add_numbers", json_pack("{s:i, s:i}", "a", 5, "b", 3));
    else if (strcmp(scenario, "elicitation-sep1034-client-defaults") == 0)
        rc = call(c, "test_client_elicitation_defaults", json_object());
    else if (strcmp(scenario, "sse-retry") == 0)
        rc = call(c, "test_reconnection", json_object());
    else if (has_tool(tools, "test-tool"))
        rc = call(c, "test-tool", json_object());
    json_decref(tools);
out:
    mcp_client_free(c);
    mcp_oauth_free(oauth);
    json_decref(ctx);
    return rc;
}
