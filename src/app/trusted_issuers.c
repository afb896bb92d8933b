/*
 * --trusted-issuers FILE: several issuers for one server. The file is a JSON array of objects:
 *
 *   { "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",   required
 *     "jwks_url": "https://...", "jwks_files": ["f.json"], "public_keys": ["k.pem"],
 *     "secret_file": "hs.key", "alg": "RS256",                 at least one key source
 *     "audience": "api://...",            default: the server's audience
 *     "claims_profile": "entra", "claims_client": "...", "allowed_tenants": ["..."],
 *     "permission_map": { "Products.Admin": "Admin.Write" },
 *     "subject_claim": "oid", "name_claim": "...", "client_id_claim": "...",
 *     "permission_claims": ["realm_access.roles", "resource_access.my-client.roles"] }
 *
 * The *_claim members are claim paths (mcp_jwt_opts.subject_claim: a name or a dotted path,
 * "\." a dot inside a name); a malformed path fails the whole file at start-up.
 *
 * Each becomes its own verifier (its keys only), trusted through mcp_jwt_verifier_add_issuer().
 */
#include "app/internal.h"

#include "common/common.h"

#include <stdio.h>
#include <string.h>

static const char *const KNOWN[] = {
    "issuer", "jwks_url", "jwks_files", "public_keys", "secret_file", "alg", "audience",
    "claims_profile", "claims_client", "allowed_tenants", "permission_map", "subject_claim",
    "name_claim", "client_id_claim", "permission_claims", NULL
};

static mcp_status
entry_err(mcp_error *err, size_t i, const char *what)
{
    return mcp_error_set(err, MCP_ERR_INVALID_ARG, "trusted issuer %zu: %s", i + 1, what);
}

/* A string member (NULL when absent); false when present and not a non-empty string. */
static bool
get_str(const json_t *o, const char *name, const char **out)
{
    const json_t *m = json_object_get(o, name);
    *out = json_string_value(m);
    return m == NULL || (json_is_string(m) && json_string_length(m) > 0);
}

/* A member that is an array of non-empty strings (or absent). */
static bool
str_array(const json_t *o, const char *name)
{
    const json_t *a = json_object_get(o, name), *e;
    size_t i;
    if (a == NULL)
        return true;
    if (!json_is_array(a))
        return false;
    json_array_foreach(a, i, e) {
        if (!json_is_string(e) || json_string_length(e) == 0)
            return false;
    }
    return true;
}

static bool
known(const char *k)
{
    for (const char *const *p = KNOWN; *p != NULL; p++)
        if (strcmp(*p, k) == 0)
            return true;
    return false;
}

/* Append iss (a template once per tenant) to servers. */
static bool
list_issuer(json_t *servers, const char *iss, const json_t *tenants)
{
    const char *t = strstr(iss, "{tenantid}");
    if (t == NULL)
        return json_array_append_new(servers, json_string(iss)) == 0;
    size_t i;
    const json_t *e;
    json_array_foreach(tenants, i, e) {
        char buf[1024];
        int n = snprintf(buf, sizeof buf, "%.*s%s%s", (int)(t - iss), iss, json_string_value(e),
                         t + strlen("{tenantid}"));
        if (n < 0 || (size_t)n >= sizeof buf || json_array_append_new(servers, json_string(buf)))
            return false;
    }
    return true;
}

static mcp_status
add_one(const json_t *o, size_t i, const mcp_jwt_opts *base, mcp_jwt_verifier *v,
        json_t *servers, mcp_error *err)
{
    if (!json_is_object(o))
        return entry_err(err, i, "not an object");
    const char *k;
    const json_t *val;
    json_object_foreach((json_t *)o, k, val) {
        if (!known(k)) {
            char what[160];
            snprintf(what, sizeof what, "unknown member \"%.64s\"", k);
            return entry_err(err, i, what);
        }
    }
    const char *iss, *url, *secret, *alg, *aud, *profile, *client, *subc, *namec, *clientc;
    if (!get_str(o, "issuer", &iss) || iss == NULL)
        return entry_err(err, i, "\"issuer\" (a string) is required");
    if (!get_str(o, "jwks_url", &url) || !get_str(o, "secret_file", &secret)
        || !get_str(o, "alg", &alg) || !get_str(o, "audience", &aud)
        || !get_str(o, "claims_profile", &profile) || !get_str(o, "claims_client", &client)
        || !get_str(o, "subject_claim", &subc) || !get_str(o, "name_claim", &namec)
        || !get_str(o, "client_id_claim", &clientc))
        return entry_err(err, i, "a member that must be a non-empty string is not");
    if (!str_array(o, "jwks_files") || !str_array(o, "public_keys")
        || !str_array(o, "allowed_tenants") || !str_array(o, "permission_claims"))
        return entry_err(err, i, "jwks_files, public_keys, allowed_tenants, permission_claims: "
                                 "arrays of strings");
    const json_t *files = json_object_get(o, "jwks_files");
    const json_t *pems = json_object_get(o, "public_keys");
    const json_t *tenants = json_object_get(o, "allowed_tenants");
    if (url == NULL && secret == NULL && json_array_size(files) == 0 && json_array_size(pems) == 0)
        return entry_err(err, i, "needs a key: jwks_url, jwks_files, public_keys or secret_file");

    const char *tl[MCP_APP_MULTI_MAX + 1];
    size_t nt = json_array_size(tenants);
    if (nt > MCP_APP_MULTI_MAX)
        return entry_err(err, i, "too many allowed_tenants");
    for (size_t t = 0; t < nt; t++)
        tl[t] = json_string_value(json_array_get(tenants, t));
    tl[nt] = NULL;

    const json_t *pcl = json_object_get(o, "permission_claims");
    const char *pl[MCP_APP_MULTI_MAX + 1];
    size_t np = json_array_size(pcl);
    if (np > MCP_APP_MULTI_MAX)
        return entry_err(err, i, "too many permission_claims");
    for (size_t t = 0; t < np; t++)
        pl[t] = json_string_value(json_array_get(pcl, t));
    pl[np] = NULL;

    const json_t *pm = json_object_get(o, "permission_map");
    const char *ml[2 * MCP_APP_MULTI_MAX + 1];
    size_t nm = 0;
    if (pm != NULL && !json_is_object(pm))
        return entry_err(err, i, "permission_map: an object of name -> permission");
    if (json_object_size(pm) > MCP_APP_MULTI_MAX)
        return entry_err(err, i, "too many permission_map entries");
    const char *mk;
    const json_t *mv;
    json_object_foreach((json_t *)pm, mk, mv) {
        if (!json_is_string(mv))
            return entry_err(err, i, "permission_map: targets are strings");
        ml[nm++] = mk;
        ml[nm++] = json_string_value(mv);
    }
    ml[nm] = NULL;

    mcp_jwt_opts jo = *base;
    jo.permission_map = nm > 0 ? ml : NULL;
    jo.issuer = iss;
    jo.allow_no_issuer = false;
    if (aud != NULL) {
        jo.audience = aud;
        jo.allow_no_audience = false;
    }
    jo.claims_profile = profile;
    jo.claims_client = client;
    jo.allowed_tenants = nt > 0 ? tl : NULL;
    jo.subject_claim = subc;
    jo.name_claim = namec;
    jo.client_id_claim = clientc;
    jo.permission_claims = np > 0 ? pl : NULL;
    mcp_jwt_verifier *w = NULL;
    mcp_status rc = mcp_jwt_verifier_new(&jo, &w, err);
    bool hs = alg != NULL && alg[0] == 'H';
    if (rc == MCP_OK && secret != NULL)
        rc = mcp_jwt_verifier_add_hmac_file(w, NULL, hs ? alg : "HS256", secret, err);
    for (size_t j = 0; rc == MCP_OK && j < json_array_size(pems); j++)
        rc = mcp_jwt_verifier_add_pem_file(w, NULL, hs ? NULL : alg,
                                           json_string_value(json_array_get(pems, j)), err);
    for (size_t j = 0; rc == MCP_OK && j < json_array_size(files); j++)
        rc = mcp_jwt_verifier_add_jwks_file(w, json_string_value(json_array_get(files, j)), err);
    if (rc == MCP_OK && url != NULL)
        rc = mcp_jwt_verifier_start_jwks_url(w, url, err);  /* unreachable: retried, /ready */
    if (rc != MCP_OK) {
        mcp_jwt_verifier_free(w);
        char what[MCP_ERROR_MSG_MAX];
        snprintf(what, sizeof what, "%s", err != NULL ? err->message : "invalid");
        return entry_err(err, i, what);
    }
    rc = mcp_jwt_verifier_add_issuer(v, w, err); /* takes w, also on failure */
    if (rc != MCP_OK) {
        char what[MCP_ERROR_MSG_MAX];
        snprintf(what, sizeof what, "%s", err != NULL ? err->message : "invalid");
        return entry_err(err, i, what);
    }
    if (servers != NULL && !list_issuer(servers, iss, tenants))
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    return MCP_OK;
}

mcp_status
mcp__app_trusted_issuers(const char *path, const mcp_jwt_opts *base, mcp_jwt_verifier *v,
                         json_t *servers, mcp_error *err)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "not JSON (line %d: %s)", je.line,
                             je.text);
    mcp_status rc = MCP_OK;
    if (!json_is_array(doc) || json_array_size(doc) == 0)
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "want a non-empty JSON array of issuers");
    for (size_t i = 0; rc == MCP_OK && i < json_array_size(doc); i++)
        rc = add_one(json_array_get(doc, i), i, base, v, servers, err);
    json_decref(doc);
    return rc;
}
