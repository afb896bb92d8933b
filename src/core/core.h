/*
 * The server core (mcp__ prefix): registry, request, the one pipeline driver, sessions, worker
 * pool. Used by src/protocol, src/transport and src/server; includes only jsonrpc and common.
 *
 * The core knows neither the protocol nor a transport by name. A transport registers its ops
 * (stop, free, session_closed, keepalive) per server with mcp__server_set_transport(); the
 * protocol's entries (route, built-in AUTHZ, handler) are installed per server by src/server
 * (mcp__server_set_handler). A transport drives a request through two calls of the one driver:
 * mcp__run_head() before the body and mcp__run_body() with it.
 */
#ifndef MCP_SRC_CORE_H
#define MCP_SRC_CORE_H

#include <mcp/server.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common/common.h"
#include "jsonrpc/jsonrpc.h"

typedef struct mcp__session mcp__session;
typedef struct mcp__sink mcp__sink;

/* ---- registry (registry.c) --------------------------------------------------------------- */

typedef struct mcp__access {
    char      **any_of;          /* NULL-terminated copies, or NULL */
    char      **all_of;
    bool        any_authenticated;
    mcp_access  view;            /* points at the copies, for mcp_authz_fn */
} mcp__access;

typedef struct mcp__tool {
    char        *name;
    json_t      *listing;        /* the tools/list entry (name, description, schemas, ...) */
    json_t      *input_schema;   /* borrowed from listing */
    void        *input_check;    /* inputSchema compiled by handler.schema_compile, or NULL */
    void        *output_check;   /* outputSchema compiled likewise, or NULL (none declared) */
    mcp__access  access;
    unsigned     flags;
    mcp_tool_fn  fn;
    void        *udata;
} mcp__tool;

typedef struct mcp__resource {
    char          *uri;          /* exact URI or NULL */
    char          *tmpl;         /* template or NULL */
    size_t         specificity;  /* literal bytes of tmpl (mcp__uri_template_specificity) */
    char          *name;
    json_t        *listing;
    mcp__access    access;
    mcp_resource_fn fn;
    void          *udata;
} mcp__resource;

typedef struct mcp__prompt {
    char        *name;
    json_t      *listing;
    mcp__access  access;
    mcp_prompt_fn fn;
    void        *udata;
} mcp__prompt;

/* Free every registered entry (server teardown). */
void mcp__registry_free(mcp_server *srv);
/* At start: with no AUTHN item, log (once) how many registered items need a permission that
 * no caller can have. */
void mcp__registry_warn_unauthenticated(const mcp_server *srv);
/* Allowed by the built-in policy (rule given at registration, or the installed authorizer)?
 * The one authorizer for "may call" (AUTHZ) and "may see" (list filters). */
bool mcp__authorize(mcp_server *srv, const mcp_principal *p, const char *kind, const char *name,
                    const mcp__access *a, mcp_authz_result *res);

/* ---- output sinks ------------------------------------------------------------------------ */

/*
 * Where the messages of one request go: an HTTP response (JSON or SSE stream), a standalone GET
 * stream, or stdout. emit() takes ownership of msg (mcp__alloc'd JSON text).
 */
struct mcp__sink {
    void (*emit)(mcp__sink *s, char *msg, size_t len, bool final);
    void (*close_early)(mcp__sink *s);   /* SEP-1699: end the HTTP stream, keep buffering */
    bool (*can_stream)(mcp__sink *s);    /* may send messages before the response */
    void (*retain)(mcp__sink *s);
    void (*release)(mcp__sink *s);
    bool (*alive)(mcp__sink *s);         /* still connected to its client (NULL: always) */
};

/* ---- pipeline entries -------------------------------------------------------------------- */

/* One entry of a phase: the installed middleware and the built-in steps have the same shape. */
typedef struct mcp__mw {
    mcp_middleware_fn fn;
    void             *ctx;
} mcp__mw;

#define MCP__MW_MAX 16

/* ---- requests (request.c) ---------------------------------------------------------------- */

typedef const char *(*mcp__header_fn)(void *tctx, const char *name);

/* What the transport of a request can do (mcp_request.caps). */
enum {
    /* Sessions are created by initialize and named by a header on every later request: a
     * request without one (other than initialize) is refused, and a session is bound to the
     * principal that created it (HTTP). Without it the transport owns one session (stdio). */
    MCP__CAP_HEADER_SESSIONS = 1u << 0,
    /* No headers at all (stdio): a 2026-07-28 request is known by its params._meta version
     * alone, and the header mirrors (MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Param-*,
     * Accept) are neither required nor checked. */
    MCP__CAP_HEADERLESS = 1u << 1,
};

typedef enum mcp__dispatch_result {
    MCP__DISPATCH_DONE,       /* sink got its final message (or nothing to send: see accepted) */
    MCP__DISPATCH_ACCEPTED,   /* notification / response: nothing to send (HTTP 202) */
    MCP__DISPATCH_ASYNC,      /* handed to the worker pool; sink gets the final message later */
} mcp__dispatch_result;

struct mcp_request {
    mcp_server          *srv;
    const char          *http_method;  /* "POST", "GET", "DELETE", or "STDIO" */
    const char          *path;         /* request path (HTTP), or NULL */
    unsigned             caps;         /* MCP__CAP_* of the transport */
    bool                 has_body;     /* a JSON-RPC message follows (POST, stdio line) */
    mcp__header_fn       header;       /* transport's header lookup */
    void                *tctx;
    const char          *peer;
    const char          *session_id;   /* as presented by the client */
    mcp__session        *session;      /* resolved (ref held by the transport), or NULL */
    const mcp_principal *principal;    /* own reference */
    mcp__rpc_msg         msg;          /* after parsing */
    const char          *target;       /* tool/prompt name or URI (borrowed from msg) */
    bool                 target_known; /* target names a registered entry */
    bool                 can_block;    /* not on an IO thread (worker, stdio reader) */
    char                *challenge_error;
    char                *challenge_scope;
    char                 missing[MCP_ERROR_MSG_MAX]; /* permissions a denied target needed */
    unsigned             retry_after;
    char                 cred_key[72]; /* "cred:" + mcp_request_note_credential() name */
    unsigned             http_status;  /* set by a check that answers with its own status */
    bool                 finished;
    /* head pipeline state */
    const mcp__mw       *checks;       /* the transport's TRANSPORT-phase entries, run first */
    size_t               nchecks;
    unsigned             head_stage;
    /* body pipeline state (valid during mcp__run_body) */
    mcp__sink           *sink;
    mcp__dispatch_result outcome;
    mcp__session        *created;      /* initialize made a session (reference), or NULL */
    const void          *method;       /* the protocol's method entry, set by its route step */
    /* protocol revision 2026-07-28 (docs/design/protocol-2026.md) */
    unsigned             era;          /* MCP__REQ_* from the MCP-Protocol-Version header */
    char                 head_method[64]; /* 2026: Mcp-Method, when the head phase decided */
    char                *head_target;  /* 2026: decoded Mcp-Name (owned), or NULL */
    bool                 authz_done;   /* AUTHZ ran in the head phase, from the headers */
    json_t              *err_data;     /* error.data of a failure the transport answers (owned) */
};

/* The era of a request (mcp_request.era), chosen by the transport from its version header. */
enum {
    MCP__REQ_LEGACY,      /* 2025 revisions (or no header): initialize + sessions */
    MCP__REQ_MODERN,      /* 2026-07-28: stateless, per-request _meta */
    MCP__REQ_UNSUPPORTED, /* a version this server does not speak: -32022 once the id is read */
};
#define MCP__PV_MODERN "2026-07-28"

void mcp__request_init(mcp_request *req, mcp_server *srv);
void mcp__request_cleanup(mcp_request *req);
/* A check refuses the request with its own HTTP status (405, 406, 415, ...) and a JSON-RPC
 * Invalid Request error; returns code so a check can `return mcp__reject(...)`. */
mcp_status mcp__reject(mcp_request *req, mcp_error *err, mcp_status code, unsigned http_status,
                       const char *message);
/* Report a decision to the hook, if one is installed. */
void mcp__decide(mcp_request *req, const char *phase, mcp_status rc, const char *reason,
                 const char *missing);
/* Map a failing status to an HTTP status code (the table in common/error.c). */
int mcp__status_http(mcp_status rc);
/* Legacy protocol revisions this server speaks (request headers, initialize). */
bool mcp__version_supported(const char *v);
/* The era a version header selects (NULL: absent -> legacy). */
unsigned mcp__era_of_header(const char *pv);

/* ---- the pipeline driver (pipeline.c) ---------------------------------------------------- */

/*
 * The head pipeline, before any body is read: req->checks (the transport's table), the
 * TRANSPORT items, the AUTHN items, the session owner check (MCP__CAP_HEADER_SESSIONS), and,
 * for a request without a body (GET/DELETE: the method is known now) or one whose headers name
 * its method and target (2026-07-28, the protocol's head_route entry), the AUTHZ phase.
 * MCP_ERR_WOULD_BLOCK: an AUTHN item must block; run mcp__run_head_authn() where blocking is
 * allowed (req->can_block true), then call mcp__run_head() again to continue after AUTHN.
 * A failure with req->http_status set came from a check that chose its HTTP status.
 */
mcp_status mcp__run_head(mcp_request *req, mcp_error *err);
mcp_status mcp__run_head_authn(mcp_request *req, mcp_error *err);

/*
 * The body pipeline: parse the message, the protocol's route step, the AUTHZ items and the
 * built-in AUTHZ entry, then the HANDLER. Protocol errors are emitted on the sink as JSON-RPC
 * errors. *created is set when initialize made a new session (a reference the caller owns).
 * Returns an error status only for failures the transport must map itself (FORBIDDEN,
 * RATE_LIMITED, STORE, a bad envelope, ...), with err set; nothing is emitted then.
 */
mcp_status mcp__run_body(mcp_request *req, const char *body, size_t len, mcp__sink *sink,
                         mcp__dispatch_result *res, mcp__session **created, json_t **rpc_id,
                         mcp_error *err);

/* The protocol's entries, installed by src/server. Each is a pipeline entry: it reads the
 * request (req->sink, req->outcome, req->created are its output) and fails closed. */
typedef struct mcp__handler_entries {
    mcp__mw route;       /* after parsing: responses, notifications, lifecycle, the target */
    mcp__mw authorize;   /* the built-in AUTHZ entry, after the installed AUTHZ items */
    mcp__mw handler;     /* the HANDLER phase: exactly one handler produces the result */
    /* In the head phase of a request with a body, after AUTHN: names the method and target
     * from the request headers when the revision has them (2026-07-28 Mcp-Method/Mcp-Name),
     * setting req->head_method; AUTHZ then runs before the body is read, and the body phase
     * must prove the body says the same (route). May be NULL. */
    mcp__mw head_route;
    /* The protocol's JSON Schema compiler, called by the registry when a tool is added (a bad
     * schema is a registration error naming its path); root names the schema in messages. */
    mcp_status (*schema_compile)(const json_t *schema, const char *root, void **out,
                                 mcp_error *err);
    void (*schema_free)(void *compiled);
} mcp__handler_entries;

void mcp__server_set_handler(mcp_server *srv, const mcp__handler_entries *h);

/* ---- sessions (session.c) ---------------------------------------------------------------- */

typedef struct mcp__pending {
    struct mcp__pending *next;
    json_int_t       id;
    pthread_cond_t   cond;
    json_t          *result;     /* owned */
    json_t          *error;      /* owned */
    bool             done;
} mcp__pending;

struct mcp__session {
    atomic_int       refs;
    char             id[40];
    char             version[16];
    char            *owner;             /* principal owner key, or NULL */
    json_t          *client_caps;
    pthread_mutex_t  mu;
    int              log_level;
    bool             initialized;
    bool             closed;
    char           **subs;              /* subscribed URIs */
    size_t           nsubs;
    mcp__pending    *pending;
    json_int_t       next_req_id;
    struct mcp_ctx  *inflight;          /* running handlers (for cancellation) */
    mcp__sink       *standalone;        /* GET stream (retained) or stdio writer */
    void            *transport_data;    /* HTTP: replayable streams */
    uint64_t         last_active_ms;
    uint64_t         seq;                /* creation order (ties of last_active_ms) */
    struct mcp__session *hnext;         /* hash chain */
};

mcp__session *mcp__session_new(mcp_server *srv, const char *owner);
mcp__session *mcp__session_find(mcp_server *srv, const char *id);   /* returns a reference */
void mcp__session_ref(mcp__session *s);
void mcp__session_unref(mcp__session *s);
void mcp__session_remove(mcp_server *srv, mcp__session *s);        /* DELETE / reap */
void mcp__session_touch(mcp__session *s);
/* Send a notification to a session's standalone stream; steals params. */
void mcp__session_notify(mcp__session *s, const char *method, json_t *params);
/* Wake every handler waiting on a server->client request (cancel / close). */
void mcp__session_wake_pending(mcp__session *s);
/* Call fn for every session (references collected under the table lock, fn called outside). */
void mcp__session_foreach(mcp_server *srv, void (*fn)(mcp__session *, void *), void *arg);
/* Sessions open now (taken under the table lock). */
size_t mcp__server_nsessions(mcp_server *srv);
/* Remove every session (server teardown). */
void mcp__sessions_clear(mcp_server *srv);
/* Shutdown past its grace period: every handler waiting on a server->client request (sampling,
 * elicitation, roots) stops waiting now and gets MCP_ERR_CANCELLED, and later requests fail at
 * once, so the handler answers its caller and the worker can be joined. */
void mcp__server_abort_waits(mcp_server *srv);
/* The reaper thread (also in stateless mode): idle sessions, the transport's tick every second,
 * its per-session keep-alives every MCP__KEEPALIVE_S seconds. */
void *mcp__reaper_main(void *arg);
#define MCP__KEEPALIVE_S 15

/* ---- subscriptions/listen streams (listen.c) --------------------------------------------- */

/* What a 2026-07-28 listen stream asked for and was granted (mcp__listener.kinds). */
enum { MCP__LISTEN_TOOLS = 1u << 0, MCP__LISTEN_PROMPTS = 1u << 1,
       MCP__LISTEN_RESOURCES = 1u << 2 };
#define MCP__LISTENERS_MAX 4096

typedef struct mcp__listener {
    struct mcp__listener *next;
    mcp__sink *sink;            /* retained */
    json_t    *sub_id;          /* the listen request's id (reference) */
    unsigned   kinds;           /* MCP__LISTEN_* */
    json_t    *uris;            /* resource URIs (array, reference) or NULL */
    char      *final_msg;       /* the result sent when the server ends the stream (owned) */
    size_t     final_len;
} mcp__listener;

/* Register a listener (the list takes l and its references); MCP_ERR_RATE_LIMITED when
 * MCP__LISTENERS_MAX live listeners exist. Dead ones (sink no longer alive) are swept first. */
mcp_status mcp__listener_add(mcp_server *srv, mcp__listener *l);
/* A change: every live listener that asked for it gets method, tagged with its subscription
 * id (uri: notifications/resources/updated for that URI, kind ignored). */
void mcp__listeners_notify(mcp_server *srv, unsigned kind, const char *method, const char *uri);
/* Server shutdown: every listener gets its final result, then the list is emptied. */
void mcp__listeners_close(mcp_server *srv);

/* ---- suspicious activity (authn_guard.c) ------------------------------------------------- */

/* Slots of the failed-authentication table: bounded, the stalest entry makes room. */
#define MCP__FAIL_SLOTS 4096
/* Count one failed authentication of peer (called from the AUTHN decision). */
void mcp__authn_fail_record(mcp_server *srv, const char *peer);
/* 0 when peer may try to authenticate; else the seconds until it may (its Retry-After). */
unsigned mcp__authn_fail_blocked(mcp_server *srv, const char *peer);
void mcp__authn_fail_free(mcp_server *srv);

/* ---- worker pool (pool.c) ---------------------------------------------------------------- */

typedef void (*mcp__job_fn)(void *arg);
mcp_status mcp__pool_submit(mcp_server *srv, mcp__job_fn fn, void *arg);
/* Wait until no worker job runs or is queued, up to ms; true when idle. */
bool mcp__pool_wait_idle(mcp_server *srv, unsigned ms);
/* Join the workers (server teardown). */
void mcp__pool_stop(mcp_server *srv);
/* Start worker threads and the reaper (idempotent). */
mcp_status mcp__server_start(mcp_server *srv, mcp_error *err);

/* ---- transports -------------------------------------------------------------------------- */

/* What the core asks of the transport registered on a server (like the client's mcp__tr_ops). */
typedef struct mcp__transport_ops {
    /* stop accepting, let in-flight work finish within grace_ms, end the streams */
    void (*stop)(void *tr, unsigned grace_ms);
    /* free the transport state (after stop, once the workers are joined) */
    void (*free)(void *tr);
    /* a session was removed: end its streams */
    void (*session_closed)(void *tr, mcp__session *s);
    /* called by the reaper every MCP__KEEPALIVE_S seconds for each session (may be NULL) */
    void (*keepalive)(void *tr, mcp__session *s);
    /* called by the reaper about once a second, with or without sessions (may be NULL) */
    void (*tick)(void *tr);
} mcp__transport_ops;

/* Register the transport of srv; MCP_ERR_STATE when one is registered already. */
mcp_status mcp__server_set_transport(mcp_server *srv, const mcp__transport_ops *ops, void *tr,
                                     mcp_error *err);

/* ---- the server object ------------------------------------------------------------------- */

struct mcp_server {
    char            *name, *version, *title, *instructions;
    mcp_server_opts  opts;

    mcp__tool       *tools;
    size_t           ntools, captools;
    mcp__resource   *resources;
    size_t           nresources, capresources;
    mcp__prompt     *prompts;
    size_t           nprompts, capprompts;
    mcp_complete_fn  completer;
    void            *completer_udata;
    mcp_authz_fn     authorizer;
    void            *authorizer_ctx;
    mcp_decision_fn  decision_fn;
    void            *decision_ctx;
    size_t           page_size;

    mcp__mw          mw[MCP_PHASE_COUNT_][MCP__MW_MAX];
    size_t           nmw[MCP_PHASE_COUNT_];
    mcp__handler_entries handler;       /* installed by src/server */

    /* sessions */
    pthread_mutex_t  sess_mu;
    mcp__session   **sess_tab;
    size_t           sess_cap, nsessions;
    uint64_t         sess_seq;

    /* workers */
    pthread_mutex_t  pool_mu;
    pthread_cond_t   pool_cv;
    pthread_cond_t   pool_idle_cv;
    struct mcp__job *jobs_head, *jobs_tail;
    pthread_t       *threads;
    unsigned         nthreads;
    unsigned         busy;
    bool             pool_stop;

    /* lifecycle */
    atomic_bool      running;
    atomic_bool      stop_requested;
    atomic_bool      waits_aborted;  /* shutdown past its grace: server->client requests fail */
    int              stop_pipe[2];
    pthread_t        reaper;
    bool             reaper_started;
    const mcp__transport_ops *tr_ops;   /* the registered transport, or NULL */
    void            *tr;
    atomic_int       inflight;          /* requests being handled */

    /* the protocol's per-server state (requestState keys), owned by src/protocol */
    void            *proto;
    /* 2026-07-28 subscriptions/listen streams (listen.c) */
    pthread_mutex_t  listen_mu;
    mcp__listener   *listeners;
    size_t           nlisteners;

    /* failed authentications per client address (authn_guard.c) */
    pthread_mutex_t  fail_mu;
    struct mcp__fail_entry *fail_tab;   /* MCP__FAIL_SLOTS entries, allocated on first failure */
};

#endif
