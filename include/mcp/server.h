/*
 * libmcp: the MCP server.
 *
 * A server holds a registry of tools, resources and prompts (read-only once it runs), a pipeline
 * of fixed phases (transport -> authn -> authz -> handler, STYLE.md section 10) and one or more
 * transports: Streamable HTTP (libmicrohttpd) or stdio.
 *
 * JSON values in this API are jansson's json_t. A `const json_t *` argument is borrowed for the
 * call; a `json_t *` given to a function named *_take or documented "steals" becomes the
 * library's, even when the call fails.
 */
#ifndef MCP_SERVER_H
#define MCP_SERVER_H

#include <jansson.h>
#include <mcp/auth.h>
#include <mcp/common.h>
#include <mcp/pipeline.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_server mcp_server;
typedef struct mcp_ctx mcp_ctx;         /* a handler's view of its request */

/* Protocol versions this server negotiates, newest first. */
#define MCP_PROTOCOL_LATEST "2025-11-25"

typedef enum mcp_log_level {
    MCP_LOG_DEBUG = 0, MCP_LOG_INFO, MCP_LOG_NOTICE, MCP_LOG_WARNING,
    MCP_LOG_ERROR, MCP_LOG_CRITICAL, MCP_LOG_ALERT, MCP_LOG_EMERGENCY
} mcp_log_level;

/* ------------------------------------------------------------------------------------------ */
/* Options                                                                                    */

typedef struct mcp_server_opts {
    const char *name;             /* serverInfo.name (default "libmcp") */
    const char *version;          /* serverInfo.version (default MCP_VERSION_STRING) */
    const char *title;            /* serverInfo.title, optional */
    const char *instructions;     /* initialize result `instructions`, optional */
    unsigned    workers;          /* handler worker threads (default 2 x cores) */
    unsigned    request_timeout_ms; /* server->client request timeout (default 60000) */
    size_t      max_sessions;     /* default 10000 */
    size_t      max_sessions_per_owner; /* per authenticated principal; past it the principal's
                                           least recently active idle session is closed
                                           (default 64; 0 = no per-principal limit) */
    unsigned    session_idle_s;   /* idle sessions are reaped after this (default 1800) */
    bool        stateless;        /* no sessions; each POST stands alone; GET answers 405 */
} mcp_server_opts;

/** Fill o with the defaults above. @since 0.1 */
MCP_EXTERN void mcp_server_opts_default(mcp_server_opts *o);

/**
 * Create a server. Strings in opts are copied.
 * @return MCP_OK, MCP_ERR_INVALID_ARG or MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_server_new(const mcp_server_opts *opts, mcp_server **out, mcp_error *err);
/** Stop every transport, wait for in-flight handlers, free everything. NULL is allowed. */
MCP_EXTERN void mcp_server_free(mcp_server *srv);
/**
 * Change the number of handler worker threads (mcp_server_opts.workers) after creation, e.g. from
 * a command-line flag parsed later. Only before the server runs (the first listen/run starts
 * the workers). Not thread-safe: call from the thread that set the server up.
 * @return MCP_OK, MCP_ERR_INVALID_ARG (NULL server or 0 workers), or MCP_ERR_STATE once running.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_server_set_workers(mcp_server *srv, unsigned workers, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Authorization requirements shared by tools, resources and prompts                          */

/*
 * Every definition must say who may use it: a NULL-terminated any_of_perms list (caller needs one),
 * an all_of_perms list (caller needs each), or any_authenticated = true (any caller that passed
 * authentication; with authentication off, anyone). A definition with none of them is rejected
 * with MCP_ERR_INVALID_ARG: forgetting the policy never makes something public.
 */
typedef struct mcp_access {
    const char *const *any_of_perms;
    const char *const *all_of_perms;
    bool               any_authenticated;
} mcp_access;

/* ------------------------------------------------------------------------------------------ */
/* Tools                                                                                      */

/**
 * A tool handler. Borrow args via mcp_ctx_args(); build the result with mcp_ctx_add_*() /
 * mcp_ctx_set_structured() / mcp_ctx_set_error_result(). Returning a status other than MCP_OK
 * sends a JSON-RPC error: MCP_ERR_INVALID_ARG -> -32602 with err->message, MCP_ERR_NOT_FOUND ->
 * -32602, anything else -> -32603 "internal error" (the message is logged, not sent).
 */
typedef mcp_status (*mcp_tool_fn)(mcp_ctx *ctx, void *udata, mcp_error *err);

enum {
    /* The handler never blocks and emits no notifications: run it on the HTTP thread
     * (saves a hand-off to the worker pool). Default: run on the worker pool. */
    MCP_TOOL_INLINE = 1u << 0
};

typedef struct mcp_tool_def {
    const char *name;           /* required */
    const char *title;
    const char *description;    /* required, non-empty */
    const char *input_schema;   /* JSON text; default {"type":"object","properties":{}} */
    const char *output_schema;  /* JSON text, optional */
    const char *annotations;    /* JSON text, optional (readOnlyHint, ...) */
    mcp_access  access;
    unsigned    flags;          /* MCP_TOOL_* */
    mcp_tool_fn handler;        /* required */
} mcp_tool_def;

/** Register a tool; def is copied, udata is passed to the handler. @since 0.1 */
MCP_EXTERN mcp_status mcp_server_add_tool(mcp_server *srv, const mcp_tool_def *def, void *udata, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Resources                                                                                  */

/** Read a resource: add contents with mcp_ctx_add_resource_text()/_blob(). */
typedef mcp_status (*mcp_resource_fn)(mcp_ctx *ctx, const char *uri, void *udata, mcp_error *err);

typedef struct mcp_resource_def {
    const char *uri;            /* exact URI, or NULL when uri_template is set */
    const char *uri_template;   /* RFC 6570 level-1 template such as "test://item/{id}" */
    const char *name;           /* required */
    const char *title;
    const char *description;
    const char *mime_type;
    mcp_access  access;
    mcp_resource_fn handler;    /* required */
} mcp_resource_def;

MCP_EXTERN mcp_status mcp_server_add_resource(mcp_server *srv, const mcp_resource_def *def, void *udata,
                                   mcp_error *err);
/** Value of a template variable of the resource being read (borrowed until the handler returns). */
MCP_EXTERN const char *mcp_ctx_uri_var(const mcp_ctx *ctx, const char *name);
/** Tell subscribers of uri that it changed (notifications/resources/updated). Thread-safe. */
MCP_EXTERN void mcp_server_notify_resource_updated(mcp_server *srv, const char *uri);
/** Broadcast notifications/{tools,resources,prompts}/list_changed; kind is "tools" etc. */
MCP_EXTERN void mcp_server_notify_list_changed(mcp_server *srv, const char *kind);

/* ------------------------------------------------------------------------------------------ */
/* Prompts                                                                                    */

typedef mcp_status (*mcp_prompt_fn)(mcp_ctx *ctx, void *udata, mcp_error *err);

typedef struct mcp_prompt_arg {
    const char *name;
    const char *description;
    bool        required;
} mcp_prompt_arg;

typedef struct mcp_prompt_def {
    const char *name;           /* required */
    const char *title;
    const char *description;    /* required, non-empty */
    const mcp_prompt_arg *args; /* array terminated by an entry with name == NULL; optional */
    mcp_access  access;
    mcp_prompt_fn handler;      /* required; adds messages with mcp_ctx_add_prompt_message() */
} mcp_prompt_def;

MCP_EXTERN mcp_status mcp_server_add_prompt(mcp_server *srv, const mcp_prompt_def *def, void *udata,
                                 mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Completion                                                                                 */

/**
 * completion/complete. ref_type is "ref/prompt" or "ref/resource", ref_name the prompt name or
 * URI template. Add values with mcp_ctx_add_completion(). Without a completer, the result is empty.
 */
typedef mcp_status (*mcp_complete_fn)(mcp_ctx *ctx, const char *ref_type, const char *ref_name,
                                      const char *arg_name, const char *arg_value, void *udata,
                                      mcp_error *err);
MCP_EXTERN void mcp_server_set_completer(mcp_server *srv, mcp_complete_fn fn, void *udata);

/* ------------------------------------------------------------------------------------------ */
/* The handler context                                                                        */

/** Arguments of tools/call or prompts/get (an object; never NULL). Borrowed for the handler. */
MCP_EXTERN const json_t *mcp_ctx_args(const mcp_ctx *ctx);
/** String argument, or NULL when missing or not a string. */
MCP_EXTERN const char *mcp_ctx_arg_str(const mcp_ctx *ctx, const char *name);
/** Integer argument. @return MCP_OK or MCP_ERR_INVALID_ARG (missing / not an integer). */
MCP_EXTERN mcp_status mcp_ctx_arg_int(const mcp_ctx *ctx, const char *name, int64_t *out, mcp_error *err);
/** The caller; NULL only when the server runs without authentication. Valid for the handler. */
MCP_EXTERN const mcp_principal *mcp_ctx_principal(const mcp_ctx *ctx);
/** Session id (NULL in stateless mode and on stdio). */
MCP_EXTERN const char *mcp_ctx_session_id(const mcp_ctx *ctx);
/** Name of the tool / prompt, or URI of the resource, being served. */
MCP_EXTERN const char *mcp_ctx_target(const mcp_ctx *ctx);

/* Result building. Each returns MCP_OK or MCP_ERR_NOMEM. */
MCP_EXTERN mcp_status mcp_ctx_add_text(mcp_ctx *ctx, const char *text, mcp_error *err);
MCP_EXTERN mcp_status mcp_ctx_add_image(mcp_ctx *ctx, const char *base64, const char *mime, mcp_error *err);
MCP_EXTERN mcp_status mcp_ctx_add_audio(mcp_ctx *ctx, const char *base64, const char *mime, mcp_error *err);
/** An embedded resource content item; text (or base64 blob when blob is true). */
MCP_EXTERN mcp_status mcp_ctx_add_embedded(mcp_ctx *ctx, const char *uri, const char *mime, const char *data,
                                bool blob, mcp_error *err);
/** Add any content item (steals item). */
MCP_EXTERN mcp_status mcp_ctx_add_content_take(mcp_ctx *ctx, json_t *item, mcp_error *err);
/** structuredContent (steals value; also mirrored as text content when no content was added). */
MCP_EXTERN mcp_status mcp_ctx_set_structured_take(mcp_ctx *ctx, json_t *value, mcp_error *err);
/** Mark the tool result isError:true and add text explaining why (sent to the model). */
MCP_EXTERN mcp_status mcp_ctx_set_error_result(mcp_ctx *ctx, const char *text, mcp_error *err);
/** Resource contents: text or base64 blob. */
MCP_EXTERN mcp_status mcp_ctx_add_resource_text(mcp_ctx *ctx, const char *uri, const char *mime,
                                     const char *text, mcp_error *err);
MCP_EXTERN mcp_status mcp_ctx_add_resource_blob(mcp_ctx *ctx, const char *uri, const char *mime,
                                     const char *base64, mcp_error *err);
/** A prompt message: role "user" or "assistant"; content is a content item (stolen). */
MCP_EXTERN mcp_status mcp_ctx_add_prompt_message_take(mcp_ctx *ctx, const char *role, json_t *content,
                                           mcp_error *err);
/** One completion value. */
MCP_EXTERN mcp_status mcp_ctx_add_completion(mcp_ctx *ctx, const char *value, mcp_error *err);
/** Replace the whole result object (steals result). The escape hatch for anything else. */
MCP_EXTERN mcp_status mcp_ctx_set_result_take(mcp_ctx *ctx, json_t *result, mcp_error *err);

/* Messages while the handler runs. Over HTTP, these switch the response to an SSE stream. */

/** notifications/message at level (dropped when below the session's logging/setLevel). */
MCP_EXTERN mcp_status mcp_ctx_log(mcp_ctx *ctx, mcp_log_level level, const char *logger, const char *text,
                       mcp_error *err);
/** notifications/progress, only when the request carried _meta.progressToken (else a no-op). */
MCP_EXTERN mcp_status mcp_ctx_progress(mcp_ctx *ctx, double progress, double total, const char *message,
                            mcp_error *err);
/**
 * Send a request to the client (sampling/createMessage, elicitation/create, roots/list) and wait
 * for its answer. params is borrowed. timeout_ms 0 = the server's request_timeout_ms.
 * @param[out] result The client's result (caller owns: json_decref). Set only on MCP_OK.
 * @return MCP_OK, MCP_ERR_TIMEOUT, MCP_ERR_CANCELLED, MCP_ERR_PROTOCOL (client answered with an
 *         error; err has its message), MCP_ERR_STATE (no way to reach the client: stateless).
 */
MCP_EXTERN mcp_status mcp_ctx_request(mcp_ctx *ctx, const char *method, const json_t *params,
                           unsigned timeout_ms, json_t **result, mcp_error *err);
/** Has the client cancelled this request (notifications/cancelled)? */
MCP_EXTERN bool mcp_ctx_is_cancelled(const mcp_ctx *ctx);
/** The negotiated protocol version of the caller's session. */
MCP_EXTERN const char *mcp_ctx_protocol_version(const mcp_ctx *ctx);
/**
 * Close the request's HTTP SSE stream now (SEP-1699 polling); later messages and the response
 * are kept and delivered when the client reconnects with Last-Event-ID. No-op elsewhere.
 */
MCP_EXTERN void mcp_ctx_close_stream(mcp_ctx *ctx);

/* Authorization built into the server: checks a principal against a definition's access rule. */

/** Decision of the built-in policy for principal p on target (kind "tool"/"resource"/"prompt"). */
typedef struct mcp_authz_result {
    bool allowed;
    char missing[MCP_ERROR_MSG_MAX];   /* space-separated permissions that would allow it */
    char required[MCP_ERROR_MSG_MAX];  /* the deciding rule in words: "any of: A B", "all of: A",
                                          "nobody (deny)"; "" lets the server word it */
} mcp_authz_result;

/**
 * Optional hook consulted by the built-in AUTHZ check and the list filters instead of the access
 * rules given at registration (the RBAC policy engine installs one). Must be thread-safe.
 * rule is the registered rule (borrowed).
 */
typedef bool (*mcp_authz_fn)(void *ctx, const mcp_principal *p, const char *kind, const char *name,
                             const mcp_access *rule, mcp_authz_result *res);
MCP_EXTERN void mcp_server_set_authorizer(mcp_server *srv, mcp_authz_fn fn, void *ctx);

/*
 * Decision hook: called once per request for the authentication outcome (when any AUTHN item is
 * installed) and once per JSON-RPC request for the authorization outcome, allowed or not. The
 * audit log is built on it. Called on HTTP or worker threads; must be thread-safe and fast.
 * Every pointer is borrowed for the call.
 */
typedef struct mcp_decision {
    const char *phase;       /* "authn" or "authz" */
    bool        allowed;
    mcp_status  status;      /* MCP_OK when allowed */
    const char *reason;      /* failed check ("token expired"), or "" when allowed */
    const char *missing;     /* permissions that would have allowed it, or "" */
    const char *method;      /* JSON-RPC method, NULL for authn decisions before parsing */
    const char *target;      /* tool / prompt name or resource URI, or NULL */
} mcp_decision;

typedef void (*mcp_decision_fn)(void *ctx, const mcp_request *req, const mcp_decision *d);
MCP_EXTERN void mcp_server_set_decision_hook(mcp_server *srv, mcp_decision_fn fn, void *ctx);

/* ------------------------------------------------------------------------------------------ */
/* Transports                                                                                 */

typedef struct mcp_http_opts {
    const char *host;              /* bind address (default "127.0.0.1") */
    uint16_t    port;              /* 0 = pick a free port (see mcp_server_http_port) */
    const char *path;              /* MCP endpoint (default "/mcp") */
    size_t      max_body;          /* 413 past it (default 4 MiB) */
    size_t      max_header;        /* per-connection header memory (default 16 KiB) */
    unsigned    max_connections;   /* default 1024 */
    unsigned    connection_timeout_s; /* idle connection / slow header timeout (default 30) */
    unsigned    io_threads;        /* default: number of cores */
    int         dns_rebinding_protection; /* -1 auto (on for loopback binds), 0 off, 1 on */
    const char *const *allowed_hosts;   /* extra Host values accepted (NULL-terminated) */
    const char *const *allowed_origins; /* extra Origin values accepted (NULL-terminated) */
    unsigned    sse_retry_ms;      /* `retry:` sent on SSE streams (default 1000) */
    size_t      sse_replay_events; /* events kept per stream for Last-Event-ID (default 256) */
    bool        access_log;        /* one line per request on stderr (default true) */
    const char *resource_url;      /* canonical resource URI (for 401/403 resource_metadata) */
    const char *resource_metadata_json; /* RFC 9728 document served at the well-known URIs */
    int         listen_fd;         /* >= 0: a bound, listening socket to serve on instead of
                                      host/port (the transport owns it from then on); -1 */
} mcp_http_opts;

MCP_EXTERN void mcp_http_opts_default(mcp_http_opts *o);

/** Start serving Streamable HTTP in background threads. Strings are copied. @since 0.1 */
MCP_EXTERN mcp_status mcp_server_listen_http(mcp_server *srv, const mcp_http_opts *opts, mcp_error *err);
/** The port actually bound (after listen with port 0). */
MCP_EXTERN uint16_t mcp_server_http_port(const mcp_server *srv);
/**
 * Serve newline-delimited JSON-RPC on in_fd/out_fd until EOF or mcp_server_stop().
 * Blocks the calling thread. Logs go to stderr only.
 */
MCP_EXTERN mcp_status mcp_server_run_stdio(mcp_server *srv, int in_fd, int out_fd, mcp_error *err);
/**
 * Block until SIGINT/SIGTERM (or mcp_server_stop()), then shut down gracefully: stop accepting,
 * let in-flight requests finish within grace_ms, close SSE streams, flush logs.
 */
MCP_EXTERN mcp_status mcp_server_run_until_signal(mcp_server *srv, unsigned grace_ms, mcp_error *err);
/** Ask run_until_signal / run_stdio to return. Async-signal-safe. */
MCP_EXTERN void mcp_server_stop(mcp_server *srv);

#ifdef __cplusplus
}
#endif
#endif
