/* Per-request _meta (2026-07-28) and the era rule. Why a struct of borrowed views and not a copy:
 * the params object lives until the request ends (one json_decref), and the handler context
 * reads these fields many times per request; copying would allocate on the hot path for nothing. */
#include "protocol/meta.h"

#include <string.h>

/* Newest first. The legacy list is what the 2025 session code accepts today. */
static const char *const SUPPORTED[] = { MCP__PV_2026, "2025-11-25", "2025-06-18", "2025-03-26" };
#define NSUPPORTED (sizeof SUPPORTED / sizeof SUPPORTED[0])

static const char *const LOG_LEVELS[] = { "debug",    "info",  "notice", "warning",
                                          "error",    "critical", "alert", "emergency" };

#define BAD(...) mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, -32602, __VA_ARGS__)

mcp__log_threshold
mcp__log_level_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < (int)(sizeof LOG_LEVELS / sizeof LOG_LEVELS[0]); i++)
        if (strcmp(name, LOG_LEVELS[i]) == 0)
            return i;
    return -1;
}

bool
mcp__pv_supported(const char *pv)
{
    if (!pv)
        return false;
    for (size_t i = 0; i < NSUPPORTED; i++)
        if (strcmp(pv, SUPPORTED[i]) == 0)
            return true;
    return false;
}

json_t *
mcp__pv_supported_json(void)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < NSUPPORTED; i++)
        if (json_array_append_new(a, json_string(SUPPORTED[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *
mcp__pv_unsupported_data(const char *requested)
{
    json_t *sup = mcp__pv_supported_json();
    if (!sup)
        return NULL;
    /* requested is echoed as a string even when the header held bytes jansson rejects (not
     * UTF-8): then it is replaced by "" rather than failing the error response itself. */
    json_t *req = json_string(requested ? requested : "");
    if (!req)
        req = json_string("");
    return json_pack("{s:o, s:o}", "supported", sup, "requested", req);
}

mcp__era
mcp__era_select(const char *header_pv, const char *method)
{
    (void)method;   /* kept in the signature: the rule is documented per method (initialize) */
    if (!header_pv)
        return MCP__ERA_LEGACY;
    if (strcmp(header_pv, MCP__PV_2026) == 0)
        return MCP__ERA_MODERN;
    if (mcp__pv_supported(header_pv))
        return MCP__ERA_LEGACY;
    return MCP__ERA_UNSUPPORTED;
}

static bool
is_object(const json_t *v)
{
    return v && json_is_object(v);
}

/* clientCapabilities -> bits. Unknown members are ignored (forward compatibility); a known member
 * with a non-object value is an error, since the schema types every capability as an object. */
static mcp_status
parse_caps(const json_t *caps, unsigned *bits, mcp_error *err)
{
    static const char P[] = "params._meta." MCP__META_CAPS;
    const json_t *v;
    *bits = 0;
    if ((v = json_object_get(caps, "sampling")) != NULL) {
        if (!is_object(v))
            return BAD("%s.sampling: must be an object", P);
        *bits |= MCP__CAP_SAMPLING;
        if (json_object_get(v, "tools"))
            *bits |= MCP__CAP_SAMPLING_TOOLS;
    }
    if ((v = json_object_get(caps, "elicitation")) != NULL) {
        if (!is_object(v))
            return BAD("%s.elicitation: must be an object", P);
        bool form = json_object_get(v, "form") != NULL, url = json_object_get(v, "url") != NULL;
        if (form || !url)                   /* {} means form only (spec: implicit form) */
            *bits |= MCP__CAP_ELICIT_FORM;
        if (url)
            *bits |= MCP__CAP_ELICIT_URL;
    }
    if ((v = json_object_get(caps, "roots")) != NULL) {
        if (!is_object(v))
            return BAD("%s.roots: must be an object", P);
        *bits |= MCP__CAP_ROOTS;
    }
    if ((v = json_object_get(caps, "extensions")) != NULL) {
        if (!is_object(v))
            return BAD("%s.extensions: must be an object", P);
        if (is_object(json_object_get(v, "io.modelcontextprotocol/tasks")))
            *bits |= MCP__CAP_EXT_TASKS;
    }
    return MCP_OK;
}

unsigned
mcp__meta_caps_bits(const json_t *caps)
{
    unsigned bits = 0;
    mcp_error e;
    mcp_error_clear(&e);
    if (json_is_object(caps) && parse_caps(caps, &bits, &e) != MCP_OK)
        bits = 0;
    return bits;
}

mcp_status
mcp__meta26_parse(const json_t *params, mcp__meta26 *out, mcp_error *err)
{
    memset(out, 0, sizeof *out);
    out->log_level = -1;
    if (params && !json_is_object(params))
        return BAD("params: must be an object");
    const json_t *meta = params ? json_object_get(params, "_meta") : NULL;
    if (!meta)
        return BAD("params._meta: required (protocol " MCP__PV_2026 " carries "
                   MCP__META_PV " and " MCP__META_CAPS " on every request)");
    if (!json_is_object(meta))
        return BAD("params._meta: must be an object");

    const json_t *pv = json_object_get(meta, MCP__META_PV);
    if (!pv)
        return BAD("params._meta." MCP__META_PV ": required");
    if (!json_is_string(pv) || json_string_length(pv) == 0)
        return BAD("params._meta." MCP__META_PV ": must be a non-empty string");
    out->protocol_version = json_string_value(pv);

    const json_t *caps = json_object_get(meta, MCP__META_CAPS);
    if (!caps)
        return BAD("params._meta." MCP__META_CAPS ": required");
    if (!json_is_object(caps))
        return BAD("params._meta." MCP__META_CAPS ": must be an object");
    mcp_status rc = parse_caps(caps, &out->caps, err);
    if (rc != MCP_OK)
        return rc;
    out->client_caps = caps;

    /* clientInfo is a SHOULD and self-reported, for display and logs only (spec: never for
     * decisions): a malformed one is ignored rather than failing a request that needs none. */
    const json_t *ci = json_object_get(meta, MCP__META_CLIENT_INFO);
    if (json_is_object(ci)) {
        const json_t *n = json_object_get(ci, "name"), *v = json_object_get(ci, "version");
        if (json_is_string(n) && json_is_string(v)) {
            out->client_name = json_string_value(n);
            out->client_version = json_string_value(v);
        }
    }

    const json_t *ll = json_object_get(meta, MCP__META_LOG_LEVEL);
    if (ll) {
        out->log_level = json_is_string(ll) ? mcp__log_level_parse(json_string_value(ll)) : -1;
        if (out->log_level < 0)
            return BAD("params._meta." MCP__META_LOG_LEVEL ": not a LoggingLevel");
    }

    const json_t *pt = json_object_get(meta, "progressToken");
    if (pt) {
        if (!json_is_string(pt) && !json_is_integer(pt))
            return BAD("params._meta.progressToken: must be a string or an integer");
        out->progress_token = pt;
    }
    return MCP_OK;
}

mcp_status
mcp__meta26_header_check(const char *header_pv, const mcp__meta26 *m, mcp_error *err)
{
    if (!header_pv)
        return mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, MCP__RPC_HEADER_MISMATCH,
                                 "Header mismatch: MCP-Protocol-Version header is required");
    if (strcmp(header_pv, m->protocol_version) != 0)
        return mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, MCP__RPC_HEADER_MISMATCH,
                                 "Header mismatch: MCP-Protocol-Version header does not match "
                                 "params._meta." MCP__META_PV);
    return MCP_OK;
}

mcp_status
mcp__meta26_require_caps(const mcp__meta26 *m, unsigned needed, json_t **data, mcp_error *err)
{
    unsigned missing = needed & ~m->caps;
    if (data)
        *data = NULL;
    if (!missing)
        return MCP_OK;
    if (data) {
        json_t *req = json_object();
        json_t *elicit = NULL;
        if (req && (missing & (MCP__CAP_SAMPLING | MCP__CAP_SAMPLING_TOOLS))) {
            json_t *s = json_object();
            if (s && (missing & MCP__CAP_SAMPLING_TOOLS))
                json_object_set_new(s, "tools", json_object());
            json_object_set_new(req, "sampling", s);
        }
        if (req && (missing & (MCP__CAP_ELICIT_FORM | MCP__CAP_ELICIT_URL))) {
            elicit = json_object();
            if (elicit && (missing & MCP__CAP_ELICIT_FORM))
                json_object_set_new(elicit, "form", json_object());
            if (elicit && (missing & MCP__CAP_ELICIT_URL))
                json_object_set_new(elicit, "url", json_object());
            json_object_set_new(req, "elicitation", elicit);
        }
        if (req && (missing & MCP__CAP_ROOTS))
            json_object_set_new(req, "roots", json_object());
        if (req && (missing & MCP__CAP_EXT_TASKS))
            json_object_set_new(req, "extensions",
                                json_pack("{s:{}}", "io.modelcontextprotocol/tasks"));
        *data = req ? json_pack("{s:o}", "requiredCapabilities", req) : NULL;
    }
    return mcp_error_set_rpc(err, MCP_ERR_UNSUPPORTED, MCP__RPC_MISSING_CLIENT_CAP,
                             "Missing required client capability");
}
