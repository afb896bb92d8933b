/*
 * The RBAC engine: applies the current policy to a server.
 *
 * Per request, in the AUTHZ phase (mcp_rbac_authz):
 *   1. user-store checks: revoked jti (401), subject unknown / disabled (403), store down (503);
 *   2. effective permissions, by the engine's permission rule (permission_rule.c; default
 *      "store": what the subject's roles grant, narrowed by the credential's claims); the
 *      request's principal is replaced by one that carries the result, so the authorizer, the
 *      403 challenge (`scope`) and handlers all see the same set. Under the store rule the pin
 *      also keeps the "ceiling", a principal with every permission the store grants: a denial
 *      the ceiling would not lift cannot be cured by a wider token, so the 403 does not invite
 *      a step-up (mcp_authz_result.not_granted);
 *   3. the policy is pinned for the request (see "pinning" below);
 *   4. rate limits (per principal, per principal and tool) -> 429 with Retry-After.
 * Then the server's built-in AUTHZ check and its list filters call mcp_rbac_authorize(), which
 * evaluates the pinned policy.
 *
 * Pinning. A reload builds a new policy and swaps one pointer; requests in flight must finish
 * with the policy they started with, and a policy must not be freed while a thread reads it.
 * Each thread keeps (in thread-local storage) a reference to the policy and principal of the
 * request it is serving, taken by the middleware and dropped when the same thread starts its
 * next request or exits. The authorizer, which the server calls synchronously on that thread
 * (for tools/call, prompts/get, resources/read and the list filters), uses the pinned policy
 * without any lock. An old policy is therefore freed once every thread has moved on, as in
 * RCU with "next request" as the quiescent state. The obvious alternative, a lock and a
 * reference count per authorizer call, costs one lock round trip per listed tool and lets one
 * tools/list mix two policies.
 *
 * Effective-principal cache. Building a principal allocates; doing it per request would cost
 * more than the JWT check it follows. The cache maps (credential principal, store snapshot)
 * to the effective principal. It holds a reference to both keys, so neither address can be
 * reused for something else while the entry exists (no ABA), and a change in the store yields
 * a new snapshot, hence a miss.
 */
#include "authz/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CACHE_LOCKS 16

typedef struct eff_slot {
    const mcp_principal *src;     /* the credential's principal (own reference) */
    mcp_store_user_info  info;    /* the store snapshot it was built from (owned) */
    const mcp_principal *eff;     /* src under the rule (own reference; may be src itself) */
    const mcp_principal *ceil;    /* store rule: src with the store's permissions (own
                                     reference; may be eff); else NULL */
} eff_slot;

struct mcp_rbac {
    uint64_t        id;           /* unique per engine, for the thread-local pin */
    mcp_store      *store;
    bool            require_known_user;
    bool            check_revoked_jti;
    mcp_permission_rule rule;
    mcp_store_subjects store_subjects;
    char           *policy_path;
    mcp_audit      *audit;
    pthread_mutex_t pol_mu;       /* guards pol (the pointer, not the policy) */
    mcp_policy     *pol;
    pthread_mutex_t reload_mu;    /* one reload at a time */
    atomic_uint_fast64_t generation;
    mcp__ratelimit *rl;
    mcp__ratelimit_shared *srl;   /* shared_rate_limits: the store's windows instead of rl */
    eff_slot       *cache;
    size_t          ncache;
    pthread_mutex_t cache_mu[CACHE_LOCKS];
    bool            watching;
};

static atomic_uint_fast64_t next_id = 1;

/* ---- thread-local pin -------------------------------------------------------------------- */

typedef struct pin {
    uint64_t             rbac_id;
    mcp_permission_rule  rule;
    mcp_policy          *pol;     /* own reference */
    uint64_t             gen;     /* the engine's generation that pol belongs to */
    const mcp_principal *p;       /* own reference (may be NULL: authentication off) */
    const mcp_principal *ceil;    /* own reference: what the store grants p's subject, when a
                                     denial beyond it cannot be cured by a wider token; NULL
                                     when the rule does not bound the token by the store */
} pin;

static _Thread_local pin tls_pin;
static pthread_key_t pin_key;
static pthread_once_t pin_once = PTHREAD_ONCE_INIT;

static void
pin_clear(void)
{
    mcp_policy *pol = tls_pin.pol;
    const mcp_principal *p = tls_pin.p, *ceil = tls_pin.ceil;
    memset(&tls_pin, 0, sizeof tls_pin);
    mcp_policy_unref(pol);
    mcp_principal_unref(p);
    mcp_principal_unref(ceil);
}

static void
pin_thread_exit(void *unused)
{
    (void)unused;
    pin_clear();
}

static void
pin_key_init(void)
{
    (void)pthread_key_create(&pin_key, pin_thread_exit);
}

/* Takes over the references to pol and ceil; takes a new reference to p. */
static void
pin_set(const mcp_rbac *r, mcp_policy *pol, uint64_t gen, const mcp_principal *p,
        const mcp_principal *ceil)
{
    pthread_once(&pin_once, pin_key_init);
    pin_clear();
    tls_pin.rbac_id = r->id;
    tls_pin.rule = r->rule;
    tls_pin.pol = pol;
    tls_pin.gen = gen;
    tls_pin.p = mcp_principal_ref(p);
    tls_pin.ceil = ceil;
    /* any non-NULL value makes the key's destructor run at thread exit */
    pthread_setspecific(pin_key, &tls_pin);
}

/* ---- policy pointer ---------------------------------------------------------------------- */

/* The current policy (a new reference) and, when gen is non-NULL, the generation it has: both
 * read under pol_mu, which swap_policy holds while it changes both. */
static mcp_policy *
acquire_gen(const mcp_rbac *r, uint64_t *gen)
{
    mcp_rbac *m = (mcp_rbac *)r;
    pthread_mutex_lock(&m->pol_mu);
    mcp_policy *pol = mcp_policy_ref(m->pol);
    if (gen != NULL)
        *gen = atomic_load(&m->generation);
    pthread_mutex_unlock(&m->pol_mu);
    return pol;
}

static mcp_policy *
acquire(const mcp_rbac *r)
{
    return acquire_gen(r, NULL);
}

mcp_policy *
mcp_rbac_policy(const mcp_rbac *r)
{
    return r != NULL ? acquire(r) : NULL;
}

uint64_t
mcp_rbac_generation(const mcp_rbac *r)
{
    return r != NULL ? atomic_load(&((mcp_rbac *)r)->generation) : 0;
}

static void
swap_policy(mcp_rbac *r, mcp_policy *pol)
{
    pthread_mutex_lock(&r->pol_mu);
    mcp_policy *old = r->pol;
    r->pol = pol;
    atomic_fetch_add(&r->generation, 1);
    pthread_mutex_unlock(&r->pol_mu);
    mcp_policy_unref(old);     /* freed now, or when the last pinned request moves on */
}

mcp_status
mcp_rbac_set_policy(mcp_rbac *r, mcp_policy *pol, mcp_error *err)
{
    if (r == NULL || pol == NULL) {
        mcp_policy_unref(pol);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no engine or policy");
    }
    swap_policy(r, pol);
    return MCP_OK;
}

/* ---- effective-principal cache ----------------------------------------------------------- */

static size_t
slot_of(const mcp_rbac *r, const mcp_principal *p)
{
    uintptr_t h = (uintptr_t)p;
    h ^= h >> 17;
    h *= (uintptr_t)0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return (size_t)(h % r->ncache);
}

static void
slot_clear(eff_slot *s)
{
    mcp_principal_unref(s->src);
    mcp_principal_unref(s->eff);
    mcp_principal_unref(s->ceil);
    mcp_store_user_info_cleanup(&s->info);
    s->src = s->eff = s->ceil = NULL;
}

static void
cache_clear(mcp_rbac *r)
{
    for (size_t i = 0; i < r->ncache; i++) {
        pthread_mutex_t *mu = &r->cache_mu[i % CACHE_LOCKS];
        pthread_mutex_lock(mu);
        slot_clear(&r->cache[i]);
        pthread_mutex_unlock(mu);
    }
}

static bool
same_snapshot(const mcp_store_user_info *a, const mcp_store_user_info *b)
{
    return a->permissions == b->permissions && a->n_permissions == b->n_permissions &&
           a->name == b->name;
}

/* Does p hold every one of the store's permissions (then p itself is the ceiling)? */
static bool
holds_all(const mcp_principal *p, const mcp_store_user_info *info)
{
    for (size_t i = 0; i < info->n_permissions; i++)
        if (!mcp_principal_has(p, info->permissions[i]))
            return false;
    return true;
}

/* The effective principal and the ceiling for p, built afresh. */
static mcp_status
build_pair(const mcp_rbac *r, const mcp_principal *p, const mcp_store_user_info *info,
           bool keeps, const mcp_principal **eff, const mcp_principal **ceil, mcp_error *err)
{
    mcp_principal *e = NULL, *c = NULL;
    mcp_status rc = MCP_OK;
    if (!keeps)
        rc = mcp__permission_rule_build(r->rule, p, info->permissions, info->n_permissions,
                                        info->name, &e, err);
    const mcp_principal *ev = keeps ? p : e;
    if (rc == MCP_OK && r->rule == MCP_PERMISSION_RULE_STORE && !holds_all(ev, info)) {
        /* the ceiling: the subject's identity with exactly what the store grants */
        mcp_principal_fields f = { .kind = mcp_principal_kind(p),
                                   .subject = mcp_principal_subject(p) };
        rc = mcp_principal_new(&f, &c, err);
        for (size_t i = 0; rc == MCP_OK && i < info->n_permissions; i++)
            rc = mcp_principal_add_permission(c, info->permissions[i], err);
    }
    if (rc != MCP_OK) {
        mcp_principal_unref(e);
        mcp_principal_unref(c);
        return rc;
    }
    *eff = keeps ? mcp_principal_ref(p) : e;
    *ceil = r->rule != MCP_PERMISSION_RULE_STORE ? NULL : c != NULL ? c : mcp_principal_ref(*eff);
    return MCP_OK;
}

/*
 * The effective principal for p given the store's view of its subject, by the engine's rule.
 * *out is a new reference, or NULL when p's permissions are already the result (the common
 * case for API keys, whose principal the store builds with the role permissions). *ceil is a
 * new reference under the store rule (see pin), else NULL. Consumes *info.
 */
static mcp_status
effective(mcp_rbac *r, const mcp_principal *p, mcp_store_user_info *info,
          const mcp_principal **out, const mcp_principal **ceil, mcp_error *err)
{
    *out = NULL;
    *ceil = NULL;
    bool keeps = mcp__permission_rule_keeps(r->rule, p, info->permissions, info->n_permissions);
    if (keeps && (r->rule != MCP_PERMISSION_RULE_STORE || holds_all(p, info))) {
        if (r->rule == MCP_PERMISSION_RULE_STORE)
            *ceil = mcp_principal_ref(p);
        mcp_store_user_info_cleanup(info);
        return MCP_OK;
    }
    eff_slot *s = NULL;
    pthread_mutex_t *mu = NULL;
    if (r->ncache > 0) {
        size_t i = slot_of(r, p);
        s = &r->cache[i];
        mu = &r->cache_mu[i % CACHE_LOCKS];
        pthread_mutex_lock(mu);
        if (s->src == p && same_snapshot(&s->info, info)) {
            *out = s->eff != p ? mcp_principal_ref(s->eff) : NULL;
            *ceil = mcp_principal_ref(s->ceil);
            pthread_mutex_unlock(mu);
            mcp_store_user_info_cleanup(info);
            return MCP_OK;
        }
        pthread_mutex_unlock(mu);
    }
    const mcp_principal *e = NULL, *c = NULL;
    mcp_status rc = build_pair(r, p, info, keeps, &e, &c, err);
    if (rc != MCP_OK) {
        mcp_store_user_info_cleanup(info);
        return rc;
    }
    *out = e != p ? mcp_principal_ref(e) : NULL;
    *ceil = mcp_principal_ref(c);
    if (s == NULL) {
        mcp_principal_unref(e);
        mcp_principal_unref(c);
        mcp_store_user_info_cleanup(info);
        return MCP_OK;
    }
    eff_slot old;
    pthread_mutex_lock(mu);
    old = *s;
    s->src = mcp_principal_ref(p);
    s->info = *info;                       /* the slot takes over the snapshot reference */
    s->eff = e;                            /* and our references to e and c */
    s->ceil = c;
    pthread_mutex_unlock(mu);
    mcp_store_user_info_init(info);
    slot_clear(&old);                      /* outside the lock: may free */
    return MCP_OK;
}

/* ---- store checks ------------------------------------------------------------------------ */

static mcp_status
store_checks(mcp_rbac *r, mcp_request *req, const mcp_principal *p,
             const mcp_principal **eff, const mcp_principal **ceil, mcp_error *err)
{
    mcp_error e;
    mcp_error_clear(&e);
    const char *jti = mcp_principal_jti(p);
    if (r->check_revoked_jti && mcp_principal_kind(p) == MCP_CRED_JWT && jti != NULL) {
        bool revoked = false;
        mcp_status rc = mcp_store_token_is_revoked(r->store, jti, &revoked, &e);
        if (rc == MCP_ERR_INVALID_ARG) {
            /* a jti the store cannot hold (too long, control characters): refuse rather than
             * skip the check */
            mcp_request_set_challenge(req, "invalid_token", NULL);
            return mcp_error_set_rpc(err, MCP_ERR_UNAUTHENTICATED, MCP_RPC_UNAUTHENTICATED,
                                     "token id (jti) not acceptable");
        }
        if (rc != MCP_OK) {
            mcp__log(MCP__LOG_ERROR, "rbac", "revocation check failed: %s", e.message);
            return mcp_error_set(err, MCP_ERR_STORE, "user store unavailable");
        }
        if (revoked) {
            mcp_request_set_challenge(req, "invalid_token", NULL);
            return mcp_error_set_rpc(err, MCP_ERR_UNAUTHENTICATED, MCP_RPC_UNAUTHENTICATED,
                                     "token revoked");
        }
    }
    mcp_store_user_info info;
    mcp_store_user_info_init(&info);
    char subject[MCP_STORE_SUBJECT_MAX + 1];
    mcp_status rc = MCP_ERR_INVALID_ARG;
    if (mcp_store_subject_of(r->store_subjects, p, subject, sizeof subject))
        rc = mcp_store_user_lookup(r->store, subject, &info, &e);
    if (rc == MCP_ERR_INVALID_ARG) {
        /* a subject the store cannot hold is not a store user */
        info.exists = false;
    } else if (rc != MCP_OK) {
        mcp__log(MCP__LOG_ERROR, "rbac", "user lookup failed: %s", e.message);
        return mcp_error_set(err, MCP_ERR_STORE, "user store unavailable");
    }
    if (!info.exists) {
        mcp_store_user_info_cleanup(&info);
        if (r->require_known_user) {
            /* no token can cure it: no step-up challenge (see mcp_request_set_challenge) */
            mcp_request_set_challenge(req, "", NULL);
            return mcp_error_set_rpc(err, MCP_ERR_FORBIDDEN, MCP_RPC_FORBIDDEN, "user unknown");
        }
        return MCP_OK;                     /* the credential's permissions alone */
    }
    if (!info.enabled) {
        mcp_store_user_info_cleanup(&info);
        mcp_request_set_challenge(req, "", NULL);
        return mcp_error_set_rpc(err, MCP_ERR_FORBIDDEN, MCP_RPC_FORBIDDEN, "user disabled");
    }
    return effective(r, p, &info, eff, ceil, err);
}

/* ---- rate limits ------------------------------------------------------------------------- */

static mcp_status
take(mcp_rbac *r, mcp_request *req, const mcp__rate *cfg, const char *who, const char *tool,
     mcp_error *err)
{
    if (cfg == NULL)
        return MCP_OK;
    unsigned retry = 1;
    if (r->srl != NULL) {
        mcp_status rc = mcp__ratelimit_shared_take(r->srl, who, strlen(who), tool,
                                                   tool != NULL ? strlen(tool) : 0, cfg,
                                                   mcp__ratelimit_wall_ms(), &retry, err);
        if (rc == MCP_OK)
            return MCP_OK;
        if (rc != MCP_ERR_RATE_LIMITED)
            return rc;                     /* the store failed: refuse (503), fail closed */
    } else if (mcp__ratelimit_take(r->rl, who, strlen(who), tool,
                                   tool != NULL ? strlen(tool) : 0, cfg, mcp_now_ms(), &retry)) {
        return MCP_OK;
    }
    mcp_request_set_retry_after(req, retry);
    if (tool != NULL)
        return mcp_error_set_rpc(err, MCP_ERR_RATE_LIMITED, MCP_RPC_RATE_LIMITED,
                                 "rate limit exceeded for tool '%.80s' (retry after %u s)", tool,
                                 retry);
    return mcp_error_set_rpc(err, MCP_ERR_RATE_LIMITED, MCP_RPC_RATE_LIMITED,
                             "rate limit exceeded (retry after %u s)", retry);
}

static mcp_status
rate_limits(mcp_rbac *r, mcp_request *req, const mcp_policy *pol, const mcp_principal *p,
            mcp_error *err)
{
    const char *subject = p != NULL ? mcp_principal_subject(p) : NULL;
    char anon[128];
    const char *who = subject;
    if (who == NULL) {
        /* authentication off: the client address is the only identity there is */
        snprintf(anon, sizeof anon, "anonymous@%s", mcp_request_peer(req));
        who = anon;
    }
    mcp_status rc = take(r, req, mcp__policy_principal_rate(pol, subject), who, NULL, err);
    /* Per-tool buckets only for registered tools: a made-up name gets "unknown tool" anyway,
     * and metering it would let a caller fill the table with names of its choosing. */
    const char *m = mcp_request_rpc_method(req), *target = mcp_request_target(req);
    if (rc == MCP_OK && m != NULL && target != NULL && strcmp(m, "tools/call") == 0 &&
        mcp_request_target_known(req))
        rc = take(r, req, mcp__policy_tool_rate(pol, target), who, target, err);
    return rc;
}

/* ---- the middleware and the authorizer --------------------------------------------------- */

mcp_status
mcp_rbac_authz(mcp_request *req, void *ctx, mcp_error *err)
{
    mcp_rbac *r = ctx;
    const mcp_principal *p = mcp_request_principal(req);
    const mcp_principal *owned = NULL, *ceil = NULL;
    if (r == NULL)
        return mcp_error_set(err, MCP_ERR_INTERNAL, "authorization engine missing");
    pin_clear();                           /* nothing of an earlier request stays pinned */
    if (p != NULL && r->store != NULL && mcp_principal_kind(p) != MCP_CRED_NONE) {
        mcp_status rc = store_checks(r, req, p, &owned, &ceil, err);
        if (rc != MCP_OK)
            return rc;
        if (owned != NULL) {
            mcp_request_set_principal(req, owned);
            p = owned;
        }
    }
    uint64_t gen = 0;
    mcp_policy *pol = acquire_gen(r, &gen);
    pin_set(r, pol, gen, p, ceil);         /* the pin keeps pol, p and ceil for this request */
    mcp_principal_unref(owned);            /* the request and the pin hold their own */
    return rate_limits(r, req, pol, p, err);
}

/* dst = the words of src that ceil holds (space-separated). */
static void
keep_granted(char *dst, const char *src, const mcp_principal *ceil)
{
    char word[MCP_POLICY_PERM_MAX + 1];
    size_t off = 0;
    dst[0] = '\0';
    for (const char *q = src; *q != '\0';) {
        size_t n = strcspn(q, " ");
        if (n > 0 && n < sizeof word) {
            memcpy(word, q, n);
            word[n] = '\0';
            if (mcp_principal_has(ceil, word) && off + n + 2 < MCP_ERROR_MSG_MAX) {
                off += (size_t)snprintf(dst + off, MCP_ERROR_MSG_MAX - off, "%s%s",
                                        off ? " " : "", word);
            }
        }
        q += n;
        while (*q == ' ')
            q++;
    }
}

const char *
mcp__rbac_pinned_rule(const mcp_principal *p)
{
    if (tls_pin.rbac_id == 0 || tls_pin.pol == NULL || tls_pin.p != p)
        return NULL;
    return mcp_permission_rule_name(tls_pin.rule);
}

mcp_permission_rule
mcp_rbac_permission_rule(const mcp_rbac *r)
{
    return r != NULL ? r->rule : MCP_PERMISSION_RULE_STORE;
}

bool
mcp_rbac_authorize(void *ctx, const mcp_principal *p, const char *kind, const char *name,
                   const mcp_access *rule, mcp_authz_result *res)
{
    mcp_rbac *r = ctx;
    res->allowed = false;
    res->not_granted = false;
    res->missing[0] = '\0';
    if (r == NULL)
        return false;
    bool pinned = tls_pin.rbac_id == r->id && tls_pin.pol != NULL && tls_pin.p == p;
    mcp_policy *pol = pinned ? tls_pin.pol : acquire(r);
    mcp_policy_result pr;
    bool ok = mcp_policy_evaluate(pol, p, kind, name, rule, &pr);
    snprintf(res->missing, sizeof res->missing, "%s", pr.missing);
    snprintf(res->required, sizeof res->required, "%s", pr.required);
    if (!ok && pinned && tls_pin.ceil != NULL) {
        /* Store rule: a wider token can add only what the store grants. */
        mcp_policy_result cr;
        if (tls_pin.ceil == p || !mcp_policy_evaluate(pol, tls_pin.ceil, kind, name, rule, &cr)) {
            res->not_granted = true;
            res->missing[0] = '\0';
        } else {
            keep_granted(res->missing, pr.missing, tls_pin.ceil);
        }
    }
    res->allowed = ok;
    if (!pinned)
        mcp_policy_unref(pol);
    return ok;
}

/* For the server's list cache: a decision for p on this thread is mcp_policy_evaluate() on the
 * pinned policy and p's permissions (the ceiling changes only not_granted and missing, never
 * allowed), so the pinned policy's generation names everything else it reads. Unpinned
 * (another principal, or no request of this engine on this thread): not cacheable. */
static bool
rbac_list_generation(void *ctx, const mcp_principal *p, uint64_t *gen)
{
    const mcp_rbac *r = ctx;
    if (r == NULL || tls_pin.rbac_id != r->id || tls_pin.pol == NULL || tls_pin.p != p)
        return false;
    *gen = tls_pin.gen;
    return true;
}

mcp_status
mcp_rbac_attach(mcp_rbac *r, mcp_server *srv, mcp_error *err)
{
    if (r == NULL || srv == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no engine or server");
    mcp_status rc = mcp_server_use(srv, MCP_PHASE_AUTHZ, mcp_rbac_authz, r, err);
    if (rc != MCP_OK)
        return rc;
    mcp_server_set_authorizer(srv, mcp_rbac_authorize, r);
    mcp_server_set_authorizer_generation(srv, rbac_list_generation);
    return MCP_OK;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

void
mcp_rbac_opts_default(mcp_rbac_opts *o)
{
    memset(o, 0, sizeof *o);
    o->require_known_user = true;
    o->check_revoked_jti = true;
    o->principal_cache = 4096;
    o->rate_buckets_max = 65536;
}

static void
rbac_destroy(mcp_rbac *r)
{
    if (r->cache != NULL)
        cache_clear(r);
    mcp__free(r->cache);
    for (int i = 0; i < CACHE_LOCKS; i++)
        pthread_mutex_destroy(&r->cache_mu[i]);
    mcp__ratelimit_free(r->rl);
    mcp__ratelimit_shared_free(r->srl);
    mcp_policy_unref(r->pol);
    pthread_mutex_destroy(&r->pol_mu);
    pthread_mutex_destroy(&r->reload_mu);
    mcp__free(r->policy_path);
    mcp__free(r);
}

mcp_status
mcp_rbac_new(const mcp_rbac_opts *opts, mcp_rbac **out, mcp_error *err)
{
    mcp_rbac_opts def;
    *out = NULL;
    if (opts == NULL) {
        mcp_rbac_opts_default(&def);
        opts = &def;
    }
    if (strcmp(mcp_permission_rule_name(opts->permission_rule), "?") == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unknown permission rule");
    if (strcmp(mcp_store_subjects_name(opts->store_subjects), "?") == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unknown store-subjects mode");
    mcp_rbac *r = mcp__calloc(1, sizeof *r);
    if (r == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    r->id = atomic_fetch_add(&next_id, 1);
    r->store = opts->store;
    r->require_known_user = opts->require_known_user;
    r->check_revoked_jti = opts->check_revoked_jti;
    r->rule = opts->permission_rule;
    r->store_subjects = opts->store_subjects;
    r->audit = opts->audit;
    atomic_init(&r->generation, 0);
    pthread_mutex_init(&r->pol_mu, NULL);
    pthread_mutex_init(&r->reload_mu, NULL);
    for (int i = 0; i < CACHE_LOCKS; i++)
        pthread_mutex_init(&r->cache_mu[i], NULL);
    mcp_status rc = MCP_OK;
    if (opts->policy_path != NULL && (r->policy_path = mcp__strdup(opts->policy_path)) == NULL)
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    if (rc == MCP_OK)
        rc = mcp__ratelimit_new(opts->rate_buckets_max ? opts->rate_buckets_max : 65536, &r->rl,
                                err);
    if (rc == MCP_OK && opts->shared_rate_limits)
        rc = mcp__ratelimit_shared_new(opts->store, &r->srl, err);
    if (rc == MCP_OK && opts->principal_cache > 0) {
        r->ncache = opts->principal_cache;
        if ((r->cache = mcp__calloc(r->ncache, sizeof *r->cache)) == NULL)
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; rc == MCP_OK && i < r->ncache; i++)
            mcp_store_user_info_init(&r->cache[i].info);
    }
    mcp_policy *pol = NULL;
    if (rc == MCP_OK)
        rc = r->policy_path != NULL ? mcp_policy_load_file(r->policy_path, &pol, err)
                                    : mcp_policy_new_default(&pol, err);
    if (rc != MCP_OK) {
        if (r->cache == NULL)
            r->ncache = 0;
        rbac_destroy(r);
        return rc;
    }
    swap_policy(r, pol);
    *out = r;
    return MCP_OK;
}

void
mcp_rbac_free(mcp_rbac *r)
{
    if (r == NULL)
        return;
    if (r->watching)
        mcp__sighup_unregister(r);
    if (tls_pin.rbac_id == r->id)
        pin_clear();
    rbac_destroy(r);
}

mcp_status
mcp_rbac_reload(mcp_rbac *r, mcp_error *err)
{
    if (r == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no engine");
    if (r->policy_path == NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "no policy file configured");
    pthread_mutex_lock(&r->reload_mu);
    mcp_error e;
    mcp_error_clear(&e);
    mcp_policy *pol = NULL;
    mcp_status rc = mcp_policy_load_file(r->policy_path, &pol, &e);
    if (rc != MCP_OK) {
        /* the old policy stays: a broken file must never open or close anything */
        mcp__log(MCP__LOG_ERROR, "policy", "reload failed, keeping the previous policy: %s",
                 e.message);
        mcp_audit_event(r->audit, "policy_reload", "failed", e.message);
        pthread_mutex_unlock(&r->reload_mu);
        if (err != NULL)
            *err = e;
        return rc;
    }
    size_t n = mcp_policy_entry_count(pol);
    swap_policy(r, pol);
    if (r->store != NULL)
        mcp_store_invalidate(r->store);
    cache_clear(r);
    char msg[MCP_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%.200s: %zu entries", r->policy_path, n);
    mcp__log(MCP__LOG_INFO, "policy", "reloaded %s", msg);
    mcp_audit_event(r->audit, "policy_reload", "ok", msg);
    pthread_mutex_unlock(&r->reload_mu);
    return MCP_OK;
}

static void
on_sighup(void *ctx)
{
    mcp_rbac *r = ctx;
    mcp_error e;
    mcp_error_clear(&e);
    if (r->policy_path != NULL)
        (void)mcp_rbac_reload(r, &e);      /* reported by mcp_rbac_reload itself */
    else if (r->store != NULL)
        mcp_store_invalidate(r->store);
    if (r->audit != NULL && mcp_audit_reopen(r->audit, &e) != MCP_OK)
        mcp__log(MCP__LOG_ERROR, "audit", "%s", e.message);
}

mcp_status
mcp_rbac_watch_sighup(mcp_rbac *r, mcp_error *err)
{
    if (r == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no engine");
    if (r->watching)
        return mcp_error_set(err, MCP_ERR_STATE, "already watching SIGHUP");
    mcp_status rc = mcp__sighup_register(on_sighup, r, err);
    if (rc == MCP_OK)
        r->watching = true;
    return rc;
}
