/*
 * example-client: a minimal MCP client in C (docs/design/client.md).
 *
 *     example-client URL [TOOL [JSON-ARGS]]
 *
 * Connects over Streamable HTTP (the protocol revision is negotiated), prints the server's
 * name and its tools, and calls TOOL with JSON-ARGS (default {}) when given. A credential is
 * taken from $MCP_TOKEN (sent as "Authorization: Bearer ..."), never from the command line.
 * It also answers the server's requests: sampling/createMessage with a canned "model" reply and
 * elicitation/create by accepting the form's defaults (mcp_client_elicit_defaults), so it can
 * drive tools that ask the client for input, such as those of example-sampling. A real client
 * would call its model and show the form to its user there.
 *
 * Exit status: 0, 1 on a failure (the reason on stderr), 2 on a usage error.
 * Built by CMake with the other examples; tests/integration/examples.sh runs it.
 */
#include <mcp/client.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sampling/createMessage: what a host would send to its language model. */
static mcp_status
on_sampling(mcp_client *c, const char *method, const json_t *params, void *udata,
            json_t **result, mcp_error *err)
{
    (void)c, (void)method, (void)udata, (void)err;
    const json_t *msgs = json_object_get(params, "messages");
    const json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    const char *q = json_string_value(json_object_get(json_object_get(last, "content"), "text"));
    char text[512];
    snprintf(text, sizeof text, "(example model) you asked: %s", q != NULL ? q : "");
    *result = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "role", "assistant", "content", "type",
                        "text", "text", text, "model", "example-model", "stopReason", "endTurn");
    return *result != NULL ? MCP_OK : MCP_ERR_NOMEM;
}

/* elicitation/create: accept the form with its defaults (a host would ask its user). */
static mcp_status
on_elicitation(mcp_client *c, const char *method, const json_t *params, void *udata,
               json_t **result, mcp_error *err)
{
    (void)c, (void)method, (void)udata;
    json_t *content = NULL;
    mcp_status rc = mcp_client_elicit_defaults(json_object_get(params, "requestedSchema"),
                                               &content, err);
    if (rc != MCP_OK)
        return rc;
    *result = json_pack("{s:s, s:o}", "action", "accept", "content", content);
    return *result != NULL ? MCP_OK : MCP_ERR_NOMEM;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || argc > 4 || argv[1][0] == '-') {
        fprintf(stderr, "usage: example-client URL [TOOL [JSON-ARGS]]\n");
        return 2;
    }
    const char *url = argv[1], *tool = argc > 2 ? argv[2] : NULL;
    json_t *args = NULL, *tools = NULL, *result = NULL;
    mcp_client *c = NULL;
    mcp_error err;
    mcp_error_clear(&err);
    int rc = 1;
    if (argc > 3 && (args = json_loads(argv[3], 0, NULL)) == NULL) {
        fprintf(stderr, "example-client: JSON-ARGS is not JSON\n");
        return 2;
    }

    mcp_client_opts o;
    mcp_client_opts_default(&o);
    o.name = "example-client";
    o.bearer_token = getenv("MCP_TOKEN");      /* NULL: no credential */
    o.cb.sampling = on_sampling;              /* declares the sampling capability */
    o.cb.elicitation = on_elicitation;        /* declares elicitation (form mode) */
    if (mcp_client_new(&o, &c, &err) != MCP_OK || mcp_client_connect_http(c, url, &err) != MCP_OK)
        goto out;
    const json_t *info = mcp_client_server_info(c);
    printf("server: %s (protocol %s)\n",
           json_string_value(json_object_get(info, "name")) ? json_string_value(
               json_object_get(info, "name")) : "?",
           mcp_client_protocol_version(c));
    if (mcp_client_list_tools(c, &tools, &err) != MCP_OK)
        goto out;
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
        printf("tool: %s\n", json_string_value(json_object_get(t, "name")));
    if (tool != NULL) {
        if (mcp_client_call_tool(c, tool, args, &result, &err) != MCP_OK)
            goto out;
        json_t *item;
        json_array_foreach(json_object_get(result, "content"), i, item)
            if (json_is_string(json_object_get(item, "text")))
                printf("%s\n", json_string_value(json_object_get(item, "text")));
        if (mcp_client_result_is_error(result)) {
            fprintf(stderr, "example-client: %s reported an error\n", tool);
            goto out;
        }
    }
    rc = 0;
out:
    if (rc != 0 && err.message[0] != '\0')
        fprintf(stderr, "example-client: %s\n", err.message);
    json_decref(result);
    json_decref(tools);
    json_decref(args);
    mcp_client_free(c);
    return rc;
}
