/*
 * Server internals shared by src/server, src/protocol and src/transport (mcp__ prefix).
 *
 * Deviation from STYLE.md section 8 ("dependencies point down"): the transports need the session
 * table and the phase runner, and the protocol layer needs the transport's output streams, so all
 * three share this one header instead of each layer hiding its structs. The alternative, a
 * callback interface per layer, would add an indirection on every message for no isolation gain
 * inside one library.
 */
#ifndef MCP_SRC_SERVER_H
#define MCP_SRC_SERVER_H

#include <mcp/server.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common/common.h"
#include "jsonrpc/jsonrpc.h"

typedef struct mcp__session mcp__session;
typedef struct mcp__sink mcp__sink;

/* ---- registry ---------------------------------------------------------------------------- */

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

/* ---- pipeline ---------------------------------------------------------------------------- */

typedef struct mcp__mw {
    mcp_middleware_fn fn;
    void             *ctx;
} mcp__mw;

#define MCP__MW_MAX 16

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
};

/* ---- requests ---------------------------------------------------------------------------- */

typedef const char *(*mcp__header_fn)(void *tctx, const char *name);

struct mcp_request {
    mcp_server          *srv;
    const char          *http_method;
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
    bool                 finished;
};

void mcp__request_init(mcp_request *req, mcp_server *srv);
void mcp__request_cleanup(mcp_request *req);
/* Run the TRANSPORT and AUTHN phases (headers only). MCP_ERR_WOULD_BLOCK: an AUTHN item must
 * block; rerun the AUTHN phase with mcp__run_authn_phase() where req->can_block is true. */
mcp_status mcp__run_pre_phases(mcp_request *req, mcp_error *err);
mcp_status mcp__run_authn_phase(mcp_request *req, mcp_error *err);
/* Report a decision to the hook, if one is installed. */
void mcp__decide(mcp_request *req, const char *phase, mcp_status rc, const char *reason,
                 const char *missing);
/* Map a failing status to an HTTP status code. */
int mcp__status_http(mcp_status rc);

/* ---- sessions ---------------------------------------------------------------------------- */

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
/* Run the AUTHZ middleware items. */
mcp_status mcp__run_authz_phase(mcp_request *req, mcp_error *err);
/* Wait until no worker job runs or is queued, up to ms; true when idle. */
bool mcp__pool_wait_idle(mcp_server *srv, unsigned ms);

/* Transport hooks for session teardown (HTTP closes its streams). */
extern void (*mcp__session_close_hook)(mcp__session *s);
/* Transport hook called by the reaper every MCP__KEEPALIVE_S seconds for each session. */
extern void (*mcp__session_keepalive_hook)(mcp__session *s);
#define MCP__KEEPALIVE_S 15

/* ---- dispatch ---------------------------------------------------------------------------- */

typedef enum mcp__dispatch_result {
    MCP__DISPATCH_DONE,       /* sink got its final message (or nothing to send: see accepted) */
    MCP__DISPATCH_ACCEPTED,   /* notification / response: nothing to send (HTTP 202) */
    MCP__DISPATCH_ASYNC,      /* handed to the worker pool; sink gets the final message later */
} mcp__dispatch_result;

/*
 * After the pre-phases: parse body, AUTHZ, and run the method. Protocol errors are emitted on the
 * sink as JSON-RPC errors. For HTTP, *created_session is set when initialize made a new session
 * (a reference the caller owns). Returns an error status only for failures the transport must map
 * to an HTTP status (FORBIDDEN, RATE_LIMITED, STORE), with err set; nothing is emitted then.
 */
mcp_status mcp__dispatch(mcp_request *req, const char *body, size_t len, mcp__sink *sink,
                         mcp__dispatch_result *res, mcp__session **created_session,
                         json_t **rpc_id, mcp_error *err);

/* ---- worker pool ------------------------------------------------------------------------- */

typedef void (*mcp__job_fn)(void *arg);
mcp_status mcp__pool_submit(mcp_server *srv, mcp__job_fn fn, void *arg);

/* ---- server ------------------------------------------------------------------------------ */

typedef struct mcp__http mcp__http;

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
    int              stop_pipe[2];
    pthread_t        reaper;
    bool             reaper_started;
    mcp__http       *http;
    atomic_int       inflight;          /* requests being handled */
};

/* Start worker threads and the reaper (idempotent). */
mcp_status mcp__server_start(mcp_server *srv, mcp_error *err);
void mcp__http_stop(mcp__http *h, unsigned grace_ms);
void mcp__http_free(mcp__http *h);

/* Allowed by the built-in policy (rule given at registration, or the installed authorizer)? */
bool mcp__authorize(mcp_server *srv, const mcp_principal *p, const char *kind, const char *name,
                    const mcp__access *a, mcp_authz_result *res);
bool mcp__version_supported(const char *v);

#endif
