/*
 * The client session object: options, creating and freeing it, connecting a transport and the
 * initialize handshake (version negotiation, the server's info and capabilities).
 *
 * What happens to each message once connected (ids, the table of outbound exchanges, dispatch
 * of incoming messages, re-authorization) is in exchange.c; the transports are in
 * transport_http.c and transport_stdio.c, behind mcp__tr_ops.
 */
#include "client/internal.h"

#include <string.h>

static const char *const supported_versions[] = { "2025-11-25", "2025-06-18", "2025-03-26",
                                                  NULL };

void
mcp_client_opts_default(mcp_client_opts *o)
{
    memset(o, 0, sizeof *o);
    o->name = "libmcp-client";
    o->version = MCP_VERSION_STRING;
    o->protocol_version = MCP_PROTOCOL_LATEST;
    o->request_timeout_ms = 60000;
    o->connect_timeout_ms = 10000;
    o->max_message = MCP_CLIENT_DEFAULT_MAX_MESSAGE;
}

void
mcp_client_free(mcp_client *c)
{
    if (c == NULL)
        return;
    if (c->tr != NULL) {
        mcp__client_flush_detached(c, 1000);
        c->tr->ops->close(c->tr);
    }
    mcp__event *ev;
    while ((ev = mcp__evq_pop(&c->q)) != NULL)
        mcp__event_free(ev);
    mcp__client_free_outbounds(c);
    if (c->bearer != NULL) {
        mcp_memzero(c->bearer, strlen(c->bearer));
        mcp__free(c->bearer);
    }
    for (size_t i = 0; c->headers != NULL && c->headers[i] != NULL; i++)
        mcp__free(c->headers[i]);
    mcp__free(c->headers);
    mcp__free(c->name);
    mcp__free(c->version);
    mcp__free(c->title);
    mcp__free(c->offer);
    mcp__free(c->auth_header);
    mcp__free(c->url);
    mcp__free(c->negotiated);
    mcp__free(c->instructions);
    json_decref(c->server_info);
    json_decref(c->server_caps);
    mcp__free(c);
}

mcp_status
mcp_client_new(const mcp_client_opts *opts, mcp_client **out, mcp_error *err)
{
    *out = NULL;
    mcp_client_opts def;
    if (opts == NULL) {
        mcp_client_opts_default(&def);
        opts = &def;
    }
    if (opts->bearer_token != NULL &&
        (strpbrk(opts->bearer_token, "\r\n") != NULL || opts->bearer_token[0] == '\0'))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "bearer token is empty or has a newline");
    if (opts->auth_header != NULL && (strpbrk(opts->auth_header, "\r\n: ") != NULL ||
                                      opts->auth_header[0] == '\0'))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "bad credential header name");
    if (opts->protocol_version != NULL) {
        bool known = false;
        for (size_t i = 0; supported_versions[i] != NULL; i++)
            known |= strcmp(opts->protocol_version, supported_versions[i]) == 0;
        if (!known)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unsupported protocol version %s",
                                 opts->protocol_version);
    }
    mcp__curl_global_init();
    mcp_client *c = mcp__calloc(1, sizeof *c);
    if (c == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    c->name = mcp__strdup(opts->name ? opts->name : "libmcp-client");
    c->version = mcp__strdup(opts->version ? opts->version : MCP_VERSION_STRING);
    c->title = opts->title ? mcp__strdup(opts->title) : NULL;
    c->offer = mcp__strdup(opts->protocol_version ? opts->protocol_version
                                                  : MCP_PROTOCOL_LATEST);
    c->bearer = opts->bearer_token ? mcp__strdup(opts->bearer_token) : NULL;
    c->auth_header = opts->auth_header ? mcp__strdup(opts->auth_header) : NULL;
    c->request_timeout_ms = opts->request_timeout_ms ? opts->request_timeout_ms : 60000;
    c->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
    c->max_message = opts->max_message ? opts->max_message : MCP_CLIENT_DEFAULT_MAX_MESSAGE;
    c->get_stream = opts->get_stream;
    c->verbose = opts->verbose;
    c->oauth = opts->oauth;
    c->cb = opts->cb;
    bool ok = c->name && c->version && c->offer && (!opts->title || c->title) &&
              (!opts->bearer_token || c->bearer) && (!opts->auth_header || c->auth_header);
    size_t n = 0;
    while (opts->headers != NULL && opts->headers[n] != NULL)
        n++;
    if (ok && n > 0) {
        c->headers = mcp__calloc(n + 1, sizeof *c->headers);
        ok = c->headers != NULL;
        for (size_t i = 0; ok && i < n; i++)
            ok = (c->headers[i] = mcp__strdup(opts->headers[i])) != NULL;
    }
    if (!ok) {
        mcp_client_free(c);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    *out = c;
    return MCP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* connect                                                                                    */

static mcp_status
initialize(mcp_client *c, mcp_error *err)
{
    json_t *caps = json_object();
    if (caps == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    if (c->cb.sampling)
        json_object_set_new(caps, "sampling", json_object());
    if (c->cb.elicitation)
        json_object_set_new(caps, "elicitation", json_object());
    if (c->cb.roots)
        json_object_set_new(caps, "roots", json_pack("{s:b}", "listChanged", 1));
    json_t *info = json_pack("{s:s, s:s}", "name", c->name, "version", c->version);
    if (info != NULL && c->title != NULL)
        json_object_set_new(info, "title", json_string(c->title));
    json_t *params = json_pack("{s:s, s:o, s:o}", "protocolVersion", c->offer,
                               "capabilities", caps, "clientInfo", info);
    if (params == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    json_t *res = NULL;
    mcp_status rc = mcp__client_rpc(c, "initialize", params, false, &res, err);
    json_decref(params);
    if (rc != MCP_OK)
        return rc;
    const char *pv = json_string_value(json_object_get(res, "protocolVersion"));
    bool ok = false;
    for (size_t i = 0; pv != NULL && supported_versions[i] != NULL; i++)
        ok |= strcmp(pv, supported_versions[i]) == 0;
    if (!ok) {
        char safe[64];
        mcp__sanitize(pv ? pv : "(none)", safe, sizeof safe);
        json_decref(res);
        return mcp_error_set(err, MCP_ERR_UNSUPPORTED,
                             "server chose protocol version %s, which this client does not speak",
                             safe);
    }
    c->negotiated = mcp__strdup(pv);
    const json_t *si = json_object_get(res, "serverInfo");
    const json_t *sc = json_object_get(res, "capabilities");
    const json_t *ins = json_object_get(res, "instructions");
    c->server_info = json_is_object(si) ? json_incref((json_t *)si) : json_object();
    c->server_caps = json_is_object(sc) ? json_incref((json_t *)sc) : json_object();
    c->instructions = json_is_string(ins) ? mcp__strdup(json_string_value(ins)) : NULL;
    json_decref(res);
    if (c->negotiated == NULL || c->server_info == NULL || c->server_caps == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    if (c->tr->ops->set_protocol_version != NULL)
        c->tr->ops->set_protocol_version(c->tr, c->negotiated);
    rc = mcp__client_notify(c, "notifications/initialized", NULL, err);
    if (rc != MCP_OK)
        return rc;
    if (c->get_stream && c->tr->ops->open_stream != NULL)
        c->tr->ops->open_stream(c->tr, NULL);
    c->connected = true;
    return MCP_OK;
}

static mcp_status
after_transport(mcp_client *c, mcp_status rc, mcp_error *err)
{
    if (rc == MCP_OK)
        rc = initialize(c, err);
    if (rc != MCP_OK && c->tr != NULL) {
        c->tr->ops->close(c->tr);
        c->tr = NULL;
        c->is_http = false;
        c->dead = false;
    }
    return rc;
}

mcp_status
mcp_client_connect_http(mcp_client *c, const char *url, mcp_error *err)
{
    if (c == NULL || url == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no client or URL");
    if (c->tr != NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "client is already connected");
    mcp__free(c->url);
    c->url = mcp__strdup(url);
    if (c->url == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    mcp__http_tr_opts o = { .url = url, .connect_timeout_ms = c->connect_timeout_ms,
                            .max_message = c->max_message,
                            .headers = (const char *const *)c->headers, .verbose = c->verbose };
    mcp_status rc = mcp__http_tr_new(&o, &c->q, &c->tr, err);
    c->is_http = rc == MCP_OK;
    return after_transport(c, rc, err);
}

mcp_status
mcp_client_connect_stdio(mcp_client *c, const char *const *argv, mcp_error *err)
{
    if (c == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no client");
    if (c->tr != NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "client is already connected");
    mcp_status rc = mcp__stdio_tr_new(argv, c->max_message, &c->q, &c->tr, err);
    c->is_http = false;
    return after_transport(c, rc, err);
}

/* The session's read-only accessors: NULL for a NULL client and before connect. */
#define CLIENT_ACCESSOR(type, name, value)                                                  \
    type name(const mcp_client *c) { return c != NULL ? (value) : NULL; }

CLIENT_ACCESSOR(const char *, mcp_client_protocol_version, c->negotiated)
CLIENT_ACCESSOR(const json_t *, mcp_client_server_info, c->server_info)
CLIENT_ACCESSOR(const json_t *, mcp_client_server_capabilities, c->server_caps)
CLIENT_ACCESSOR(const char *, mcp_client_instructions, c->instructions)
CLIENT_ACCESSOR(const char *, mcp_client_session_id,
                c->tr != NULL && c->tr->ops->session_id != NULL ? c->tr->ops->session_id(c->tr)
                                                                : NULL)
