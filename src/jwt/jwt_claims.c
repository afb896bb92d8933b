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
 * Claim paths (mcp_jwt_opts.subject_claim, name_claim, client_id_claim, permission_claims)
 * override or add to the profile: a claim name or a dotted path, "\." a dot inside a name, "\\"
 * a backslash, a decimal segment an index into an array.
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

/* ---- claim paths ------------------------------------------------------------------------ */

mcp_status
mcp__claim_path_parse(const char *text, const char *what, mcp__claim_path *cp, mcp_error *err)
{
    memset(cp, 0, sizeof *cp);
    size_t len = text != NULL ? strlen(text) : 0;
    if (len == 0 || len > MCP__CLAIM_PATH_MAX)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s: a claim path of 1..%d bytes", what,
                             MCP__CLAIM_PATH_MAX);
    if ((cp->text = mcp__strdup(text)) == NULL || (cp->buf = mcp__alloc(len + 1)) == NULL) {
        mcp__claim_path_cleanup(cp);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    const char *why = NULL;
    size_t o = 0, start = 0;
    for (size_t i = 0; i <= len && why == NULL; i++) {
        char c = text[i];
        if (c == '\\') {
            if (text[i + 1] != '.' && text[i + 1] != '\\') {
                why = "a backslash escapes only a dot or a backslash";
                break;
            }
            cp->buf[o++] = text[++i];
        } else if (c == '.' || c == '\0') {
            if (o == start)
                why = "an empty segment";
            else if (cp->n == MCP__CLAIM_PATH_SEGS)
                why = "more than 16 segments";
            else {
                cp->buf[o++] = '\0';
                cp->seg[cp->n++] = cp->buf + start;
                start = o;
            }
        } else if ((unsigned char)c < 0x20 || c == 0x7f) {
            why = "a control character";
        } else {
            cp->buf[o++] = c;
        }
    }
    if (why != NULL) {
        mcp__claim_path_cleanup(cp);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s: bad claim path (%s)", what, why);
    }
    return MCP_OK;
}

void
mcp__claim_path_cleanup(mcp__claim_path *cp)
{
    mcp__free(cp->text);
    mcp__free(cp->buf);
    memset(cp, 0, sizeof *cp);
}

/* A canonical decimal array index ("0", "12"; not "01", "-1", "+1"), below 2^20. */
static bool
index_of(const char *s, size_t *out)
{
    size_t v = 0, n = 0;
    if (s[0] == '0' && s[1] != '\0')
        return false;
    for (; s[n] != '\0'; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 7)
            return false;
        v = v * 10 + (size_t)(s[n] - '0');
    }
    if (n == 0 || v >= (1u << 20))
        return false;
    *out = v;
    return true;
}

int
mcp__claim_path_get(const mcp__claim_path *cp, const json_t *claims, const json_t **out)
{
    const json_t *cur = claims;
    *out = NULL;
    for (size_t i = 0; i < cp->n; i++) {
        const json_t *next;
        size_t idx = 0;
        if (json_is_object(cur))
            next = json_object_get(cur, cp->seg[i]);
        else if (json_is_array(cur) && index_of(cp->seg[i], &idx))
            next = json_array_get(cur, idx);
        else
            return -1;
        if (next == NULL)
            return 1;
        cur = next;
    }
    *out = cur;
    return 0;
}

/* A string at cp (NULL when absent or cp not configured); false when of another type. */
static bool
path_string(const mcp__claim_path *cp, const json_t *claims, const char **out)
{
    const json_t *m = NULL;
    *out = NULL;
    if (cp->n == 0)
        return true;
    int r = mcp__claim_path_get(cp, claims, &m);
    if (r < 0 || (r == 0 && !json_is_string(m)))
        return false;
    *out = json_string_value(m);
    return true;
}

static mcp_status
bad_path(mcp_error *err, const mcp__claim_path *cp)
{
    return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "malformed token: %.200s", cp->text);
}

/* The configured claim paths over the profile's identity. */
static mcp_status
paths_identity(const mcp_jwt_verifier *v, const json_t *claims, const char **sub,
               const char **name, const char **client_id, mcp_error *err)
{
    const char *s = NULL;
    if (v->sub_path.n > 0) {
        if (!path_string(&v->sub_path, claims, &s))
            return bad_path(err, &v->sub_path);
        if (s == NULL || s[0] == '\0')
            return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "missing subject claim %.200s",
                                 v->sub_path.text);
        *sub = s;
    }
    if (!path_string(&v->name_path, claims, &s))
        return bad_path(err, &v->name_path);
    if (s != NULL)
        *name = s;
    if (!path_string(&v->client_path, claims, &s))
        return bad_path(err, &v->client_path);
    if (s != NULL && s[0] != '\0')
        *client_id = s;
    return MCP_OK;
}

/* Each permission path's value: the words of a string or the strings of an array. */
static mcp_status
paths_permissions(const mcp_jwt_verifier *v, const json_t *claims, mcp_principal *p,
                  mcp_error *err)
{
    for (size_t i = 0; i < v->n_perm_paths; i++) {
        const mcp__claim_path *cp = &v->perm_paths[i];
        const json_t *m = NULL;
        int r = mcp__claim_path_get(cp, claims, &m);
        if (r < 0)
            return bad_path(err, cp);
        if (r > 0)
            continue;
        mcp_status rc;
        if (json_is_string(m)) {
            rc = mcp_principal_add_scope_string(p, json_string_value(m), err);
        } else if (json_is_array(m)) {
            size_t j;
            const json_t *e;
            rc = MCP_OK;
            json_array_foreach(m, j, e) {
                if (!json_is_string(e))
                    return bad_path(err, cp);
                if (json_string_length(e) > 0
                    && (rc = mcp_principal_add_permission(p, json_string_value(e), err))
                           != MCP_OK)
                    break;
            }
        } else {
            return bad_path(err, cp);
        }
        if (rc != MCP_OK)
            return rc;
    }
    return MCP_OK;
}

static mcp_status
paths_setup(mcp_jwt_verifier *v, const mcp_jwt_opts *o, mcp_error *err)
{
    mcp_status rc = MCP_OK;
    if (o->subject_claim != NULL)
        rc = mcp__claim_path_parse(o->subject_claim, "subject claim", &v->sub_path, err);
    if (rc == MCP_OK && o->name_claim != NULL)
        rc = mcp__claim_path_parse(o->name_claim, "name claim", &v->name_path, err);
    if (rc == MCP_OK && o->client_id_claim != NULL)
        rc = mcp__claim_path_parse(o->client_id_claim, "client id claim", &v->client_path, err);
    if (rc != MCP_OK)
        return rc;
    size_t n = 0;
    while (o->permission_claims != NULL && o->permission_claims[n] != NULL)
        n++;
    if (n == 0)
        return MCP_OK;
    if (n > MCP__CLAIM_PATHS_MAX)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "more than %d permission claims",
                             MCP__CLAIM_PATHS_MAX);
    if ((v->perm_paths = mcp__calloc(n, sizeof *v->perm_paths)) == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    for (size_t i = 0; i < n; i++) {
        rc = mcp__claim_path_parse(o->permission_claims[i], "permission claim",
                                   &v->perm_paths[i], err);
        if (rc != MCP_OK)
            return rc;
        v->n_perm_paths = i + 1;
    }
    return MCP_OK;
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
    return paths_identity(v, claims, sub, name, client_id, err);
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

static mcp_status profile_permissions(const mcp_jwt_verifier *v, const json_t *claims,
                                      mcp_principal *p, mcp_error *err);

mcp_status
mcp__jwt_claims_permissions(const mcp_jwt_verifier *v, const json_t *claims, mcp_principal *p,
                            mcp_error *err)
{
    mcp_status rc = profile_permissions(v, claims, p, err);
    return rc == MCP_OK ? paths_permissions(v, claims, p, err) : rc;
}

static mcp_status
profile_permissions(const mcp_jwt_verifier *v, const json_t *claims, mcp_principal *p,
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
    if ((rc = paths_setup(v, o, err)) != MCP_OK)
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
    mcp__claim_path_cleanup(&v->sub_path);
    mcp__claim_path_cleanup(&v->name_path);
    mcp__claim_path_cleanup(&v->client_path);
    for (size_t i = 0; i < v->n_perm_paths; i++)
        mcp__claim_path_cleanup(&v->perm_paths[i]);
    mcp__free(v->perm_paths);
    v->perm_paths = NULL;
    v->n_perm_paths = 0;
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
