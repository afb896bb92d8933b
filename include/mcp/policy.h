/*
 * libmcp: authorization. The RBAC policy (who may call / see which tool, resource and prompt),
 * the engine that applies it to a server (user-store checks, effective permissions, rate
 * limits, atomic reload on SIGHUP), and the audit log of authentication and authorization
 * decisions. Design, file format and error codes: docs/design/authorization.md; the permissions
 * themselves: docs/design/permissions.md.
 *
 * Where each check runs (all in the server's authorization phase, never in handlers):
 *   AUTHZ middleware (mcp_rbac_attach installs it):
 *     revoked JWT id (store) -> 401; subject unknown / disabled in the store -> 403;
 *     store unreadable -> 503; effective permissions by the permission rule (default: those
 *     the store's roles grant the subject, narrowed by the credential's claims; see
 *     mcp_permission_rule); rate limits -> 429 + Retry-After.
 *   authorizer (mcp_server_set_authorizer; same function for "may call" and "may see"):
 *     the policy-file entry for the target if there is one, else the rule given at
 *     registration (unless the file turns that off), else deny.
 */
#ifndef MCP_POLICY_H
#define MCP_POLICY_H

#include <mcp/auth.h>
#include <mcp/common.h>
#include <mcp/server.h>
#include <mcp/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Policy: an immutable, reference-counted set of rules (and rate limits)                     */

typedef struct mcp_policy mcp_policy;

/* Limits on policy input; larger or malformed documents are refused (MCP_ERR_PARSE /
 * MCP_ERR_TOO_LARGE), never partly applied. */
#define MCP_POLICY_FILE_MAX   (1024 * 1024) /* bytes */
#define MCP_POLICY_NAME_MAX   512           /* tool / prompt name, resource URI or template */
#define MCP_POLICY_PERM_MAX   128           /* one permission; printable ASCII, no spaces */
#define MCP_POLICY_LIST_MAX   64            /* permissions in one any_of / all_of list */
#define MCP_POLICY_ENTRIES_MAX 4096         /* entries per section */

/**
 * Parse a policy document (JSON; format in docs/design/authorization.md). Unknown keys, empty
 * permission lists, an entry that grants nothing and bad rate limits are errors: a typo must
 * never silently weaken a rule.
 * @param json     Borrowed; len bytes, need not be NUL-terminated.
 * @param origin   Name used in error messages (a file name), or NULL; copied.
 * @param[out] out New policy with one reference (mcp_policy_unref()). Set only on MCP_OK.
 * @param[out] err Optional; says what is wrong and where ("tools.delete_product: ...").
 * @return MCP_OK, MCP_ERR_PARSE, MCP_ERR_TOO_LARGE, MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_policy_parse(const char *json, size_t len, const char *origin,
                                          mcp_policy **out, mcp_error *err);

/** As mcp_policy_parse() on a file's contents. @return also MCP_ERR_IO. @since 0.1 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_policy_load_file(const char *path, mcp_policy **out,
                                              mcp_error *err);

/**
 * The policy used when no file is configured: no entries, registration rules apply, no rate
 * limits. @param[out] out New reference. @return MCP_OK or MCP_ERR_NOMEM. @since 0.1
 */
MCP_EXTERN mcp_status mcp_policy_new_default(mcp_policy **out, mcp_error *err);

/** Take a reference; returns p. Thread-safe. NULL is allowed. @since 0.1 */
MCP_EXTERN mcp_policy *mcp_policy_ref(const mcp_policy *p);
/** Drop a reference; frees on the last. Thread-safe. NULL is allowed. @since 0.1 */
MCP_EXTERN void mcp_policy_unref(const mcp_policy *p);

/** Where the rule that decided came from. */
typedef enum mcp_policy_source {
    MCP_POLICY_SRC_FILE = 0,         /* an entry of the policy file */
    MCP_POLICY_SRC_REGISTRATION = 1, /* the mcp_access given when the target was registered */
    MCP_POLICY_SRC_DEFAULT = 2       /* neither: denied by default */
} mcp_policy_source;

/** Result of mcp_policy_evaluate(). A plain value; no pointers into anything. */
typedef struct mcp_policy_result {
    bool              allowed;
    mcp_policy_source source;
    char entry[MCP_POLICY_NAME_MAX];       /* the file entry that matched ("" unless FILE) */
    char required[MCP_ERROR_MSG_MAX];      /* "any of: A B", "all of: A", "any authenticated
                                              caller", "nobody (deny)", "nobody (not in the
                                              policy)"; "any of: A; all of: B" for both */
    char missing[MCP_ERROR_MSG_MAX];       /* space-separated permissions that would allow it;
                                              "" when allowed or when nothing would */
} mcp_policy_result;

/**
 * Decide whether p may use target `name` of `kind` ("tool", "resource", "prompt").
 * Order: an exact file entry; for resources, a file entry whose URI template matches name;
 * then `registered` (unless the file sets "inherit_registration": false); else deny.
 * A NULL principal stands for "authentication is off": only any_authenticated rules allow it.
 *
 * @param pol        Borrowed; safe to share across threads.
 * @param p          Caller, or NULL; borrowed.
 * @param registered The registration rule, or NULL when none is known; borrowed.
 * @param[out] out   Always filled.
 * @return out->allowed.
 * @since 0.1
 */
MCP_EXTERN MCP_NODISCARD bool mcp_policy_evaluate(const mcp_policy *pol, const mcp_principal *p,
                                       const char *kind, const char *name,
                                       const mcp_access *registered, mcp_policy_result *out);

/**
 * Copy of the file entry rule for (kind, name) as an mcp_access, for tools such as
 * `mcp-admin policy check`. Borrowed pointers valid while pol is referenced.
 * @return true when the file has an entry (exact, or a matching resource template).
 * @since 0.1
 */
MCP_EXTERN bool mcp_policy_lookup(const mcp_policy *pol, const char *kind, const char *name,
                       mcp_access *out, bool *deny);

/** Does the policy keep registration rules for names it does not list? @since 0.1 */
MCP_EXTERN bool mcp_policy_inherits_registration(const mcp_policy *pol);

/** Number of entries (tools + resources + prompts). @since 0.1 */
MCP_EXTERN size_t mcp_policy_entry_count(const mcp_policy *pol);

/* ------------------------------------------------------------------------------------------ */
/* Audit log: one JSON line per decision, written by a background thread                      */

typedef struct mcp_audit mcp_audit;

typedef struct mcp_audit_opts {
    const char *path;      /* file to append to (created 0600); NULL or "-" = stderr */
    size_t      queue_max; /* lines waiting for the writer; past it lines are dropped and
                              counted (default 8192) */
    bool        fsync;     /* fdatasync after each batch (default false) */
} mcp_audit_opts;

/** Fill o with the defaults above. @since 0.1 */
MCP_EXTERN void mcp_audit_opts_default(mcp_audit_opts *o);

/**
 * Open the log and start its writer thread.
 * @param opts Borrowed; path copied.
 * @return MCP_OK, MCP_ERR_IO (cannot open the file), MCP_ERR_NOMEM, MCP_ERR_INTERNAL (thread).
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_audit_open(const mcp_audit_opts *opts, mcp_audit **out, mcp_error *err);

/** Write every queued line, stop the writer, close the file. NULL is allowed. @since 0.1 */
MCP_EXTERN void mcp_audit_close(mcp_audit *a);

/**
 * Install the log as srv's decision hook (mcp_server_set_decision_hook), so that every
 * authentication and authorization decision produces one line. a must outlive srv's serving.
 * @since 0.1
 */
MCP_EXTERN void mcp_audit_attach(mcp_audit *a, mcp_server *srv);

/**
 * The decision hook itself (an mcp_decision_fn with ctx = the mcp_audit *), for applications
 * that chain hooks. Formats the line on the calling thread and queues it; never blocks on I/O.
 * @since 0.1
 */
MCP_EXTERN void mcp_audit_decision(void *audit, const mcp_request *req, const mcp_decision *d);

/**
 * Queue a line for an event that is not a request decision, e.g. a policy reload:
 * {"time":..., "event": event, "decision": outcome, "reason": detail}. Strings borrowed.
 * @since 0.1
 */
MCP_EXTERN void mcp_audit_event(mcp_audit *a, const char *event, const char *outcome, const char *detail);

/** Wait until every line queued so far is written (and flushed), up to timeout_ms.
 *  @return MCP_OK or MCP_ERR_TIMEOUT. @since 0.1 */
MCP_EXTERN mcp_status mcp_audit_flush(mcp_audit *a, unsigned timeout_ms);

/** Re-open the file by name (after log rotation). On failure the old file stays in use.
 *  @return MCP_OK, MCP_ERR_IO. @since 0.1 */
MCP_EXTERN mcp_status mcp_audit_reopen(mcp_audit *a, mcp_error *err);

/** Lines dropped because the queue was full, and lines written, since open. Thread-safe. */
MCP_EXTERN uint64_t mcp_audit_dropped(const mcp_audit *a);
MCP_EXTERN uint64_t mcp_audit_written(const mcp_audit *a);

/* ------------------------------------------------------------------------------------------ */
/* The RBAC engine                                                                            */

typedef struct mcp_rbac mcp_rbac;

/**
 * How the permissions a credential claims (a JWT's `scope` / `permissions`, an introspection
 * result's `scope`) combine with those the user store grants the subject through its roles.
 * The rule applies to subjects the store knows; a subject it does not know (only admitted with
 * require_known_user = false) has its credential's permissions under every rule.
 * See docs/design/permissions.md for the trade-offs.
 * @since 0.1
 */
typedef enum mcp_permission_rule {
    /* The default (the rule of the users' guide): a permission counts only if the store grants
     * it to the user. The credential's claims narrow that set (OAuth delegation: a token may
     * carry less than the user holds, never more); a credential without any permission claim
     * gets all of the user's store permissions. A 403 for a permission the store does not grant
     * does not invite a step-up (no scope to ask for). */
    MCP_PERMISSION_RULE_STORE = 0,
    /* The store's permissions plus the credential's: whatever the identity provider puts in a
     * token counts, even for a permission the store does not grant. Only for deployments where
     * the identity provider enforces per-user scope policy. */
    MCP_PERMISSION_RULE_UNION = 1,
    /* The credential's claims alone; the store only says whether the user exists, is enabled
     * and (for JWTs) whether the token id is revoked. */
    MCP_PERMISSION_RULE_TOKEN_ONLY = 2
} mcp_permission_rule;

/**
 * Which store user a token's subject is (docs/design/permissions.md#store-subjects). API-key
 * principals come from the store and are always its users.
 * @since 0.1
 */
typedef enum mcp_store_subjects {
    /* The token's `sub` as it is (the default): one namespace for every issuer and for local
     * users, so a user of an identity provider whose `sub` equals a store user's subject (say
     * `admin`) is that user. Right with one trusted issuer whose subjects the store lists. */
    MCP_STORE_SUBJECTS_BARE = 0,
    /* Tokens (JWT, introspection) are store users "ISSUER#SUB" (`iss` then `#` then `sub`;
     * an issuer URL has no fragment, so the first `#` separates them): two issuers, or an
     * issuer and the local API-key users, cannot share a user by accident. A token without
     * `iss` is then no store user. */
    MCP_STORE_SUBJECTS_ISSUER = 1
} mcp_store_subjects;

/** "bare" or "issuer" ("?" outside the enum). @since 0.1 */
MCP_EXTERN const char *mcp_store_subjects_name(mcp_store_subjects mode);
/** Parse "bare" or "issuer"; false (out untouched) otherwise. @since 0.1 */
MCP_EXTERN MCP_NODISCARD bool mcp_store_subjects_parse(const char *name, mcp_store_subjects *out);

/**
 * The store subject of principal p under mode: its subject, or for a token under
 * MCP_STORE_SUBJECTS_ISSUER "ISSUER#SUB".
 * @param[out] buf Filled with the subject (NUL-terminated).
 * @return true, or false when p has none under mode (no issuer, or it does not fit in cap).
 * @since 0.1
 */
MCP_EXTERN bool mcp_store_subject_of(mcp_store_subjects mode, const mcp_principal *p, char *buf,
                                     size_t cap);

/** "store", "union" or "token-only" ("?" for a value outside the enum). @since 0.1 */
MCP_EXTERN const char *mcp_permission_rule_name(mcp_permission_rule rule);

/** Parse a rule name ("store", "union", "token-only"). @return false (out untouched) for any
 *  other text or NULL. @since 0.1 */
MCP_EXTERN MCP_NODISCARD bool mcp_permission_rule_parse(const char *name, mcp_permission_rule *out);

/**
 * The effective principal: p's identity with the permissions `rule` gives it, given the
 * permissions the store grants p's subject (store_perms, n_store; the store's order need not be
 * kept). The function the engine uses; `mcp-admin policy check` uses it too, so the two agree.
 * @param p           The credential's principal; borrowed.
 * @param store_perms Borrowed; may be NULL when n_store is 0.
 * @param[out] out    New principal (mcp_principal_unref()); set only on MCP_OK.
 * @return MCP_OK, MCP_ERR_INVALID_ARG (NULL p or out, unknown rule), MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_permission_rule_apply(mcp_permission_rule rule,
                                                   const mcp_principal *p,
                                                   const char *const *store_perms,
                                                   size_t n_store, mcp_principal **out,
                                                   mcp_error *err);

typedef struct mcp_rbac_opts {
    /* User store (borrowed; must outlive the engine), or NULL: then the effective permissions
     * are the credential's alone and no user/jti checks are made. */
    mcp_store  *store;
    /* With a store: refuse (403) a credential whose subject is not a store user (default
     * true). false lets external JWT users through on their token's permissions alone; a user
     * that exists but is disabled is refused either way. */
    bool        require_known_user;
    /* With a store: refuse (401) a JWT whose jti is in revoked_tokens (default true). */
    bool        check_revoked_jti;
    /* Policy file (copied), or NULL for mcp_policy_new_default(). Loaded by mcp_rbac_new()
     * (a bad file fails it) and re-read by mcp_rbac_reload(). */
    const char *policy_path;
    /* Audit log for reload events (borrowed; optional). Decisions reach the audit log through
     * mcp_audit_attach(), not through this. */
    mcp_audit  *audit;
    /* How the credential's permissions and the store's combine (default
     * MCP_PERMISSION_RULE_STORE: the store grants, the token narrows). */
    mcp_permission_rule permission_rule;
    /* Which store user a token's subject is (default MCP_STORE_SUBJECTS_BARE). */
    mcp_store_subjects store_subjects;
    size_t      principal_cache; /* cached effective principals (default 4096; 0 = none) */
    size_t      rate_buckets_max; /* token buckets kept in memory (default 65536) */
    /* Count the policy's rate limits in the store, shared by every instance on it (default
     * false: per-process token buckets). Needs a PostgreSQL store (else mcp_rbac_new() fails):
     * each {rate, burst} becomes a fixed window of floor(burst) requests per burst / rate
     * seconds; docs/design/scale-out.md gives the tolerance. @since 0.2 */
    bool        shared_rate_limits;
} mcp_rbac_opts;

/** Fill o with the defaults above. @since 0.1 */
MCP_EXTERN void mcp_rbac_opts_default(mcp_rbac_opts *o);

/**
 * Create an engine and load its policy.
 * @return MCP_OK, MCP_ERR_INVALID_ARG, MCP_ERR_NOMEM, or the policy's load error
 *         (MCP_ERR_IO, MCP_ERR_PARSE, MCP_ERR_TOO_LARGE) with err naming the file.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_rbac_new(const mcp_rbac_opts *opts, mcp_rbac **out, mcp_error *err);

/**
 * Stop the SIGHUP watch, free the engine. Call after the server it is attached to stopped
 * serving (mcp_server_free), and before closing the store. NULL is allowed.
 * @since 0.1
 */
MCP_EXTERN void mcp_rbac_free(mcp_rbac *r);

/**
 * Install the engine on srv: its AUTHZ middleware item and its authorizer. Call before
 * serving, after any AUTHN items. r must outlive srv's serving.
 * @return MCP_OK, or mcp_server_use()'s error.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_rbac_attach(mcp_rbac *r, mcp_server *srv, mcp_error *err);

/**
 * Re-read the policy file and swap it in atomically: requests already past their AUTHZ
 * middleware finish with the policy they started with. A file that fails to load leaves the
 * current policy in place (reported on stderr and to the audit log).
 * Also drops the effective-principal cache and the store cache.
 * @return MCP_OK, MCP_ERR_STATE (no policy file configured), or the load error.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_rbac_reload(mcp_rbac *r, mcp_error *err);

/**
 * Swap in a policy built by the caller (takes one reference to pol, even on failure).
 * @return MCP_OK or MCP_ERR_INVALID_ARG.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_rbac_set_policy(mcp_rbac *r, mcp_policy *pol, mcp_error *err);

/** The current policy: a new reference (mcp_policy_unref()). Thread-safe. @since 0.1 */
MCP_EXTERN mcp_policy *mcp_rbac_policy(const mcp_rbac *r);

/** The permission rule the engine applies. @since 0.1 */
MCP_EXTERN mcp_permission_rule mcp_rbac_permission_rule(const mcp_rbac *r);

/** Number of successful policy loads since creation (1 after mcp_rbac_new()). @since 0.1 */
MCP_EXTERN uint64_t mcp_rbac_generation(const mcp_rbac *r);

/**
 * Reload on SIGHUP: installs a SIGHUP handler (async-signal-safe: it only writes to a pipe)
 * and a thread that calls mcp_rbac_reload() and, when opts.audit was given, mcp_audit_reopen().
 * Stopped by mcp_rbac_free(). At most 8 engines per process.
 * @return MCP_OK, MCP_ERR_STATE (already watching), MCP_ERR_TOO_LARGE, MCP_ERR_INTERNAL.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_rbac_watch_sighup(mcp_rbac *r, mcp_error *err);

/**
 * Call fn(ctx) on a background thread after each SIGHUP, through the same async-signal-safe
 * handler mcp_rbac_watch_sighup() uses (they share the at most 8 registrations of a process).
 * The server programs reload their TLS certificate this way (mcp_server_reload_tls()).
 * @return MCP_OK, MCP_ERR_INVALID_ARG (fn NULL), MCP_ERR_TOO_LARGE, MCP_ERR_INTERNAL.
 * Thread: setup thread. @since 0.2
 */
MCP_EXTERN mcp_status mcp_sighup_add(void (*fn)(void *ctx), void *ctx, mcp_error *err);
/** Remove ctx's registration; waits for a running fn(ctx) to return. @since 0.2 */
MCP_EXTERN void mcp_sighup_remove(void *ctx);

/* The pieces mcp_rbac_attach() installs, for applications that compose their own pipeline. */

/**
 * AUTHZ middleware (an mcp_middleware_fn; ctx = the mcp_rbac *): user-store checks, effective
 * permissions (may replace the request's principal), policy pin, rate limits.
 * @return MCP_OK, MCP_ERR_UNAUTHENTICATED (revoked jti), MCP_ERR_FORBIDDEN ("user unknown",
 *         "user disabled"), MCP_ERR_RATE_LIMITED (Retry-After set), MCP_ERR_STORE, MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_rbac_authz(mcp_request *req, void *rbac, mcp_error *err);
/**
 * Authorizer (an mcp_authz_fn; ctx = the mcp_rbac *): mcp_policy_evaluate() on the policy
 * pinned for the request this thread is serving (else the current one); res->missing filled.
 * Thread-safe. @since 0.1
 */
MCP_EXTERN MCP_NODISCARD bool mcp_rbac_authorize(void *rbac, const mcp_principal *p, const char *kind,
                                      const char *name, const mcp_access *rule,
                                      mcp_authz_result *res);

#ifdef __cplusplus
}
#endif
#endif
