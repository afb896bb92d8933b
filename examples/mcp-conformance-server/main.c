/*
 * mcp-conformance-server: every fixture the official MCP conformance suite exercises, plus `echo`.
 *
 *   mcp-conformance-server [--listen HOST:PORT] [--stdio] [--stateless] [--help]
 *
 * Tools are registered "open to any authenticated caller" (mcp_access.any_authenticated), so
 * when authentication is configured every authenticated caller may use them.
 */
#include <mcp/mcp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mcp/app.h>

#define PNG_B64 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
#define WAV_B64 "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

static const mcp_access OPEN = { .any_authenticated = true };

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- tools ------------------------------------------------------------------------------- */

static mcp_status
echo(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    const char *text = mcp_ctx_arg_str(ctx, "text");
    char buf[4096];
    snprintf(buf, sizeof buf, "echo: %s", text ? text : "");
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
simple_text(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_text(ctx, "This is a simple text response for testing.", err);
}

static mcp_status
image_content(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_image(ctx, PNG_B64, "image/png", err);
}

static mcp_status
audio_content(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_audio(ctx, WAV_B64, "audio/wav", err);
}

static mcp_status
embedded_resource(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_embedded(ctx, "test://embedded-resource", "text/plain",
                                "This is an embedded resource content.", false, err);
}

static mcp_status
multiple_content(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    mcp_status rc = mcp_ctx_add_text(ctx, "Multiple content types test:", err);
    if (rc == MCP_OK)
        rc = mcp_ctx_add_image(ctx, PNG_B64, "image/png", err);
    if (rc == MCP_OK)
        rc = mcp_ctx_add_embedded(ctx, "test://mixed-content-resource", "application/json",
                                  "{\"test\":\"data\",\"value\":123}", false, err);
    return rc;
}

static mcp_status
with_logging(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    static const char *const steps[] = { "Tool execution started", "Tool processing data",
                                         "Tool execution completed" };
    for (int i = 0; i < 3; i++) {
        mcp_status rc = mcp_ctx_log(ctx, MCP_LOG_INFO, "conformance", steps[i], err);
        if (rc != MCP_OK)
            return rc;
        if (i < 2)
            sleep_ms(50);
    }
    return mcp_ctx_add_text(ctx, "Tool with logging executed successfully", err);
}

static mcp_status
error_handling(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_set_error_result(ctx, "This tool intentionally returns an error for testing",
                                    err);
}

static mcp_status
with_progress(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    for (int i = 0; i <= 2; i++) {
        mcp_status rc = mcp_ctx_progress(ctx, 50.0 * i, 100, NULL, err);
        if (rc != MCP_OK)
            return rc;
        if (i < 2)
            sleep_ms(50);
    }
    return mcp_ctx_add_text(ctx, "Progress tool completed", err);
}

static mcp_status
sampling(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    const char *prompt = mcp_ctx_arg_str(ctx, "prompt");
    json_t *params = json_pack("{s:[{s:s, s:{s:s, s:s}}], s:i}", "messages", "role", "user",
                               "content", "type", "text", "text", prompt ? prompt : "",
                               "maxTokens", 100);
    json_t *res = NULL;
    /* one handler for both eras: a 2025 session gets the request on its SSE stream, a
     * 2026-07-28 client an input-required result */
    mcp_status rc = mcp_ctx_input(ctx, "sampling", "sampling/createMessage", params, &res, err);
    json_decref(params);
    if (rc == MCP_ERR_INPUT_REQUIRED)
        return rc;
    if (rc != MCP_OK)
        return mcp_ctx_set_error_result(ctx, "sampling failed", err);
    const char *text = json_string_value(json_object_get(json_object_get(res, "content"), "text"));
    char buf[4096];
    snprintf(buf, sizeof buf, "LLM response: %s", text ? text : "");
    json_decref(res);
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
elicit(mcp_ctx *ctx, const char *message, const char *schema_json, const char *prefix,
       mcp_error *err)
{
    json_t *schema = json_loads(schema_json, 0, NULL);
    json_t *params = json_pack("{s:s, s:o}", "message", message, "requestedSchema", schema);
    json_t *res = NULL;
    mcp_status rc = mcp_ctx_input(ctx, "user_info", "elicitation/create", params, &res, err);
    json_decref(params);
    if (rc == MCP_ERR_INPUT_REQUIRED)
        return rc;
    if (rc != MCP_OK)
        return mcp_ctx_set_error_result(ctx, "elicitation failed", err);
    const char *action = json_string_value(json_object_get(res, "action"));
    char *content = json_dumps(json_object_get(res, "content"), JSON_COMPACT);
    char buf[8192];
    snprintf(buf, sizeof buf, "%s: action=%s, content=%s", prefix, action ? action : "?",
             content ? content : "null");
    free(content);
    json_decref(res);
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
elicitation(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    const char *msg = mcp_ctx_arg_str(ctx, "message");
    return elicit(ctx, msg ? msg : "Please provide your information",
                  "{\"type\":\"object\",\"properties\":{"
                  "\"username\":{\"type\":\"string\",\"description\":\"User's response\"},"
                  "\"email\":{\"type\":\"string\",\"description\":\"User's email address\"}},"
                  "\"required\":[\"username\",\"email\"]}", "User response", err);
}

static mcp_status
elicitation_defaults(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return elicit(ctx, "Please review and update the form fields with defaults",
                  "{\"type\":\"object\",\"properties\":{"
                  "\"name\":{\"type\":\"string\",\"description\":\"User name\","
                  "\"default\":\"John Doe\"},"
                  "\"age\":{\"type\":\"integer\",\"description\":\"User age\",\"default\":30},"
                  "\"score\":{\"type\":\"number\",\"description\":\"User score\","
                  "\"default\":95.5},"
                  "\"status\":{\"type\":\"string\",\"description\":\"User status\","
                  "\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
                  "\"verified\":{\"type\":\"boolean\",\"description\":\"Verification status\","
                  "\"default\":true}},\"required\":[]}", "Elicitation completed", err);
}

static mcp_status
elicitation_enums(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return elicit(ctx, "Please select options from the enum fields",
                  "{\"type\":\"object\",\"properties\":{"
                  "\"untitledSingle\":{\"type\":\"string\",\"description\":\"Select one option\","
                  "\"enum\":[\"option1\",\"option2\",\"option3\"]},"
                  "\"titledSingle\":{\"type\":\"string\","
                  "\"description\":\"Select one option with titles\",\"oneOf\":["
                  "{\"const\":\"value1\",\"title\":\"First Option\"},"
                  "{\"const\":\"value2\",\"title\":\"Second Option\"},"
                  "{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
                  "\"legacyEnum\":{\"type\":\"string\","
                  "\"description\":\"Select one option (legacy)\","
                  "\"enum\":[\"opt1\",\"opt2\",\"opt3\"],"
                  "\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
                  "\"untitledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options\","
                  "\"minItems\":1,\"maxItems\":3,\"items\":{\"type\":\"string\","
                  "\"enum\":[\"option1\",\"option2\",\"option3\"]}},"
                  "\"titledMulti\":{\"type\":\"array\","
                  "\"description\":\"Select multiple options with titles\",\"minItems\":1,"
                  "\"maxItems\":3,\"items\":{\"anyOf\":["
                  "{\"const\":\"value1\",\"title\":\"First Choice\"},"
                  "{\"const\":\"value2\",\"title\":\"Second Choice\"},"
                  "{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},\"required\":[]}",
                  "Elicitation completed", err);
}

static mcp_status
schema_2020_12(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    char *args = json_dumps(mcp_ctx_args(ctx), JSON_COMPACT);
    char buf[4096];
    snprintf(buf, sizeof buf, "JSON Schema 2020-12 tool called with: %s", args ? args : "{}");
    free(args);
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
reconnection(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    /* SEP-1699: close the POST stream now; the result is delivered when the client comes back
     * with GET + Last-Event-ID. */
    mcp_ctx_close_stream(ctx);
    sleep_ms(200);
    return mcp_ctx_add_text(ctx, "Reconnection test completed successfully. The server closed "
                                 "the stream and the client resumed it.", err);
}

/* ---- input requests (2026-07-28 input-required results, SEP-2322; 2025: SSE requests) ----
 * Each handler asks with mcp_ctx_input() under a key of its own (the key is on the wire), asks
 * for everything it needs before returning MCP_ERR_INPUT_REQUIRED, and the same code serves a
 * 2025 session (the asks then block on the SSE stream). Errors are returned, not turned into
 * tool errors: a malformed answer is a -32602 for the client. */

#define NAME_SCHEMA "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}"

static json_t *
elicit_params(const char *message)
{
    return json_pack("{s:s, s:o}", "message", message, "requestedSchema",
                     json_loads(NAME_SCHEMA, 0, NULL));
}

static json_t *
sampling_params(const char *question)
{
    return json_pack("{s:[{s:s, s:{s:s, s:s}}], s:i}", "messages", "role", "user", "content",
                     "type", "text", "text", question, "maxTokens", 100);
}

/* Ask under key; on MCP_OK *ans is the answer. MCP_ERR_INPUT_REQUIRED is remembered in *rc_all
 * (so the handler can ask for the rest first); any other failure is returned. */
static mcp_status
ask(mcp_ctx *ctx, const char *key, const char *method, json_t *params, json_t **ans,
    mcp_status *rc_all, mcp_error *err)
{
    mcp_status rc = mcp_ctx_input(ctx, key, method, params, ans, err);
    json_decref(params);
    if (rc == MCP_ERR_INPUT_REQUIRED) {
        *rc_all = rc;
        return MCP_OK;
    }
    return rc;
}

static const char *
answer_text(const json_t *ans)
{
    const json_t *content = json_object_get(ans, "content");
    const char *t = json_string_value(json_object_get(content, "text"));
    if (t == NULL)
        t = json_string_value(json_object_get(content, "name"));
    return t ? t : json_string_value(json_object_get(ans, "action"));
}

static mcp_status
ir_elicitation(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *a = NULL;
    mcp_status all = MCP_OK;
    mcp_status rc = ask(ctx, "user_name", "elicitation/create",
                        elicit_params("What is your name?"), &a, &all, err);
    if (rc != MCP_OK || all != MCP_OK)
        return rc != MCP_OK ? rc : all;
    char buf[512];
    snprintf(buf, sizeof buf, "Hello, %s!", answer_text(a) ? answer_text(a) : "?");
    json_decref(a);
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
ir_sampling(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *a = NULL;
    mcp_status all = MCP_OK;
    mcp_status rc = ask(ctx, "capital_question", "sampling/createMessage",
                        sampling_params("What is the capital of France?"), &a, &all, err);
    if (rc != MCP_OK || all != MCP_OK)
        return rc != MCP_OK ? rc : all;
    char buf[512];
    snprintf(buf, sizeof buf, "The model said: %s", answer_text(a) ? answer_text(a) : "?");
    json_decref(a);
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
ir_list_roots(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *a = NULL;
    mcp_status all = MCP_OK;
    mcp_status rc = ask(ctx, "client_roots", "roots/list", json_object(), &a, &all, err);
    if (rc != MCP_OK || all != MCP_OK)
        return rc != MCP_OK ? rc : all;
    char buf[256];
    snprintf(buf, sizeof buf, "The client has %zu root(s)",
             json_array_size(json_object_get(a, "roots")));
    json_decref(a);
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
ir_request_state(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *a = NULL;
    mcp_status all = MCP_OK;
    /* the handler's own progress travels in requestState between the rounds */
    if (mcp_ctx_state(ctx) == NULL &&
        mcp_ctx_set_state_take(ctx, json_pack("{s:s}", "phase", "confirming"), err) != MCP_OK)
        return MCP_ERR_NOMEM;
    mcp_status rc = ask(ctx, "confirm", "elicitation/create",
                        elicit_params("Please confirm to continue"), &a, &all, err);
    if (rc != MCP_OK || all != MCP_OK)
        return rc != MCP_OK ? rc : all;
    json_decref(a);
    const char *phase = json_string_value(json_object_get(mcp_ctx_state(ctx), "phase"));
    return mcp_ctx_add_text(ctx, phase && strcmp(phase, "confirming") == 0 ? "state-ok"
                                                                          : "state-missing", err);
}

static mcp_status
ir_multiple(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *a1 = NULL, *a2 = NULL, *a3 = NULL;
    mcp_status all = MCP_OK;
    mcp_status rc = ask(ctx, "user_name", "elicitation/create",
                        elicit_params("What is your name?"), &a1, &all, err);
    if (rc == MCP_OK)
        rc = ask(ctx, "capital_question", "sampling/createMessage",
                 sampling_params("What is the capital of France?"), &a2, &all, err);
    if (rc == MCP_OK)
        rc = ask(ctx, "client_roots", "roots/list", json_object(), &a3, &all, err);
    if (rc == MCP_OK && all == MCP_OK)
        rc = mcp_ctx_add_text(ctx, "Received all three inputs", err);
    json_decref(a1);
    json_decref(a2);
    json_decref(a3);
    return rc != MCP_OK ? rc : all;
}

static mcp_status
ir_multi_round(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *a1 = NULL, *a2 = NULL;
    mcp_status all = MCP_OK;
    /* round 2 is asked only once round 1 is answered: two rounds, two states */
    mcp_status rc = ask(ctx, "step1", "elicitation/create", elicit_params("Step 1: your name?"),
                        &a1, &all, err);
    if (rc == MCP_OK && all == MCP_OK)
        rc = ask(ctx, "step2", "elicitation/create", elicit_params("Step 2: your colour?"),
                 &a2, &all, err);
    if (rc == MCP_OK && all == MCP_OK)
        rc = mcp_ctx_add_text(ctx, "Both steps completed", err);
    json_decref(a1);
    json_decref(a2);
    return rc != MCP_OK ? rc : all;
}

static mcp_status
ir_capabilities(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *a1 = NULL, *a2 = NULL, *a3 = NULL;
    mcp_status all = MCP_OK, rc = MCP_OK;
    /* ask only for what the client declared in this request */
    if (mcp_ctx_client_has(ctx, MCP_CLIENT_ELICITATION))
        rc = ask(ctx, "user_name", "elicitation/create", elicit_params("What is your name?"),
                 &a1, &all, err);
    if (rc == MCP_OK && mcp_ctx_client_has(ctx, MCP_CLIENT_SAMPLING))
        rc = ask(ctx, "capital_question", "sampling/createMessage",
                 sampling_params("What is the capital of France?"), &a2, &all, err);
    if (rc == MCP_OK && mcp_ctx_client_has(ctx, MCP_CLIENT_ROOTS))
        rc = ask(ctx, "client_roots", "roots/list", json_object(), &a3, &all, err);
    if (rc == MCP_OK && all == MCP_OK)
        rc = mcp_ctx_add_text(ctx, "Asked only for declared capabilities", err);
    json_decref(a1);
    json_decref(a2);
    json_decref(a3);
    return rc != MCP_OK ? rc : all;
}

/* Needs sampling unconditionally: a client that did not declare it gets -32021. */
static mcp_status
missing_capability(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *a = NULL;
    mcp_status all = MCP_OK;
    mcp_status rc = ask(ctx, "capital_question", "sampling/createMessage",
                        sampling_params("What is the capital of France?"), &a, &all, err);
    if (rc != MCP_OK || all != MCP_OK)
        return rc != MCP_OK ? rc : all;
    json_decref(a);
    return mcp_ctx_add_text(ctx, "sampling answered", err);
}

static mcp_status
ir_prompt(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *a = NULL;
    mcp_status all = MCP_OK;
    mcp_status rc = ask(ctx, "user_context", "elicitation/create",
                        elicit_params("What context should the prompt use?"), &a, &all, err);
    if (rc != MCP_OK || all != MCP_OK)
        return rc != MCP_OK ? rc : all;
    char *ctxt = json_dumps(json_object_get(a, "content"), JSON_COMPACT);
    char buf[1024];
    snprintf(buf, sizeof buf, "Use this context: %s", ctxt ? ctxt : "{}");
    free(ctxt);
    json_decref(a);
    return mcp_ctx_add_prompt_message_take(
        ctx, "user", json_pack("{s:s, s:s}", "type", "text", "text", buf), err);
}

/* The list-change hooks of the 2026 listen scenarios: the lists are fixed, so a "change" is
 * the notification itself (2025 sessions get it on their GET stream, 2026 listeners on theirs).
 * u is the server (every tool is registered with it). */
/* SEP-2243: its "region" argument is mirrored in the Mcp-Param-Region header (x-mcp-header). */
static mcp_status
custom_header(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    char buf[256];
    const char *r = mcp_ctx_arg_str(ctx, "region");
    snprintf(buf, sizeof buf, "region: %s", r ? r : "");
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
trigger_tool_change(mcp_ctx *ctx, void *u, mcp_error *err)
{
    mcp_server_notify_list_changed(u, "tools");
    return mcp_ctx_add_text(ctx, "tools/list_changed sent", err);
}

static mcp_status
trigger_prompt_change(mcp_ctx *ctx, void *u, mcp_error *err)
{
    mcp_server_notify_list_changed(u, "prompts");
    return mcp_ctx_add_text(ctx, "prompts/list_changed sent", err);
}

#define NO_ARGS "{\"type\":\"object\",\"properties\":{}}"

static const mcp_tool_def tools[] = {
    { .name = "echo", .description = "Echo the given text back, prefixed with 'echo: '.",
      .input_schema = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},"
                      "\"required\":[\"text\"]}",
      .annotations = "{\"readOnlyHint\":true}", .flags = MCP_TOOL_INLINE, .handler = echo },
    { .name = "test_simple_text", .description = "Returns a simple text response",
      .input_schema = NO_ARGS, .flags = MCP_TOOL_INLINE, .handler = simple_text },
    { .name = "test_image_content", .description = "Returns an image",
      .input_schema = NO_ARGS, .handler = image_content },
    { .name = "test_audio_content", .description = "Returns audio",
      .input_schema = NO_ARGS, .handler = audio_content },
    { .name = "test_embedded_resource", .description = "Returns an embedded resource",
      .input_schema = NO_ARGS, .handler = embedded_resource },
    { .name = "test_multiple_content_types", .description = "Returns text, image and resource",
      .input_schema = NO_ARGS, .handler = multiple_content },
    { .name = "test_tool_with_logging", .description = "Sends log notifications while running",
      .input_schema = NO_ARGS, .handler = with_logging },
    { .name = "test_error_handling", .description = "Always returns a tool error",
      .input_schema = NO_ARGS, .handler = error_handling },
    { .name = "test_tool_with_progress", .description = "Reports progress while running",
      .input_schema = NO_ARGS, .handler = with_progress },
    { .name = "test_sampling", .description = "Asks the client's LLM via sampling",
      .input_schema = "{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\"}},"
                      "\"required\":[\"prompt\"]}", .handler = sampling },
    { .name = "test_elicitation", .description = "Asks the user for information",
      .input_schema = "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\"}},"
                      "\"required\":[\"message\"]}", .handler = elicitation },
    { .name = "test_elicitation_sep1034_defaults",
      .description = "Elicitation with default values (SEP-1034)",
      .input_schema = NO_ARGS, .handler = elicitation_defaults },
    { .name = "test_elicitation_sep1330_enums",
      .description = "Elicitation with enum schemas (SEP-1330)",
      .input_schema = NO_ARGS, .handler = elicitation_enums },
    { .name = "json_schema_2020_12_tool", .description = "Tool with JSON Schema 2020-12 features",
      /* the suite's own schema (SEP-1613, SEP-2106): listed exactly as registered */
      .input_schema = "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
                      "\"type\":\"object\",\"$defs\":{\"address\":{\"$anchor\":\"addressDef\","
                      "\"type\":\"object\",\"properties\":{\"street\":{\"type\":\"string\"},"
                      "\"city\":{\"type\":\"string\"}}}},\"properties\":{"
                      "\"name\":{\"type\":\"string\"},\"address\":{\"$ref\":\"#/$defs/address\"},"
                      "\"contactMethod\":{\"type\":\"string\",\"enum\":[\"phone\",\"email\"]},"
                      "\"phone\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"}},"
                      "\"allOf\":[{\"anyOf\":[{\"required\":[\"phone\"]},"
                      "{\"required\":[\"email\"]}]}],"
                      "\"if\":{\"properties\":{\"contactMethod\":{\"const\":\"phone\"}},"
                      "\"required\":[\"contactMethod\"]},\"then\":{\"required\":[\"phone\"]},"
                      "\"else\":{\"required\":[\"email\"]},\"additionalProperties\":false}",
      .handler = schema_2020_12 },
    { .name = "test_logging_tool", .description = "Logs three messages (2026: only with logLevel)",
      .input_schema = NO_ARGS, .handler = with_logging },
    { .name = "test_missing_capability", .description = "Needs the client's sampling capability",
      .input_schema = NO_ARGS, .handler = missing_capability },
    { .name = "test_streaming_elicitation", .description = "Asks the user for their name",
      .input_schema = NO_ARGS, .handler = ir_elicitation },
    { .name = "test_input_required_result_elicitation", .description = "Asks for a name",
      .input_schema = NO_ARGS, .handler = ir_elicitation },
    { .name = "test_input_required_result_sampling", .description = "Asks the client's LLM",
      .input_schema = NO_ARGS, .handler = ir_sampling },
    { .name = "test_input_required_result_list_roots", .description = "Asks for the roots",
      .input_schema = NO_ARGS, .handler = ir_list_roots },
    { .name = "test_input_required_result_request_state",
      .description = "Keeps its own state across an input round", .input_schema = NO_ARGS,
      .handler = ir_request_state },
    { .name = "test_input_required_result_multiple_inputs",
      .description = "Asks for an elicitation, a sampling and the roots at once",
      .input_schema = NO_ARGS, .handler = ir_multiple },
    { .name = "test_input_required_result_multi_round", .description = "Two input rounds",
      .input_schema = NO_ARGS, .handler = ir_multi_round },
    { .name = "test_input_required_result_tampered_state",
      .description = "Refuses a tampered requestState", .input_schema = NO_ARGS,
      .handler = ir_request_state },
    { .name = "test_input_required_result_capabilities",
      .description = "Asks only for the capabilities the client declared",
      .input_schema = NO_ARGS, .handler = ir_capabilities },
    { .name = "test_custom_header", .description = "Its region argument travels in a header too",
      .input_schema = "{\"type\":\"object\",\"properties\":{\"region\":{\"type\":\"string\","
                      "\"x-mcp-header\":\"Region\"}},\"required\":[\"region\"]}",
      .handler = custom_header },
    { .name = "test_trigger_tool_change", .description = "Announces a tool list change",
      .input_schema = NO_ARGS, .handler = trigger_tool_change },
    { .name = "test_trigger_prompt_change", .description = "Announces a prompt list change",
      .input_schema = NO_ARGS, .handler = trigger_prompt_change },
    { .name = "test_reconnection",
      .description = "Closes its SSE stream and finishes after the client reconnects (SEP-1699)",
      .input_schema = NO_ARGS, .handler = reconnection },
};

/* ---- resources --------------------------------------------------------------------------- */

static mcp_status
static_text(mcp_ctx *ctx, const char *uri, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_resource_text(ctx, uri, "text/plain",
                                     "This is the content of the static text resource.", err);
}

static mcp_status
static_binary(mcp_ctx *ctx, const char *uri, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_resource_blob(ctx, uri, "image/png", PNG_B64, err);
}

static mcp_status
watched(mcp_ctx *ctx, const char *uri, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_resource_text(ctx, uri, "text/plain", "Watched resource content", err);
}

static mcp_status
template_data(mcp_ctx *ctx, const char *uri, void *u, mcp_error *err)
{
    (void)u;
    const char *id = mcp_ctx_uri_var(ctx, "id");
    json_t *v = json_pack("{s:s, s:b, s:s+}", "id", id ? id : "", "templateTest", 1, "data",
                          "Data for ID: ", id ? id : "");
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    mcp_status rc = mcp_ctx_add_resource_text(ctx, uri, "application/json", text ? text : "{}",
                                              err);
    free(text);
    return rc;
}

static const mcp_resource_def resources[] = {
    { .uri = "test://static-text", .name = "static-text", .title = "Static Text Resource",
      .description = "A static text resource for testing", .mime_type = "text/plain",
      .handler = static_text },
    { .uri = "test://static-binary", .name = "static-binary", .title = "Static Binary Resource",
      .description = "A static binary resource (PNG image)", .mime_type = "image/png",
      .handler = static_binary },
    { .uri = "test://watched-resource", .name = "watched-resource",
      .description = "A resource that can be subscribed to", .mime_type = "text/plain",
      .handler = watched },
    { .uri_template = "test://template/{id}/data", .name = "template",
      .description = "A resource template with an id parameter", .mime_type = "application/json",
      .handler = template_data },
};

/* ---- prompts ----------------------------------------------------------------------------- */

static mcp_status
simple_prompt(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_prompt_message_take(
        ctx, "user", json_pack("{s:s, s:s}", "type", "text", "text",
                               "This is a simple prompt for testing."), err);
}

static mcp_status
prompt_with_args(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    const char *a1 = mcp_ctx_arg_str(ctx, "arg1"), *a2 = mcp_ctx_arg_str(ctx, "arg2");
    char buf[4096];
    snprintf(buf, sizeof buf, "Prompt with arguments: arg1='%s', arg2='%s'", a1 ? a1 : "",
             a2 ? a2 : "");
    return mcp_ctx_add_prompt_message_take(
        ctx, "user", json_pack("{s:s, s:s}", "type", "text", "text", buf), err);
}

static mcp_status
prompt_embedded(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    const char *uri = mcp_ctx_arg_str(ctx, "resourceUri");
    mcp_status rc = mcp_ctx_add_prompt_message_take(
        ctx, "user", json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "resource", "resource", "uri",
                               uri ? uri : "test://example-resource", "mimeType", "text/plain",
                               "text", "Embedded resource content for testing."), err);
    if (rc == MCP_OK)
        rc = mcp_ctx_add_prompt_message_take(
            ctx, "user", json_pack("{s:s, s:s}", "type", "text", "text",
                                   "Please process the embedded resource above."), err);
    return rc;
}

static mcp_status
prompt_image(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    mcp_status rc = mcp_ctx_add_prompt_message_take(
        ctx, "user", json_pack("{s:s, s:s, s:s}", "type", "image", "data", PNG_B64, "mimeType",
                               "image/png"), err);
    if (rc == MCP_OK)
        rc = mcp_ctx_add_prompt_message_take(
            ctx, "user", json_pack("{s:s, s:s}", "type", "text", "text",
                                   "Please analyze the image above."), err);
    return rc;
}

static const mcp_prompt_arg args_two[] = {
    { "arg1", "First test argument", true }, { "arg2", "Second test argument", true }, { 0 }
};
static const mcp_prompt_arg args_uri[] = {
    { "resourceUri", "URI of the resource to embed", true }, { 0 }
};

static const mcp_prompt_def prompts[] = {
    { .name = "test_simple_prompt", .description = "A simple prompt without arguments",
      .handler = simple_prompt },
    { .name = "test_prompt_with_arguments", .description = "A prompt with required arguments",
      .args = args_two, .handler = prompt_with_args },
    { .name = "test_prompt_with_embedded_resource",
      .description = "A prompt that embeds a resource", .args = args_uri,
      .handler = prompt_embedded },
    { .name = "test_prompt_with_image", .description = "A prompt that includes an image",
      .handler = prompt_image },
    { .name = "test_input_required_result_prompt",
      .description = "A prompt that asks the user for context first", .handler = ir_prompt },
};

static mcp_status
complete(mcp_ctx *ctx, const char *ref_type, const char *ref_name, const char *arg_name,
         const char *arg_value, void *u, mcp_error *err)
{
    (void)u;
    (void)ref_type;
    (void)ref_name;
    (void)arg_name;
    static const char *const values[] = { "test", "testing", "tested", NULL };
    for (const char *const *v = values; *v; v++)
        if (strncmp(*v, arg_value, strlen(arg_value)) == 0) {
            mcp_status rc = mcp_ctx_add_completion(ctx, *v, err);
            if (rc != MCP_OK)
                return rc;
        }
    return MCP_OK;
}

int
main(int argc, char **argv)
{
    mcp_app_config cfg;
    mcp_error err;
    int rc = mcp_app_config_parse(&cfg, argc, argv, "mcp-conformance-server",
                                  "Serves the MCP conformance suite's fixtures plus an echo tool.",
                                  NULL, NULL);
    if (rc >= 0)
        return rc;

    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.name = "mcp-conformance-server";
    so.instructions = "Fixture server for the MCP conformance suite.";
    mcp_app_server_opts(&cfg, &so);     /* --stateless and the session/authn limits */
    mcp_server *srv = NULL;
    if (mcp_server_new(&so, &srv, &err) != MCP_OK) {
        fprintf(stderr, "mcp-conformance-server: %s\n", err.message);
        return 1;
    }
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        mcp_tool_def d = tools[i];
        d.access = OPEN;
        if (mcp_server_add_tool(srv, &d, srv, &err) != MCP_OK)
            goto fail;
    }
    for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++) {
        mcp_resource_def d = resources[i];
        d.access = OPEN;
        if (mcp_server_add_resource(srv, &d, NULL, &err) != MCP_OK)
            goto fail;
    }
    for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++) {
        mcp_prompt_def d = prompts[i];
        d.access = OPEN;
        if (mcp_server_add_prompt(srv, &d, NULL, &err) != MCP_OK)
            goto fail;
    }
    mcp_server_set_completer(srv, complete, NULL);
    if (mcp_app_setup(&cfg, srv, &err) != MCP_OK)   /* --auth, --db, protected-resource metadata */
        goto fail;
    rc = mcp_app_run(&cfg, srv, &err);
    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);
    return rc;
fail:
    fprintf(stderr, "mcp-conformance-server: %s\n", err.message);
    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);
    return 1;
}
