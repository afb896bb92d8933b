/*
 * The permission rule: how a credential's permission claims and the permissions the user
 * store grants its subject combine (include/mcp/policy.h, docs/design/permissions.md).
 *
 *   store       T nonempty: T ∩ S; T empty: S     (the store grants, the token narrows)
 *   union       T ∪ S
 *   token-only  T
 *
 * with T the credential's permissions and S the store's. The engine (rbac_engine.c) and
 * `mcp-admin policy check` both call mcp_permission_rule_apply(), so they cannot disagree.
 */
#include "authz/internal.h"

#include <string.h>

const char *
mcp_permission_rule_name(mcp_permission_rule rule)
{
    switch (rule) {
    case MCP_PERMISSION_RULE_STORE:
        return "store";
    case MCP_PERMISSION_RULE_UNION:
        return "union";
    case MCP_PERMISSION_RULE_TOKEN_ONLY:
        return "token-only";
    }
    return "?";
}

bool
mcp_permission_rule_parse(const char *name, mcp_permission_rule *out)
{
    static const mcp_permission_rule all[] = { MCP_PERMISSION_RULE_STORE,
                                               MCP_PERMISSION_RULE_UNION,
                                               MCP_PERMISSION_RULE_TOKEN_ONLY };
    if (name == NULL || out == NULL)
        return false;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, mcp_permission_rule_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    return false;
}

static bool
in_store(const char *const *s, size_t n, const char *perm)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != NULL && strcmp(s[i], perm) == 0)
            return true;
    return false;
}

bool
mcp__permission_rule_keeps(mcp_permission_rule rule, const mcp_principal *p,
                           const char *const *s, size_t n)
{
    size_t nt = mcp_principal_permission_count(p);
    switch (rule) {
    case MCP_PERMISSION_RULE_TOKEN_ONLY:
        return true;
    case MCP_PERMISSION_RULE_UNION:
        for (size_t i = 0; i < n; i++)
            if (!mcp_principal_has(p, s[i]))
                return false;
        return true;
    case MCP_PERMISSION_RULE_STORE:
        if (nt == 0)
            return n == 0;
        for (size_t i = 0; i < nt; i++)
            if (!in_store(s, n, mcp_principal_permission(p, i)))
                return false;
        return true;
    }
    return false;
}

mcp_status
mcp__permission_rule_build(mcp_permission_rule rule, const mcp_principal *p,
                           const char *const *s, size_t n, const char *name,
                           mcp_principal **out, mcp_error *err)
{
    if (p == NULL || out == NULL || (s == NULL && n > 0))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no principal");
    const char *own = mcp_principal_name(p);
    if (own != NULL && own[0] != '\0')
        name = own;
    if (rule != MCP_PERMISSION_RULE_STORE && rule != MCP_PERMISSION_RULE_UNION &&
        rule != MCP_PERMISSION_RULE_TOKEN_ONLY)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unknown permission rule");
    mcp_principal_fields f = {
        .kind = mcp_principal_kind(p),
        .subject = mcp_principal_subject(p),
        .name = name,
        .issuer = mcp_principal_issuer(p),
        .client_id = mcp_principal_client_id(p),
        .key_id = mcp_principal_key_id(p),
        .jti = mcp_principal_jti(p),
        .claims_json = mcp_principal_claims_json(p),
        .expires_at = mcp_principal_expires_at(p),
    };
    mcp_principal *e = NULL;
    mcp_status rc = mcp_principal_new(&f, &e, err);
    size_t nt = mcp_principal_permission_count(p);
    bool narrow = rule == MCP_PERMISSION_RULE_STORE && nt > 0;
    /* the credential's own: all of them, or (store rule) those the store grants too */
    if (rule != MCP_PERMISSION_RULE_STORE || narrow)
        for (size_t i = 0; rc == MCP_OK && i < nt; i++) {
            const char *perm = mcp_principal_permission(p, i);
            if (!narrow || in_store(s, n, perm))
                rc = mcp_principal_add_permission(e, perm, err);
        }
    /* the store's: under union, and under store when the credential claims nothing */
    if (rule == MCP_PERMISSION_RULE_UNION || (rule == MCP_PERMISSION_RULE_STORE && !narrow))
        for (size_t i = 0; rc == MCP_OK && i < n; i++)
            rc = mcp_principal_add_permission(e, s[i], err);
    if (rc != MCP_OK) {
        mcp_principal_unref(e);
        return rc;
    }
    *out = e;
    return MCP_OK;
}

mcp_status
mcp_permission_rule_apply(mcp_permission_rule rule, const mcp_principal *p,
                          const char *const *store_perms, size_t n_store, mcp_principal **out,
                          mcp_error *err)
{
    return mcp__permission_rule_build(rule, p, store_perms, n_store, NULL, out, err);
}

/* ---- store subjects ---------------------------------------------------------------------- */

const char *
mcp_store_subjects_name(mcp_store_subjects mode)
{
    switch (mode) {
    case MCP_STORE_SUBJECTS_BARE:
        return "bare";
    case MCP_STORE_SUBJECTS_ISSUER:
        return "issuer";
    }
    return "?";
}

bool
mcp_store_subjects_parse(const char *name, mcp_store_subjects *out)
{
    if (name == NULL || out == NULL)
        return false;
    if (strcmp(name, "bare") == 0)
        *out = MCP_STORE_SUBJECTS_BARE;
    else if (strcmp(name, "issuer") == 0)
        *out = MCP_STORE_SUBJECTS_ISSUER;
    else
        return false;
    return true;
}

bool
mcp_store_subject_of(mcp_store_subjects mode, const mcp_principal *p, char *buf, size_t cap)
{
    const char *sub = p != NULL ? mcp_principal_subject(p) : NULL;
    if (buf == NULL || cap == 0 || sub == NULL)
        return false;
    buf[0] = '\0';
    mcp_cred_kind k = mcp_principal_kind(p);
    bool token = k == MCP_CRED_JWT || k == MCP_CRED_INTROSPECTION;
    int n;
    if (mode == MCP_STORE_SUBJECTS_ISSUER && token) {
        const char *iss = mcp_principal_issuer(p);
        if (iss == NULL || iss[0] == '\0' || strchr(iss, '#') != NULL)
            return false;                 /* cannot be qualified: no store user (fail closed) */
        n = snprintf(buf, cap, "%s#%s", iss, sub);
    } else if (mode == MCP_STORE_SUBJECTS_BARE || mode == MCP_STORE_SUBJECTS_ISSUER) {
        n = snprintf(buf, cap, "%s", sub);
    } else {
        return false;
    }
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return false;
    }
    return true;
}
