/*
 * example-sampling: tools that ask the client for input (docs/design/server-core.md).
 *
 *   ask_model   {"question": "..."}  asks the client's language model (sampling/createMessage)
 *               and returns its answer.
 *   delete_item {"item": "..."}      asks the user to confirm (elicitation/create, a form with
 *               "confirm" and "reason") and "deletes" only on an accepted, confirmed answer.
 *
 * One handler serves both protocol eras: mcp_ctx_input() sends the request on the response
 * stream of a 2025 session and waits, or, at 2026-07-28, returns MCP_ERR_INPUT_REQUIRED so that
 * the client gets an input-required result and retries with the answer. A client that did not
 * declare the capability gets -32021 (MCP_ERR_UNSUPPORTED returned from the handler).
 * Every server flag of docs/cli/server-options.md applies (mcp_app_config_parse):
 *
 *     example-sampling --listen 127.0.0.1:8080
 *     example-client http://127.0.0.1:8080/mcp ask_model '{"question":"why is the sky blue?"}'
 *
 * Built by CMake with the other examples; tests/integration/examples.sh runs both.
 */
#include <mcp/app.h>
#include <mcp/server.h>

#include <stdio.h>
#include <string.h>

static const mcp_access ANYONE = { .any_authenticated = true };

static mcp_status
ask_model(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    const char *q = mcp_ctx_arg_str(ctx, "question");
    json_t *params = json_pack("{s:[{s:s, s:{s:s, s:s}}], s:i}", "messages", "role", "user",
                               "content", "type", "text", "text", q, "maxTokens", 200);
    json_t *answer = NULL;
    mcp_status rc = params != NULL
                    ? mcp_ctx_input(ctx, "model", "sampling/createMessage", params, &answer, err)
                    : MCP_ERR_NOMEM;
    json_decref(params);
    if (rc != MCP_OK)       /* INPUT_REQUIRED (2026: asked), UNSUPPORTED (-32021), ... */
        return rc;
    const char *text = json_string_value(json_object_get(json_object_get(answer, "content"),
                                                         "text"));
    char buf[1024];
    snprintf(buf, sizeof buf, "model says: %s", text != NULL ? text : "(no text)");
    json_decref(answer);
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
delete_item(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    const char *item = mcp_ctx_arg_str(ctx, "item");
    char msg[256];
    snprintf(msg, sizeof msg, "Delete %s?", item);
    json_t *schema = json_loads(
        "{\"type\":\"object\",\"properties\":{"
        "\"confirm\":{\"type\":\"boolean\",\"description\":\"really delete\",\"default\":true},"
        "\"reason\":{\"type\":\"string\",\"description\":\"why\",\"default\":\"cleanup\"}},"
        "\"required\":[\"confirm\"]}", 0, NULL);
    json_t *params = schema != NULL ? json_pack("{s:s, s:o}", "message", msg, "requestedSchema",
                                                schema) : NULL;
    json_t *answer = NULL;
    mcp_status rc = params != NULL
                    ? mcp_ctx_input(ctx, "confirm", "elicitation/create", params, &answer, err)
                    : MCP_ERR_NOMEM;
    json_decref(params);
    if (rc != MCP_OK)
        return rc;
    const char *action = json_string_value(json_object_get(answer, "action"));
    const json_t *content = json_object_get(answer, "content");
    bool yes = action != NULL && strcmp(action, "accept") == 0 &&
               json_is_true(json_object_get(content, "confirm"));
    const char *reason = json_string_value(json_object_get(content, "reason"));
    char buf[512];
    if (yes)
        snprintf(buf, sizeof buf, "deleted %s (reason: %s)", item, reason ? reason : "none");
    else
        snprintf(buf, sizeof buf, "kept %s (the user answered %s)", item,
                 action != NULL ? action : "nothing");
    json_decref(answer);
    return mcp_ctx_add_text(ctx, buf, err);
}

static const mcp_tool_def tools[] = {
    { .name = "ask_model", .description = "Ask the client's language model a question",
      .input_schema = "{\"type\":\"object\",\"properties\":{\"question\":{\"type\":\"string\"}},"
                      "\"required\":[\"question\"]}",
      .handler = ask_model },
    { .name = "delete_item", .description = "Delete an item after the user confirms",
      .input_schema = "{\"type\":\"object\",\"properties\":{\"item\":{\"type\":\"string\"}},"
                      "\"required\":[\"item\"]}",
      .handler = delete_item },
};

int
main(int argc, char **argv)
{
    mcp_app_config cfg;
    mcp_error err;
    mcp_error_clear(&err);
    int rc = mcp_app_config_parse(&cfg, argc, argv, "example-sampling",
                                  "Tools that ask the client: sampling and elicitation.", NULL,
                                  NULL);
    if (rc >= 0)
        return rc;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.name = "example-sampling";
    mcp_app_server_opts(&cfg, &so);
    mcp_server *srv = NULL;
    rc = 1;
    if (mcp_server_new(&so, &srv, &err) != MCP_OK)
        goto out;
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        mcp_tool_def d = tools[i];
        d.access = ANYONE;      /* every caller that passed authentication (none configured:
                                   anyone on loopback) */
        if (mcp_server_add_tool(srv, &d, NULL, &err) != MCP_OK)
            goto out;
    }
    rc = mcp_app_run(&cfg, srv, &err);     /* sets up --auth etc., serves until SIGTERM */
    err.message[0] = '\0';                 /* mcp_app_run printed its own failure */
out:
    if (err.message[0] != '\0')
        fprintf(stderr, "example-sampling: %s\n", err.message);
    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);
    return rc;
}
