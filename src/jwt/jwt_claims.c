/*
 * Claims profiles: where the identity providers people actually use put a token's subject,
 * name, client id and permissions, and the issuer and tenant checks that go with them.
 *
 *   none      permissions (array), scope and scp (string or array) — the generic reading
 *   entra     + roles (array: app roles), scp (space-separated string: delegated scopes);
 *             subject = oid (stable across applications; sub is pairwise), client = azp or
 *             appid; tid checked against allowed_tenants; issuer may be the
 *             "https://login.microsoftonline.com/{tenantid}/v2.0" template
 *   keycloak  + realm_access.roles, resource_access.<client>.roles (client = claims_client,
 *             else the token's azp); name = preferred_username when name is absent
 *   auth0     permissions (array) and scope: the generic reading; client = azp
 *   okta      scp (array): the generic reading; client = cid
 *
 * Every profile keeps the generic claims, so a token that carries both (Keycloak sends roles and
 * scope) grants the union. A claim of the wrong JSON type is "malformed token: <claim>", never
 * skipped: a profile must not silently grant less, or more, than the token says.
 */
#include "jwt/internal.h"

#include <string.h>

#define TENANT_TEMPLATE "{tenantid}"
#define TENANT_MAX      64

static const char *const profile_names[MCP__JWT_PROFILE_COUNT] = {
    [MCP__JWT_PROFILE_NONE] = "none",
    [MCP__JWT_PROFILE_ENTRA] = "entra",
    [MCP__JWT_PROFILE_KEYCLOAK] = "keycloak",
    [MCP__JWT_PROFILE_AUTH0] = "auth0",
    [MCP__JWT_PROFILE_OKTA] = "okta",
};

mcp_status
mcp__jwt_profile_parse(const char *name, mcp__jwt_profile *out, mcp_error *err)
{
    *out = MCP__JWT_PROFILE_NONE;
    if (name == NULL || name[0] == '\0')
        return MCP_OK;
    for (int i = 0; i < MCP__JWT_PROFILE_COUNT; i++) {
        if (strcmp(name, profile_names[i]) == 0) {
            *out = (mcp__jwt_profile)i;
            return MCP_OK;
        }
    }
    return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                         "unknown claims profile (want none, entra, keycloak, auth0 or okta)");
}

const char *
mcp__jwt_profile_name(mcp__jwt_profile p)
{
    return p >= 0 && p < MCP__JWT_PROFILE_COUNT ? profile_names[p] : "?";
}

static mcp_status
bad(mcp_error *err, const char *what)
{
    return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "malformed token: %s", what);
}

/* A string member, or NULL when absent; false when present but not a string. */
static bool
opt_string(const json_t *obj, const char *name, const char **out)
{
    const json_t *m = json_object_get(obj, name);
    *out = json_string_value(m);
    return m == NULL || json_is_string(m);
}

mcp_status
mcp__jwt_claims_identity(const mcp_jwt_verifier *v, const json_t *claims, const char **sub,
                         const char **name, const char **client_id, mcp_error *err)
{
    const char *s = NULL;
    switch (v->profile) {
    case MCP__JWT_PROFILE_ENTRA:
        if (!opt_string(claims, "oid", &s))
            return bad(err, "oid");
        if (s != NULL && s[0] != '\0')
            *sub = s;
        if (*client_id == NULL) {
            if (!opt_string(claims, "appid", &s))
                return bad(err, "appid");
            *client_id = s;
        }
        break;
    case MCP__JWT_PROFILE_OKTA:
        if (!opt_string(claims, "cid", &s))
            return bad(err, "cid");
        if (s != NULL)
            *client_id = s;
        break;
    default:
        break;
    }
    if (*name == NULL && v->profile != MCP__JWT_PROFILE_NONE) {
        if (!opt_string(claims, "preferred_username", &s))
            return bad(err, "preferred_username");
        *name = s;
    }
    return MCP_OK;
}

/* Every string of the array at m as a permission; m absent is fine, anything else malformed. */
static mcp_status
add_array(mcp_principal *p, const json_t *m, const char *what, mcp_error *err)
{
    if (m == NULL)
        return MCP_OK;
    if (!json_is_array(m))
        return bad(err, what);
    size_t i;
    const json_t *e;
    json_array_foreach(m, i, e) {
        if (!json_is_string(e))
            return bad(err, what);
        if (json_string_length(e) == 0)
            continue;
        mcp_status rc = mcp_principal_add_permission(p, json_string_value(e), err);
        if (rc != MCP_OK)
            return rc;
    }
    return MCP_OK;
}

/* obj.roles when obj is an object with roles (absent obj: nothing). */
static mcp_status
add_roles_of(mcp_principal *p, const json_t *obj, const char *what, mcp_error *err)
{
    if (obj == NULL)
        return MCP_OK;
    if (!json_is_object(obj))
        return bad(err, what);
    return add_array(p, json_object_get(obj, "roles"), what, err);
}

mcp_status
mcp__jwt_claims_permissions(const mcp_jwt_verifier *v, const json_t *claims, mcp_principal *p,
                            mcp_error *err)
{
    switch (v->profile) {
    case MCP__JWT_PROFILE_ENTRA:
        return add_array(p, json_object_get(claims, "roles"), "roles", err);
    case MCP__JWT_PROFILE_KEYCLOAK: {
        mcp_status rc = add_roles_of(p, json_object_get(claims, "realm_access"), "realm_access",
                                     err);
        if (rc != MCP_OK)
            return rc;
        const json_t *ra = json_object_get(claims, "resource_access");
        if (ra == NULL)
            return MCP_OK;
        if (!json_is_object(ra))
            return bad(err, "resource_access");
        const char *client = v->claims_client;
        if (client == NULL && !opt_string(claims, "azp", &client))
            return bad(err, "azp");
        if (client == NULL)
            return MCP_OK; /* no client to take roles of: realm roles only */
        return add_roles_of(p, json_object_get(ra, client), "resource_access", err);
    }
    default:
        return MCP_OK; /* auth0 and okta: the generic claims already hold them */
    }
}

/* Is tid one of the allowed tenants? */
static bool
tenant_allowed(const mcp_jwt_verifier *v, const char *tid)
{
    for (size_t i = 0; i < v->n_tenants; i++)
        if (strcmp(v->tenants[i], tid) == 0)
            return true;
    return false;
}

mcp_status
mcp__jwt_check_issuer(const mcp_jwt_verifier *v, const json_t *claims, const char *iss,
                      mcp_error *err)
{
    const char *tid = NULL;
    const char *t = v->issuer != NULL ? strstr(v->issuer, TENANT_TEMPLATE) : NULL;
    /* tid means something only with tenants or the template; otherwise it is not looked at */
    if ((v->n_tenants > 0 || t != NULL) && !opt_string(claims, "tid", &tid))
        return bad(err, "tid");
    if (v->n_tenants > 0) {
        if (tid == NULL)
            return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "missing tid");
        if (!tenant_allowed(v, tid))
            return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "tenant not allowed");
    }
    if (v->issuer == NULL)
        return MCP_OK;
    if (iss == NULL)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "missing iss");
    if (t == NULL)
        return strcmp(iss, v->issuer) == 0
                   ? MCP_OK
                   : mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "issuer mismatch");
    /* The template: iss must be the issuer with {tenantid} replaced by the token's own tid
     * (already checked against the allow-list, which a template requires). */
    size_t pre = (size_t)(t - v->issuer), tl = strlen(TENANT_TEMPLATE);
    const char *suf = t + tl;
    size_t sl = strlen(suf), il = strlen(iss), dl = tid != NULL ? strlen(tid) : 0;
    if (tid == NULL || dl == 0 || dl > TENANT_MAX || il != pre + dl + sl
        || strncmp(iss, v->issuer, pre) != 0 || strncmp(iss + pre, tid, dl) != 0
        || strcmp(iss + pre + dl, suf) != 0)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "issuer mismatch");
    return MCP_OK;
}

static mcp_status map_setup(mcp_jwt_verifier *v, const char *const *map, mcp_error *err);

mcp_status
mcp__jwt_claims_setup(mcp_jwt_verifier *v, const mcp_jwt_opts *o, mcp_error *err)
{
    mcp_status rc = mcp__jwt_profile_parse(o->claims_profile, &v->profile, err);
    if (rc != MCP_OK)
        return rc;
    if (o->claims_client != NULL && o->claims_client[0] != '\0'
        && (v->claims_client = mcp__strdup(o->claims_client)) == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    size_t n = 0;
    while (o->allowed_tenants != NULL && o->allowed_tenants[n] != NULL)
        n++;
    if (n > 0) {
        if ((v->tenants = mcp__calloc(n, sizeof *v->tenants)) == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(o->allowed_tenants[i]);
            if (l == 0 || l > TENANT_MAX)
                return mcp_error_set(err, MCP_ERR_INVALID_ARG, "allowed tenant empty or too long");
            if ((v->tenants[i] = mcp__strdup(o->allowed_tenants[i])) == NULL)
                return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
            v->n_tenants = i + 1;
        }
    }
    if ((rc = map_setup(v, o->permission_map, err)) != MCP_OK)
        return rc;
    if (o->issuer != NULL && strstr(o->issuer, TENANT_TEMPLATE) != NULL) {
        const char *t = strstr(o->issuer, TENANT_TEMPLATE);
        if (strstr(t + 1, TENANT_TEMPLATE) != NULL)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "issuer has {tenantid} twice");
        if (n == 0) /* any tenant of a multi-tenant provider: never by default */
            return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                 "an issuer with {tenantid} needs allowed tenants");
    }
    return MCP_OK;
}

/* A permission we may grant: printable ASCII without spaces, as the store requires. */
static bool
valid_target(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 128)
        return false;
    for (; *s != '\0'; s++)
        if (*s <= ' ' || *s > '~')
            return false;
    return true;
}

static mcp_status
map_setup(mcp_jwt_verifier *v, const char *const *map, mcp_error *err)
{
    size_t n = 0;
    while (map != NULL && map[n] != NULL)
        n++;
    if (n == 0)
        return MCP_OK;
    if (n % 2 != 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "permission map: a name without a target");
    for (size_t i = 0; i < n; i += 2) {
        if (map[i][0] == '\0' || !valid_target(map[i + 1]))
            return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                 "permission map: an empty name or a target that is not "
                                 "printable ASCII without spaces");
        for (size_t j = 0; j < i; j += 2)
            if (strcmp(map[i], map[j]) == 0)
                return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                     "permission map: a name is mapped twice");
    }
    if ((v->perm_map = mcp__calloc(n, sizeof *v->perm_map)) == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    v->n_map = n / 2; /* cleanup frees every slot; calloc left the uncopied ones NULL */
    for (size_t i = 0; i < n; i++)
        if ((v->perm_map[i] = mcp__strdup(map[i])) == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    return MCP_OK;
}

mcp_status
mcp__jwt_claims_map(const mcp_jwt_verifier *v, const mcp_principal_fields *f, mcp_principal **p,
                    mcp_error *err)
{
    if (v->n_map == 0)
        return MCP_OK;
    mcp_principal *q = NULL;
    mcp_status rc = mcp_principal_new(f, &q, err);
    size_t n = mcp_principal_permission_count(*p);
    for (size_t i = 0; rc == MCP_OK && i < n; i++) {
        const char *perm = mcp_principal_permission(*p, i);
        for (size_t j = 0; j < v->n_map; j++) {
            if (strcmp(perm, v->perm_map[2 * j]) == 0) {
                perm = v->perm_map[2 * j + 1];
                break;
            }
        }
        rc = mcp_principal_add_permission(q, perm, err);
    }
    if (rc != MCP_OK) {
        mcp_principal_unref(q);
        return rc;
    }
    mcp_principal_unref(*p);
    *p = q;
    return MCP_OK;
}

void
mcp__jwt_claims_cleanup(mcp_jwt_verifier *v)
{
    for (size_t i = 0; i < 2 * v->n_map; i++)
        mcp__free(v->perm_map[i]);
    mcp__free(v->perm_map);
    v->perm_map = NULL;
    v->n_map = 0;
    for (size_t i = 0; i < v->n_tenants; i++)
        mcp__free(v->tenants[i]);
    mcp__free(v->tenants);
    mcp__free(v->claims_client);
    v->tenants = NULL;
    v->n_tenants = 0;
    v->claims_client = NULL;
}
