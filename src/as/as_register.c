/*
 * /register: RFC 7591 dynamic client registration, off unless mcp_as_opts.registration is set
 * (`--as-registration`). Anyone who can reach the endpoint can register a client, so it is
 * throttled per client address like failed sign-ins, and a registered client gets nothing by
 * itself: every token still needs a user's password (or, for client_credentials, an owner,
 * which only mcp-admin sets).
 *
 * application_type is honoured: "web" (the default) clients may use https redirect URIs and
 * http loopback ones; "native" clients may also use private-use URI schemes (RFC 8252
 * section 7.1, e.g. com.example.app:/cb). Loopback redirects match on any port either way.
 */
#include "as/internal.h"

#include <string.h>

static bool
redirect_allowed(const char *u, bool native)
{
    if (!mcp__as_redirect_form_ok(u))
        return false;
    if (strncmp(u, "https://", 8) == 0)
        return true;
    if (strncmp(u, "http://127.0.0.1", 16) == 0 || strncmp(u, "http://[::1]", 12) == 0 ||
        strncmp(u, "http://localhost", 16) == 0) {
        char c = u[strncmp(u, "http://[::1]", 12) == 0 ? 12 : 16];
        return c == ':' || c == '/' || c == '\0';
    }
    if (strncmp(u, "http:", 5) == 0 || strncmp(u, "javascript:", 11) == 0 ||
        strncmp(u, "data:", 5) == 0 || strncmp(u, "file:", 5) == 0)
        return false;
    /* a private-use scheme: reverse-DNS style, native apps only */
    return native && strchr(u, '.') != NULL && strchr(u, '.') < strchr(u, ':');
}

static bool
only(const json_t *arr, const char *const *allowed)
{
    if (arr == NULL)
        return true;
    if (!json_is_array(arr))
        return false;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        bool ok = false;
        for (size_t k = 0; json_is_string(v) && allowed[k] != NULL; k++)
            ok = ok || strcmp(json_string_value(v), allowed[k]) == 0;
        if (!ok)
            return false;
    }
    return true;
}

void
mcp__as_register(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs)
{
    if (strcmp(rq->method, "POST") != 0) {
        mcp__as_oauth_error(rs, 405, "invalid_request", "registration takes POST");
        mcp__as_header(rs, "Allow", "POST");
        return;
    }
    const char *ct = rq->header(rq, "Content-Type");
    if (ct == NULL || strncmp(ct, "application/json", 16) != 0) {
        mcp__as_oauth_error(rs, 400, "invalid_client_metadata", "the body must be JSON");
        return;
    }
    int64_t now = mcp__unix_now();
    char akey[64];
    snprintf(akey, sizeof akey, "r:%s", rq->peer);
    unsigned wait = mcp__as_throttle_wait(as, akey, as->opts.login_fail_addr_limit, now);
    if (wait > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", wait);
        mcp__as_oauth_error(rs, 429, "invalid_request", "too many registrations");
        mcp__as_header(rs, "Retry-After", ra);
        return;
    }
    json_error_t je;
    json_t *m = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
    const char *why = NULL, *code = "invalid_client_metadata";
    const json_t *uris = json_object_get(m, "redirect_uris");
    const json_t *at = json_object_get(m, "application_type");
    const json_t *am = json_object_get(m, "token_endpoint_auth_method");
    const json_t *nm = json_object_get(m, "client_name");
    static const char *const grants[] = { "authorization_code", "refresh_token", NULL };
    static const char *const rtypes[] = { "code", NULL };
    const char *method = json_is_string(am) ? json_string_value(am) : "client_secret_basic";
    bool native = json_is_string(at) && strcmp(json_string_value(at), "native") == 0;
    if (!json_is_object(m))
        why = "the body is not a JSON object";
    else if (at != NULL && !(json_is_string(at) && (native ||
                                                   strcmp(json_string_value(at), "web") == 0)))
        why = "application_type must be web or native";
    else if (!json_is_array(uris) || json_array_size(uris) == 0 || json_array_size(uris) > 16)
        code = "invalid_redirect_uri", why = "redirect_uris: 1 to 16 URIs are required";
    else if (am != NULL && !json_is_string(am))
        why = "token_endpoint_auth_method must be a string";
    else if (strcmp(method, "none") != 0 && strcmp(method, "client_secret_basic") != 0 &&
             strcmp(method, "client_secret_post") != 0)
        why = "token_endpoint_auth_method: none, client_secret_basic or client_secret_post";
    else if (!only(json_object_get(m, "grant_types"), grants))
        why = "grant_types: authorization_code and refresh_token only";
    else if (!only(json_object_get(m, "response_types"), rtypes))
        why = "response_types: code only";
    else if (nm != NULL && (!json_is_string(nm) || strlen(json_string_value(nm)) > 255))
        why = "client_name must be a string of at most 255 bytes";
    mcp_buf list;
    mcp__buf_init(&list, 64u << 10);
    size_t i;
    const json_t *u;
    if (why == NULL) {
        json_array_foreach(uris, i, u) {
            if (!json_is_string(u) || !redirect_allowed(json_string_value(u), native)) {
                code = "invalid_redirect_uri";
                why = native ? "a redirect URI is not https, loopback or a private-use scheme"
                             : "a redirect URI is not https or loopback (for other schemes "
                               "register as application_type native)";
                break;
            }
            if (mcp__buf_printf(&list, "%s%s", list.len ? " " : "", json_string_value(u)) !=
                MCP_OK)
                why = "too many redirect URIs";
        }
    }
    if (why == NULL && mcp__buf_append(&list, "", 1) != MCP_OK)
        why = "too many redirect URIs";
    if (why != NULL) {
        mcp__buf_cleanup(&list);
        json_decref(m);
        mcp__as_oauth_error(rs, 400, code, why);
        return;
    }
    bool confidential = strcmp(method, "none") != 0;
    char *rnd = mcp__as_random_token(), *id = rnd != NULL ? mcp__aprintf("dyn.%.22s", rnd) : NULL;
    char *secret = confidential ? mcp__as_random_token() : NULL;
    char hash[65] = "";
    mcp_error e;
    mcp_status rc = id == NULL || (confidential && (secret == NULL ||
                                                   !mcp__as_sha256_hex(secret, strlen(secret),
                                                                       hash)))
                        ? MCP_ERR_NOMEM : MCP_OK;
    const char *name = json_is_string(nm) ? json_string_value(nm) : "";
    bool name_ok = true;
    for (const char *p = name; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            name_ok = false;
    if (rc == MCP_OK) {
        mcp__store_as_client c = {
            .id = id, .secret_hash = hash, .name = (char *)(name_ok ? name : ""),
            .redirect_uris = list.ptr, .scope = (char *)"", .owner = (char *)"",
        };
        rc = mcp__store_as_client_add(as->opts.store, &c, &e);
    }
    if (rc != MCP_OK) {
        mcp__as_oauth_error(rs, 503, "temporarily_unavailable", "cannot register the client");
    } else {
        mcp__as_throttle_fail(as, akey, now);   /* counts toward the per-address limit */
        json_t *out = json_pack("{s:s, s:I, s:O, s:s, s:[s,s], s:[s], s:s, s:s}", "client_id",
                                id, "client_id_issued_at", (json_int_t)now, "redirect_uris",
                                uris, "token_endpoint_auth_method", method, "grant_types",
                                "authorization_code", "refresh_token", "response_types", "code",
                                "application_type", native ? "native" : "web", "client_name",
                                name_ok ? name : "");
        if (out != NULL && secret != NULL) {
            json_object_set_new(out, "client_secret", json_string(secret));
            json_object_set_new(out, "client_secret_expires_at", json_integer(0));
        }
        mcp__as_json(rs, 201, out);
        mcp__log(MCP__LOG_INFO, "as", "registered client %s from %s", id, rq->peer);
    }
    if (secret != NULL)
        mcp_memzero(secret, strlen(secret));
    mcp__free(secret);
    mcp__free(rnd);
    mcp__free(id);
    mcp__buf_cleanup(&list);
    json_decref(m);
}
