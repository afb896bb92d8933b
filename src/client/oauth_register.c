/*
 * Which client we are at the authorization server: a pre-registered client id, a client ID
 * metadata document (CIMD) when the server supports them, one registered earlier (cache), or a
 * new RFC 7591 dynamic registration as a native public client. Also which token endpoint
 * authentication method that client uses.
 */
#include "client/internal.h"

#include <string.h>

static const json_t *
supported_methods(const mcp_oauth *o)
{
    return o->as_meta ? json_object_get(o->as_meta, "token_endpoint_auth_methods_supported")
                      : NULL;
}

/* RFC 8414 section 2: an absent list means client_secret_basic. */
static bool
method_supported(const mcp_oauth *o, const char *m)
{
    const json_t *l = supported_methods(o);
    if (!json_is_array(l))
        return strcmp(m, "client_secret_basic") == 0;
    return mcp__json_array_has(l, m);
}

static const char *
choose_method(const mcp_oauth *o, bool have_secret)
{
    if (o->opt_auth_method != NULL)
        return o->opt_auth_method;
    if (o->private_key_pem != NULL &&
        (method_supported(o, "private_key_jwt") || !json_is_array(supported_methods(o))))
        return "private_key_jwt";
    if (have_secret) {
        if (method_supported(o, "client_secret_basic"))
            return "client_secret_basic";
        if (method_supported(o, "client_secret_post"))
            return "client_secret_post";
        if (method_supported(o, "none"))
            return "none";
        return "client_secret_basic";
    }
    return "none";
}

static mcp_status
register_client(mcp_oauth *o, const char *redirect_uri, mcp_error *err)
{
    /* A native app is a public client: prefer "none" (PKCE protects the code) and only ask for
     * a secret when the AS does not take public clients. */
    const char *want = o->opt_auth_method ? o->opt_auth_method
                       : method_supported(o, "none")                ? "none"
                       : method_supported(o, "client_secret_basic") ? "client_secret_basic"
                       : method_supported(o, "client_secret_post")  ? "client_secret_post"
                                                                    : "none";
    json_t *body = json_pack("{s:s, s:[s], s:[s,s], s:[s], s:s, s:s}", "client_name",
                             o->client_name, "redirect_uris", redirect_uri, "grant_types",
                             "authorization_code", "refresh_token", "response_types", "code",
                             "token_endpoint_auth_method", want, "application_type", "native");
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    mcp__http_req rq = { .oauth = o, .method = "POST", .url = o->reg_ep, .body = text,
                         .content_type = "application/json", .accept = "application/json",
                         .max_body = MCP__OAUTH_META_MAX, .timeout_ms = o->http_timeout_ms,
                         .verbose = o->verbose };
    mcp__http_resp rs;
    mcp_status rc = mcp__http_fetch(&rq, &rs, err);
    mcp__free(text);
    if (rc != MCP_OK)
        return rc;
    json_t *j = NULL;
    if (rs.status != 200 && rs.status != 201) {
        char desc[160] = "";
        json_error_t je;
        j = json_loadb(rs.body, rs.body_len, 0, &je);
        const char *code = mcp__json_str(j, "error");
        mcp__sanitize(code ? code : "", desc, sizeof desc);
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                           "dynamic client registration failed: HTTP %ld %s", rs.status, desc);
        goto out;
    }
    json_error_t je;
    j = json_loadb(rs.body, rs.body_len, 0, &je);
    const char *id = mcp__json_str(j, "client_id");
    if (id == NULL || strlen(id) > 1024) {
        rc = mcp_error_set(err, MCP_ERR_PROTOCOL, "registration response has no client_id");
        goto out;
    }
    const char *method = mcp__json_str(j, "token_endpoint_auth_method");
    if (mcp__set_str(&o->client_id, id) != MCP_OK ||
        mcp__set_str(&o->client_secret, mcp__json_str(j, "client_secret")) != MCP_OK ||
        mcp__set_str(&o->auth_method, method ? method : want) != MCP_OK) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (o->verbose)
        mcp__log(MCP__LOG_INFO, "oauth", "registered client %s (%s)", o->client_id,
                 o->auth_method);
    mcp__oauth_cache_store_client(o, redirect_uri);
out:
    if (j != NULL) {
        /* the response holds the client secret */
        json_t *sec = json_object_get(j, "client_secret");
        if (json_is_string(sec))
            mcp_memzero((void *)json_string_value(sec), json_string_length(sec));
    }
    json_decref(j);
    mcp__http_resp_cleanup(&rs);
    return rc;
}

/* Settle client_id / secret / auth method for this AS. */
mcp_status
mcp__oauth_ensure_client(mcp_oauth *o, const char *redirect_uri, mcp_error *err)
{
    if (o->opt_client_id != NULL) {
        if (mcp__set_str(&o->client_id, o->opt_client_id) != MCP_OK ||
            mcp__set_str(&o->client_secret, o->opt_client_secret) != MCP_OK ||
            mcp__set_str(&o->auth_method, choose_method(o, o->opt_client_secret != NULL)) != MCP_OK)
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        return MCP_OK;
    }
    if (o->grant != MCP_OAUTH_GRANT_AUTHORIZATION_CODE)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "this grant needs a pre-registered client id");
    const json_t *cimd = o->as_meta ? json_object_get(o->as_meta,
                                                      "client_id_metadata_document_supported")
                                    : NULL;
    if (o->client_metadata_url != NULL && json_is_true(cimd)) {
        mcp__free_secret(&o->client_secret);
        if (mcp__set_str(&o->client_id, o->client_metadata_url) != MCP_OK ||
            mcp__set_str(&o->auth_method,
                         o->private_key_pem ? "private_key_jwt" : "none") != MCP_OK)
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        return MCP_OK;
    }
    /* Registered earlier at this very authorization server (exact issuer): reuse. A client
     * registered at another AS is never presented here (SEP-2352). */
    if (o->client_id != NULL && o->client_issuer != NULL && o->issuer != NULL &&
        strcmp(o->client_issuer, o->issuer) == 0)
        return MCP_OK;
    mcp__free(o->client_id);
    o->client_id = NULL;
    mcp__free_secret(&o->client_secret);
    if (mcp__set_str(&o->client_issuer, o->issuer) != MCP_OK)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    if (mcp__oauth_cache_load_client(o, redirect_uri))
        return MCP_OK;
    if (o->reg_ep == NULL)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                             "the authorization server offers no client registration; "
                             "a pre-registered client id is needed");
    return register_client(o, redirect_uri, err);
}
