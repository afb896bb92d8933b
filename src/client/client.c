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

/* The 2025 revisions initialize may negotiate (2026-07-28 goes through server/discover). */
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
    mcp__free(c->ca_file);
    mcp__free(c->url);
    mcp__free(c->negotiated);
    mcp__free(c->instructions);
    json_decref(c->tool_schemas);
    json_decref(c->supported_versions);
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
    bool pin2026 = opts->protocol_version != NULL &&
                   strcmp(opts->protocol_version, MCP_PROTOCOL_2026) == 0;
    if ((int)opts->protocol < (int)MCP_CLIENT_PROTOCOL_AUTO ||
        (int)opts->protocol > (int)MCP_CLIENT_PROTOCOL_LEGACY)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unknown protocol mode %d",
                             (int)opts->protocol);
    if (pin2026 && opts->protocol == MCP_CLIENT_PROTOCOL_LEGACY)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "protocol version %s is not a legacy (initialize) revision",
                             MCP_PROTOCOL_2026);
    if (opts->protocol_version != NULL && !pin2026) {
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
    c->offer = mcp__strdup(opts->protocol_version && !pin2026 ? opts->protocol_version
                                                              : MCP_PROTOCOL_LATEST);
    c->proto_mode = pin2026 ? MCP_CLIENT_PROTOCOL_MODERN : opts->protocol;
    c->bearer = opts->bearer_token ? mcp__strdup(opts->bearer_token) : NULL;
    c->auth_header = opts->auth_header ? mcp__strdup(opts->auth_header) : NULL;
    c->ca_file = opts->ca_file ? mcp__strdup(opts->ca_file) : NULL;
    c->request_timeout_ms = opts->request_timeout_ms ? opts->request_timeout_ms : 60000;
    c->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
    c->max_message = opts->max_message ? opts->max_message : MCP_CLIENT_DEFAULT_MAX_MESSAGE;
    c->get_stream = opts->get_stream;
    c->verbose = opts->verbose;
    c->oauth = opts->oauth;
    c->cb = opts->cb;
    bool ok = c->name && c->version && c->offer && (!opts->title || c->title) &&
              (!opts->bearer_token || c->bearer) && (!opts->auth_header || c->auth_header) && (!opts->ca_file || c->ca_file);
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
    json_t *caps = mcp__client_capabilities(c);
    json_t *info = mcp__client_info(c);
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
        c->tr->ops->set_protocol_version(c->tr, c->negotiated, false);
    rc = mcp__client_notify(c, "notifications/initialized", NULL, err);
    if (rc != MCP_OK)
        return rc;
    if (c->get_stream && c->tr->ops->open_stream != NULL)
        c->tr->ops->open_stream(c->tr, NULL);
    c->connected = true;
    return MCP_OK;
}

/* Does a JSON array hold the string s? */
static bool
array_has(const json_t *a, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* Take the server/discover result (SEP-2575): supportedVersions, capabilities, serverInfo
 * (in _meta, or the older body field) and instructions. */
static mcp_status
take_discover(mcp_client *c, json_t *res, mcp_error *err)
{
    const json_t *meta = json_object_get(res, "_meta");
    const json_t *si = json_object_get(meta, "io.modelcontextprotocol/serverInfo");
    if (!json_is_object(si))
        si = json_object_get(res, "serverInfo");
    const json_t *sc = json_object_get(res, "capabilities");
    const json_t *ins = json_object_get(res, "instructions");
    c->negotiated = mcp__strdup(MCP_PROTOCOL_2026);
    c->server_info = json_is_object(si) ? json_incref((json_t *)si) : json_object();
    c->server_caps = json_is_object(sc) ? json_incref((json_t *)sc) : json_object();
    c->instructions = json_is_string(ins) ? mcp__strdup(json_string_value(ins)) : NULL;
    if (c->negotiated == NULL || c->server_info == NULL || c->server_caps == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    return MCP_OK;
}

/* May auto mode fall back to initialize after this discover failure? Only when the server
 * answered and did not speak 2026 (an error response, HTTP 4xx); not when it could not be
 * reached, timed out or refused our credentials. */
static bool
legacy_answer(mcp_status rc)
{
    return rc == MCP_ERR_PROTOCOL || rc == MCP_ERR_NOT_FOUND || rc == MCP_ERR_INVALID_ARG ||
           rc == MCP_ERR_UNSUPPORTED || rc == MCP_ERR_STATE;
}

/* server/discover at 2026-07-28. MCP_OK: modern. MCP_ERR_UNSUPPORTED with *fallback set:
 * the server does not offer 2026-07-28 but answered (legacy may work). */
static mcp_status
discover(mcp_client *c, bool *fallback, mcp_error *err)
{
    *fallback = false;
    c->modern = true;
    if (c->tr->ops->set_protocol_version != NULL)
        c->tr->ops->set_protocol_version(c->tr, MCP_PROTOCOL_2026, true);
    json_t *res = NULL;
    mcp_status rc = MCP_OK;
    /* A server may refuse the first choice with -32022 and name what it supports; one more
     * try when that list has our version (SEP-2575 "retry with a supported version"). */
    for (int attempt = 0; attempt < 2; attempt++) {
        json_t *data = NULL;
        json_t *params = json_object();
        if (params == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        rc = mcp__client_rpc_once(c, "server/discover", params, false, &res, &data, err);
        json_decref(params);
        bool again = rc != MCP_OK && err->rpc_code == -32022 &&
                     array_has(json_object_get(data, "supported"), MCP_PROTOCOL_2026);
        if (rc != MCP_OK && err->rpc_code == -32022 && !again)
            rc = mcp_error_set(err, MCP_ERR_UNSUPPORTED,
                               "the server does not support protocol version %s",
                               MCP_PROTOCOL_2026);
        json_decref(data);
        if (!again)
            break;
        if (c->verbose)
            mcp__log(MCP__LOG_INFO, "client", "server/discover: retrying at %s",
                     MCP_PROTOCOL_2026);
    }
    if (rc == MCP_OK) {
        const json_t *sv = json_object_get(res, "supportedVersions");
        if (!array_has(sv, MCP_PROTOCOL_2026)) {
            json_decref(res);
            *fallback = true;
            return mcp_error_set(err, MCP_ERR_UNSUPPORTED,
                                 "the server did not offer protocol version %s via "
                                 "server/discover", MCP_PROTOCOL_2026);
        }
        c->supported_versions = json_incref((json_t *)sv);
        rc = take_discover(c, res, err);
        json_decref(res);
        return rc;
    }
    *fallback = legacy_answer(rc);
    return rc;
}

static mcp_status
negotiate(mcp_client *c, mcp_error *err)
{
    if (c->proto_mode == MCP_CLIENT_PROTOCOL_LEGACY)
        return initialize(c, err);
    bool fallback = false;
    mcp_error e;                              /* discover reads rpc_code: never NULL */
    mcp_error_clear(&e);
    mcp_status rc = discover(c, &fallback, &e);
    if (rc == MCP_OK) {
        c->connected = true;
        return MCP_OK;
    }
    if (c->proto_mode == MCP_CLIENT_PROTOCOL_MODERN || !fallback) {
        if (err != NULL) {
            *err = e;
            err->code = rc;
        }
        return rc;
    }
    if (c->verbose)
        mcp__log(MCP__LOG_INFO, "client", "server/discover failed (%s); using initialize",
                 e.message);
    c->modern = false;
    json_decref(c->supported_versions);
    c->supported_versions = NULL;
    if (c->tr->ops->set_protocol_version != NULL)
        c->tr->ops->set_protocol_version(c->tr, NULL, false);
    return initialize(c, err);
}

static mcp_status
after_transport(mcp_client *c, mcp_status rc, mcp_error *err)
{
    if (rc == MCP_OK)
        rc = negotiate(c, err);
    if (rc != MCP_OK && c->tr != NULL) {
        c->tr->ops->close(c->tr);
        c->tr = NULL;
        c->is_http = false;
        c->dead = false;
        c->modern = false;
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
                            .headers = (const char *const *)c->headers, .verbose = c->verbose,
                            .ca_file = c->ca_file };
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
                c->tr != NULL && !c->modern && c->tr->ops->session_id != NULL
                    ? c->tr->ops->session_id(c->tr)
                    : NULL)
