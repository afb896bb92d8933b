/*
 * Private to src/authz (policy.c, ratelimit.c, audit.c, rbac_*.c).
 * Tests may include it to reach the pieces that have no public API.
 */
#ifndef MCP_SRC_AUTHZ_INTERNAL_H
#define MCP_SRC_AUTHZ_INTERNAL_H

#include <mcp/policy.h>

#include <stdatomic.h>

#include "authz/authz.h"
#include "common/common.h"

/* ---- policy ------------------------------------------------------------------------------ */

enum { MCP__KIND_TOOL = 0, MCP__KIND_RESOURCE = 1, MCP__KIND_PROMPT = 2, MCP__KIND_COUNT_ = 3 };

typedef struct mcp__prule {
    char       *name;
    bool        is_template;      /* resources only: the name contains "{var}" */
    size_t      literal_len;      /* template specificity: bytes outside {...} */
    bool        deny;
    bool        any_authenticated;
    char      **any_of;           /* NULL-terminated, or NULL */
    char      **all_of;           /* NULL-terminated, or NULL */
} mcp__prule;

/* A token bucket's configuration: `rate` tokens per second, at most `burst` tokens. */
typedef struct mcp__rate {
    double rate;
    double burst;
} mcp__rate;

typedef struct mcp__named_rate {
    char      *name;
    mcp__rate  rate;
} mcp__named_rate;

struct mcp_policy {
    atomic_int       refs;
    char            *origin;                 /* file name, for messages */
    bool             inherit;                /* registration rules apply to unlisted names */
    mcp__prule      *rules[MCP__KIND_COUNT_]; /* sorted by name */
    size_t           nrules[MCP__KIND_COUNT_];
    bool             has_principal_rate;
    mcp__rate        principal_rate;         /* every principal, every request */
    mcp__named_rate *principal_rates;        /* per-subject overrides, sorted */
    size_t           nprincipal_rates;
    bool             has_tool_default_rate;
    mcp__rate        tool_default_rate;      /* per (principal, tool) for unlisted tools */
    mcp__named_rate *tool_rates;             /* per (principal, tool), sorted by tool */
    size_t           ntool_rates;
};

/* Kind name -> index, or -1. */
int mcp__policy_kind(const char *kind);
/* The file rule deciding (kind, name), or NULL. */
const mcp__prule *mcp__policy_find(const mcp_policy *pol, int kind, const char *name);
/* Rate limit for every request of subject, or NULL when none applies. */
const mcp__rate *mcp__policy_principal_rate(const mcp_policy *pol, const char *subject);
/* Rate limit for tools/call of tool per principal, or NULL. */
const mcp__rate *mcp__policy_tool_rate(const mcp_policy *pol, const char *tool);
/* mcp__uri_template_match (common.h) matches resource templates, as the server's dispatcher. */

/* ---- permission rule (permission_rule.c) ---------------------------------------------------- */

/* Does `rule` leave p's permissions exactly as they are, given the store's s[0..n)? (Then the
 * engine needs no new principal.) */
bool mcp__permission_rule_keeps(mcp_permission_rule rule, const mcp_principal *p,
                                const char *const *s, size_t n);
/* mcp_permission_rule_apply(), with `name` (the store's display name, may be NULL) used when p
 * has none. */
mcp_status mcp__permission_rule_build(mcp_permission_rule rule, const mcp_principal *p,
                                      const char *const *s, size_t n, const char *name,
                                      mcp_principal **out, mcp_error *err);
/* The permission rule of the engine whose request this thread is serving, when its principal
 * is p (for the audit line), else NULL. */
const char *mcp__rbac_pinned_rule(const mcp_principal *p);

/* ---- token buckets ----------------------------------------------------------------------- */

typedef struct mcp__ratelimit mcp__ratelimit;

/* Per-tool buckets one principal may own; its further tool names share one overflow bucket. */
#define MCP__RATE_TOOLS_MAX 64

/* A table of at most about max_buckets buckets (each principal counts 1 + its per-tool
 * buckets), hashed with a random seed drawn here (mcp_random_bytes). */
mcp_status mcp__ratelimit_new(size_t max_buckets, mcp__ratelimit **out, mcp_error *err);
void mcp__ratelimit_free(mcp__ratelimit *rl);
/*
 * Take one token, at time now_ms (monotonic), from a bucket of the principal named who
 * (who_len bytes): its own bucket when tool is NULL, else its bucket for tool (tool_len bytes),
 * or its overflow bucket once it owns MCP__RATE_TOOLS_MAX tool buckets (and for names longer
 * than 256 bytes). cfg configures the bucket; NULL (or rate <= 0) means no limit and creates
 * nothing. A new bucket starts full. Returns true when a token was available; otherwise false
 * with *retry_after_s = whole seconds until one will be (>= 1).
 * A principal's buckets are kept and forgotten together: when the table is full, the least
 * recently used entry of *another* principal is forgotten, never the caller's own.
 */
bool mcp__ratelimit_take(mcp__ratelimit *rl, const char *who, size_t who_len, const char *tool,
                         size_t tool_len, const mcp__rate *cfg, uint64_t now_ms,
                         unsigned *retry_after_s);
/* Buckets currently held (for tests). */
size_t mcp__ratelimit_size(mcp__ratelimit *rl);
/* The shard who's buckets live in, 0..15 (for tests: placement depends on the table's seed). */
size_t mcp__ratelimit_shard(const mcp__ratelimit *rl, const char *who, size_t who_len);

/* ---- shared rate limits (ratelimit_shared.c; the PostgreSQL store) ---------------------- */

typedef struct mcp__ratelimit_shared mcp__ratelimit_shared;

/* MCP_ERR_INVALID_ARG unless store is the shared (PostgreSQL) backend. */
mcp_status mcp__ratelimit_shared_new(mcp_store *store, mcp__ratelimit_shared **out,
                                     mcp_error *err);
void mcp__ratelimit_shared_free(mcp__ratelimit_shared *rl);
/* The fixed window cfg becomes: floor(burst) (>= 1) requests per burst / rate seconds (>= 1 s,
 * <= 1 day). */
void mcp__ratelimit_shared_window(const mcp__rate *cfg, int64_t *window_ms, int64_t *limit);
/* Take one request from the shared window of (who, tool) (tool NULL: the principal's own) at
 * now_ms (wall clock, unix ms). MCP_OK: admitted; MCP_ERR_RATE_LIMITED: refused with
 * *retry_after_s (>= 1, until the window ends); another status: the store failed (err set),
 * refuse (fail closed). cfg NULL or rate <= 0: no limit. */
mcp_status mcp__ratelimit_shared_take(mcp__ratelimit_shared *rl, const char *who, size_t who_len,
                                      const char *tool, size_t tool_len, const mcp__rate *cfg,
                                      int64_t now_ms, unsigned *retry_after_s, mcp_error *err);
/* Upserts sent so far (for tests and the documented cost). */
uint64_t mcp__ratelimit_shared_round_trips(mcp__ratelimit_shared *rl);
/* Wall clock in unix ms. */
int64_t mcp__ratelimit_wall_ms(void);

/* ---- SIGHUP ------------------------------------------------------------------------------ */

/* Call fn(ctx) on a background thread after each SIGHUP (at most 8 registrations). */
mcp_status mcp__sighup_register(void (*fn)(void *), void *ctx, mcp_error *err);
/* Remove ctx's registration; waits for a running fn(ctx) to return. */
void mcp__sighup_unregister(void *ctx);

#endif
