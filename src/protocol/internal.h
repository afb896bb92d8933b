/* Private to src/protocol: the handler context and the helpers the method families share. */
#ifndef MCP_SRC_PROTOCOL_INTERNAL_H
#define MCP_SRC_PROTOCOL_INTERNAL_H

#include "core/core.h"
#include "protocol/protocol.h"

#define MAX_URI_VARS 8

typedef enum ctx_kind { CTX_TOOL, CTX_RESOURCE, CTX_PROMPT, CTX_COMPLETE } ctx_kind;

struct mcp_ctx {
    mcp_server          *srv;
    mcp__session        *sess;        /* reference or NULL */
    const mcp_principal *principal;   /* reference or NULL */
    mcp__sink           *sink;        /* retained */
    json_t              *root;        /* the request message (reference) */
    json_t              *id;          /* borrowed from root */
    json_t              *args;        /* borrowed or owned empty object */
    json_t              *progress_token;
    ctx_kind             kind;
    const mcp__tool     *tool;
    const mcp__resource *resource;
    const mcp__prompt   *prompt;
    const char          *target;
    json_t              *result;      /* the result object being built */
    json_t              *list;        /* content / contents / messages / values (borrowed) */
    json_t              *mirror;      /* the text item of mcp_ctx_add_structured_text (in list,
                                         borrowed), or NULL */
    bool                 custom_result;
    atomic_bool          cancelled;
    struct mcp_ctx      *next_inflight;
    size_t               nvars;
    char                *var_names[MAX_URI_VARS];
    char                *var_values[MAX_URI_VARS];
    char                 version[16];
    /* protocol 2026-07-28 (modern.c, input.c) */
    bool                 modern;       /* the request is stateless 2026-07-28 */
    int                  cache;        /* MCP__PR_CACHE_* of the result */
    unsigned             client_caps;  /* MCP__CAP_* bits (meta.h) */
    int                  log_threshold; /* 2026: _meta logLevel, -1 = no log messages */
    char                 method[32];   /* the client's method (state binding) */
    json_t              *responses;    /* borrowed params.inputResponses, or NULL */
    json_t              *answers;      /* owned: answers accepted so far (state + this round) */
    json_t              *asks;         /* owned: inputRequests of this round */
    json_t              *state;        /* owned: the handler's own state (mcp_ctx_state) */
    unsigned             missing_caps; /* asks refused for lack of a client capability */
    unsigned             auto_key;     /* keys of mcp_ctx_request() in 2026: r1, r2, ... */
};

/* How a 2026 result is marked for caches (SEP-2549). */
enum {
    MCP__PR_CACHE_NONE,     /* not a CacheableResult */
    MCP__PR_CACHE_CALLER,   /* may differ between callers: private when auth is configured */
    MCP__PR_CACHE_PUBLIC,   /* the same for every caller */
    MCP__PR_CACHE_PRIVATE,  /* cacheable, but only for this caller (a read after input rounds) */
};

static inline const char *
mcp__pr_str_param(const json_t *params, const char *k)
{
    return json_string_value(json_object_get(params, k));
}

/* ---- answers (ctx.c) --------------------------------------------------------------------- */

void mcp__pr_emit_result(mcp__sink *sink, const json_t *id, json_t *result);   /* steals result */
void mcp__pr_emit_error(mcp__sink *sink, const json_t *id, int32_t code, const char *message);
/* Emit result (stolen) when non-NULL, else the error code/msg; returns MCP_OK. */
mcp_status mcp__pr_reply(mcp_request *req, json_t *result, int32_t code, const char *msg);

/* ---- the handler context (ctx.c) --------------------------------------------------------- */

mcp_ctx *mcp__pr_ctx_new(mcp_request *req, mcp__sink *sink, ctx_kind kind);
void mcp__pr_ctx_free(mcp_ctx *c);
void mcp__pr_finish_handler(mcp_ctx *c, mcp_status rc, mcp_error *err);
/* Run the handler of entry inline or on the worker pool; the sink gets its answer. */
mcp__dispatch_result mcp__pr_start_handler(mcp_request *req, mcp__sink *sink, ctx_kind kind,
                                           const void *entry, bool inline_ok);
int mcp__pr_level_from_name(const char *s);

/* ---- protocol 2026-07-28 (modern.c) ------------------------------------------------------ */

/* Add resultType, _meta serverInfo and (cache != NONE) ttlMs/cacheScope to a 2026 result. */
void mcp__pr_decorate(mcp_server *srv, json_t *result, int cache);
/* Emit a 2026 result (stolen) decorated so: the decoration's bytes prepared at setup appended to
 * the dumped result when it has none of those members (the common case), else decorate + emit. */
void mcp__pr_emit_decorated(mcp_server *srv, mcp__sink *sink, const json_t *id, json_t *result,
                            int cache);
/* The decoration of result as members serialized at setup (*tail, borrowed), or false when the
 * result has decoration members of its own (then mcp__pr_decorate merges). */
bool mcp__pr_decoration(mcp_server *srv, const json_t *result, int cache, const char **tail,
                        size_t *tlen);
/* Server capabilities (initialize; modern: server/discover, without the notification
 * capabilities that a 2026 client reaches only through subscriptions/listen). */
json_t *mcp__pr_server_caps(mcp_server *srv, bool modern);
/* The cache kind of the request's method row (methods.c). */
int mcp__pr_method_cache(const mcp_request *req);
/* 2026: open the request's requestState into c (answers, state); -32602 when it fails. */
mcp_status mcp__pr_input_begin(mcp_ctx *c, mcp_error *err);
/* 2026: the InputRequiredResult of a handler that returned MCP_ERR_INPUT_REQUIRED, or NULL
 * with err set. */
json_t *mcp__pr_input_result(mcp_ctx *c, mcp_error *err);
/* error.data for -32021 from c->missing_caps (new reference or NULL). */
json_t *mcp__pr_missing_caps_data(const mcp_ctx *c);
void mcp__pr_emit_error_data(mcp__sink *sink, const json_t *id, int32_t code,
                             const char *message, json_t *data);

/* ---- lookups (tools.c, prompts.c, resources.c) ------------------------------------------- */

const mcp__tool *mcp__pr_find_tool(mcp_server *srv, const char *name);
const mcp__prompt *mcp__pr_find_prompt(mcp_server *srv, const char *name);
/* Exact URI first, else the most specific matching template; ctx (optional) gets its vars. */
const mcp__resource *mcp__pr_find_resource(mcp_server *srv, const char *uri, mcp_ctx *ctx);

/* ---- validation and lists (validate.c, methods.c) ---------------------------------------- */

/* JSON Schema (schema.c) as the registry's compiler hook, and the checks of a tool's
 * arguments (inputSchema) and structured content (outputSchema, when declared). */
mcp_status mcp__pr_schema_compile(const json_t *schema, const char *root, void **out,
                                  mcp_error *err);
void mcp__pr_schema_free(void *compiled);
bool mcp__pr_validate_args(const mcp__tool *t, const json_t *args, char *why, size_t whylen);
bool mcp__pr_validate_structured(const mcp__tool *t, const json_t *sc, char *why,
                                 size_t whylen);
bool mcp__pr_parse_cursor(const json_t *params, size_t *offset);
void mcp__pr_set_next_cursor(json_t *result, size_t next);
typedef json_t *(*listing_at_fn)(mcp_server *srv, size_t i, const mcp_principal *p, bool *ok);
/* "May see": entries filtered by mcp__authorize(), then paginated. */
json_t *mcp__pr_list(mcp_request *req, size_t n, listing_at_fn at, const char *key, int32_t *code,
                     const char **msg);

/* ---- cached lists (list_cache.c) --------------------------------------------------------- */

enum { MCP__LIST_TOOLS, MCP__LIST_PROMPTS, MCP__LIST_RESOURCES, MCP__LIST_TEMPLATES };
typedef struct mcp__list_cache mcp__list_cache;
mcp__list_cache *mcp__list_cache_new(void);
void mcp__list_cache_free(mcp__list_cache *lc);
/* Lookups answered from the cache and not (tests). */
void mcp__list_cache_stats(mcp__list_cache *lc, uint64_t *hits, uint64_t *misses);
/* The server's list cache (modern.c keeps it with the protocol's per-server state), or NULL. */
mcp__list_cache *mcp__pr_lists(mcp_server *srv);
/* Answer a list request (which: MCP__LIST_*): mcp__pr_list() and mcp__pr_reply(), or the same
 * bytes from the cache when the caller's permission set and the generations match. */
mcp_status mcp__pr_list_reply(mcp_request *req, unsigned which, size_t n, listing_at_fn at,
                              const char *key);

/* ---- the methods (one file per family) --------------------------------------------------- */

typedef mcp_status (*mcp__method_fn)(mcp_request *req, mcp_error *err);

mcp_status mcp__m_initialize(mcp_request *req, mcp_error *err);
mcp_status mcp__m_ping(mcp_request *req, mcp_error *err);
mcp_status mcp__m_set_level(mcp_request *req, mcp_error *err);
mcp_status mcp__m_tools_list(mcp_request *req, mcp_error *err);
mcp_status mcp__m_tools_call(mcp_request *req, mcp_error *err);
mcp_status mcp__m_resources_list(mcp_request *req, mcp_error *err);
mcp_status mcp__m_templates_list(mcp_request *req, mcp_error *err);
mcp_status mcp__m_resources_read(mcp_request *req, mcp_error *err);
mcp_status mcp__m_subscribe(mcp_request *req, mcp_error *err);
mcp_status mcp__m_unsubscribe(mcp_request *req, mcp_error *err);
mcp_status mcp__m_prompts_list(mcp_request *req, mcp_error *err);
mcp_status mcp__m_prompts_get(mcp_request *req, mcp_error *err);
mcp_status mcp__m_complete(mcp_request *req, mcp_error *err);
mcp_status mcp__m_discover(mcp_request *req, mcp_error *err);
mcp_status mcp__m_listen(mcp_request *req, mcp_error *err);
/* Messages that get no answer (lifecycle.c). */
void mcp__pr_handle_response(mcp_request *req);
void mcp__pr_handle_notification(mcp_request *req);

#endif
