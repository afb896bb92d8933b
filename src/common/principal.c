/* The principal: immutable after setup, reference counted with C11 atomics. */
#include <mcp/auth.h>

#include "common/common.h"

#include <stdatomic.h>
#include <string.h>

struct mcp_principal {
    atomic_int    refs;
    mcp_cred_kind kind;
    char         *subject, *name, *issuer, *client_id, *key_id, *jti, *claims, *owner;
    int64_t       expires_at;
    char        **perms;
    size_t        nperms, capperms;
};

const char *
mcp_cred_kind_name(mcp_cred_kind k)
{
    switch (k) {
    case MCP_CRED_API_KEY: return "api_key";
    case MCP_CRED_JWT: return "jwt";
    case MCP_CRED_INTROSPECTION: return "introspection";
    case MCP_CRED_LOCAL: return "local";
    case MCP_CRED_NONE: break;
    }
    return "none";
}

static void
principal_free(mcp_principal *p)
{
    mcp__free(p->subject);
    mcp__free(p->name);
    mcp__free(p->issuer);
    mcp__free(p->client_id);
    mcp__free(p->key_id);
    mcp__free(p->jti);
    mcp__free(p->claims);
    mcp__free(p->owner);
    for (size_t i = 0; i < p->nperms; i++)
        mcp__free(p->perms[i]);
    mcp__free(p->perms);
    mcp__free(p);
}

static bool
dup_field(char **dst, const char *src)
{
    if (src == NULL)
        return true;
    *dst = mcp__strdup(src);
    return *dst != NULL;
}

mcp_status
mcp_principal_new(const mcp_principal_fields *f, mcp_principal **out, mcp_error *err)
{
    *out = NULL;
    if (f == NULL || (f->kind != MCP_CRED_NONE && (f->subject == NULL || f->subject[0] == '\0')))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "principal needs a subject");
    mcp_principal *p = mcp__calloc(1, sizeof *p);
    if (p == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    atomic_init(&p->refs, 1);
    p->kind = f->kind;
    p->expires_at = f->expires_at;
    if (!dup_field(&p->subject, f->subject) || !dup_field(&p->name, f->name) ||
        !dup_field(&p->issuer, f->issuer) || !dup_field(&p->client_id, f->client_id) ||
        !dup_field(&p->key_id, f->key_id) || !dup_field(&p->jti, f->jti) ||
        !dup_field(&p->claims, f->claims_json))
        goto nomem;
    /* Each field is length-prefixed: issuer, subject and client id may contain '|', and a
     * plain join would let ("a|b", "c") and ("a", "b|c") name the same owner. */
    const char *iss = f->issuer ? f->issuer : "", *sub = f->subject ? f->subject : "";
    const char *cid = f->client_id ? f->client_id : "";
    p->owner = mcp__aprintf("%s|%zu:%s|%zu:%s|%zu:%s", mcp_cred_kind_name(f->kind), strlen(iss),
                            iss, strlen(sub), sub, strlen(cid), cid);
    if (p->owner == NULL)
        goto nomem;
    *out = p;
    return MCP_OK;
nomem:
    principal_free(p);
    return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
}

mcp_status
mcp_principal_add_permission(mcp_principal *p, const char *perm, mcp_error *err)
{
    if (p == NULL || perm == NULL || perm[0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "empty permission");
    if (mcp_principal_has(p, perm))
        return MCP_OK;
    if (p->nperms == p->capperms) {
        size_t cap = p->capperms ? p->capperms * 2 : 8;
        char **n = mcp__realloc(p->perms, cap * sizeof *n);
        if (n == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        p->perms = n;
        p->capperms = cap;
    }
    if ((p->perms[p->nperms] = mcp__strdup(perm)) == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    p->nperms++;
    return MCP_OK;
}

mcp_status
mcp_principal_add_scope_string(mcp_principal *p, const char *scope, mcp_error *err)
{
    if (scope == NULL)
        return MCP_OK;
    const char *s = scope;
    while (*s) {
        while (*s == ' ')
            s++;
        const char *e = s;
        while (*e && *e != ' ')
            e++;
        if (e > s) {
            char *one = mcp__strndup(s, (size_t)(e - s));
            if (one == NULL)
                return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
            mcp_status rc = mcp_principal_add_permission(p, one, err);
            mcp__free(one);
            if (rc != MCP_OK)
                return rc;
        }
        s = e;
    }
    return MCP_OK;
}

mcp_principal *
mcp_principal_ref(const mcp_principal *cp)
{
    mcp_principal *p = (mcp_principal *)cp;
    if (p != NULL)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void
mcp_principal_unref(const mcp_principal *cp)
{
    mcp_principal *p = (mcp_principal *)cp;
    if (p != NULL && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        principal_free(p);
}

mcp_cred_kind mcp_principal_kind(const mcp_principal *p) { return p ? p->kind : MCP_CRED_NONE; }
const char *mcp_principal_subject(const mcp_principal *p) { return p ? p->subject : NULL; }
const char *mcp_principal_name(const mcp_principal *p) { return p ? p->name : NULL; }
const char *mcp_principal_issuer(const mcp_principal *p) { return p ? p->issuer : NULL; }
const char *mcp_principal_client_id(const mcp_principal *p) { return p ? p->client_id : NULL; }
const char *mcp_principal_key_id(const mcp_principal *p) { return p ? p->key_id : NULL; }
const char *mcp_principal_jti(const mcp_principal *p) { return p ? p->jti : NULL; }
const char *mcp_principal_claims_json(const mcp_principal *p) { return p ? p->claims : NULL; }
int64_t mcp_principal_expires_at(const mcp_principal *p) { return p ? p->expires_at : 0; }
size_t mcp_principal_permission_count(const mcp_principal *p) { return p ? p->nperms : 0; }
const char *mcp_principal_owner_key(const mcp_principal *p) { return p ? p->owner : ""; }

const char *
mcp_principal_permission(const mcp_principal *p, size_t i)
{
    return (p != NULL && i < p->nperms) ? p->perms[i] : NULL;
}

bool
mcp_principal_has(const mcp_principal *p, const char *perm)
{
    if (p == NULL || perm == NULL)
        return false;
    for (size_t i = 0; i < p->nperms; i++)
        if (strcmp(p->perms[i], perm) == 0)
            return true;
    return false;
}

bool
mcp_principal_has_any(const mcp_principal *p, const char *const *perms)
{
    for (; perms != NULL && *perms != NULL; perms++)
        if (mcp_principal_has(p, *perms))
            return true;
    return false;
}

bool
mcp_principal_has_all(const mcp_principal *p, const char *const *perms)
{
    for (; perms != NULL && *perms != NULL; perms++)
        if (!mcp_principal_has(p, *perms))
            return false;
    return true;
}
