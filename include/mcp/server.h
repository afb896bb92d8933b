/*
 * libmcp: the MCP server.
 *
 * A server holds a registry of tools, resources and prompts (read-only once it runs), a pipeline
 * of fixed phases (transport -> authn -> authz -> handler, STYLE.md section 10, declared in
 * <mcp/pipeline.h>) and a transport: Streamable HTTP (libmicrohttpd) or stdio. It speaks the
 * protocol revisions 2025-11-25, 2025-06-18 and 2025-03-26.
 *
 * JSON values in this API are jansson's json_t. A `const json_t *` argument is borrowed for the
 * call; a `json_t *` given to a function named *_take or documented "steals" becomes the
 * library's, even when the call fails. Other pointer arguments are borrowed for the call, and
 * strings the server keeps are copied. Returned strings are borrowed: never free them; each
 * function says how long they stay valid.
 *
 * Thread safety, as stated on each declaration:
 * - Setup only: from one thread, after mcp_server_new() and before the server runs, i.e. before
 *   mcp_server_listen_http() or mcp_server_run_stdio() (the registry, the middleware and the
 *   hooks are then read without locks).
 * - Any thread: safe while the server serves, from any thread, handlers included.
 * - Handler only: from the handler (or completer) that received the mcp_ctx, on its thread,
 *   until it returns; the mcp_ctx and everything borrowed from it are invalid afterwards.
 * Handlers, middleware and hooks are called concurrently from several threads (HTTP IO threads,
 * the worker pool, the stdio reader): whatever they share must be thread-safe, and the udata /
 * ctx pointers given at setup must stay valid until mcp_server_free() returns.
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

/* The server (opaque): created by mcp_server_new(), freed by mcp_server_free(). @since 0.1 */
typedef struct mcp_server mcp_server;
/* A handler's view of its request (opaque): owned by the server, valid until the handler
 * returns. @since 0.1 */
typedef struct mcp_ctx mcp_ctx;

/* The newest protocol revision this server speaks: new sessions start at it, and initialize
 * offers it when the client asks for a revision the server does not speak (2025-06-18 and
 * 2025-03-26 are echoed back when asked for). @since 0.1 */
#define MCP_PROTOCOL_LATEST "2025-11-25"

/* mcp_log_level (the levels of notifications/message and logging/setLevel) is in
 * <mcp/common.h>, with the library's own log settings. */

/* ------------------------------------------------------------------------------------------ */
/* Options                                                                                    */

/** Options for mcp_server_new(). Fill with mcp_server_opts_default(), then override. @since 0.1 */
typedef struct mcp_server_opts {
    const char *name;             /* serverInfo.name (default "libmcp"; NULL = default) */
    const char *version;          /* serverInfo.version (default MCP_VERSION_STRING;
                                     NULL = default) */
    const char *title;            /* serverInfo.title, optional (default NULL: not sent) */
    const char *instructions;     /* initialize result `instructions`, optional (default NULL) */
    unsigned    workers;          /* handler worker threads (default 2 x cores; 0 = default) */
    unsigned    request_timeout_ms; /* server->client request timeout, see mcp_ctx_request()
                                       (default 60000; 0 = default) */
    size_t      max_sessions;     /* sessions in the table; initialize past it answers 429
                                     (default 10000; 0 = default) */
    size_t      max_sessions_per_owner; /* per authenticated principal; past it the principal's
                                           least recently active session idle for at least
                                           session_evict_idle_s is closed, or initialize
                                           answers 429 (default 64; 0 = no limit) */
    unsigned    session_idle_s;   /* idle sessions are closed by the reaper after this many
                                     seconds (default 1800; 0 = never) */
    bool        stateless;        /* HTTP without sessions: each POST stands alone, GET and DELETE
                                     answer 405 (default false) */
    unsigned    session_evict_idle_s; /* a principal at max_sessions_per_owner: only its sessions
                                         idle at least this long may be closed to make room;
                                         with none, initialize answers 429 + Retry-After
                                         (default 60; 0 = default) */
    unsigned    authn_fail_limit; /* failed authentications one client address may make per
                                     authn_fail_window_s; past it the address gets 429 +
                                     Retry-After before any verification (default 20; 0 = off) */
    unsigned    authn_fail_window_s; /* that window in seconds (default 60; 0 = default) */
    /* Protocol 2026-07-28 input-required results (mcp_ctx_input): the requestState MAC secret,
     * a file of at least 32 bytes (a trailing newline is not part of it). Servers sharing the
     * file resume each other's requests. NULL (default): a random key per process, so states
     * do not survive a restart. @since 0.2 */
    const char *request_state_key_file;
    /* Key rotation: the previous secret file. States it sealed are still accepted (new ones
     * are sealed with request_state_key_file only). NULL (default): none. @since 0.2 */
    const char *request_state_prev_key_file;
    unsigned    request_state_ttl_s; /* lifetime of a requestState (default 600; 0 = default) */
} mcp_server_opts;

/**
 * Fill o with the defaults documented in mcp_server_opts (workers = 2 x the online CPUs).
 * Thread: any thread.
 * @since 0.1
 */
MCP_EXTERN void mcp_server_opts_default(mcp_server_opts *o);

/**
 * Create a server with an empty registry; it serves once mcp_server_listen_http() or
 * mcp_server_run_stdio() is called.
 * @param opts     Borrowed; NULL means the defaults. Its strings are copied. A zero workers,
 *                 request_timeout_ms or max_sessions takes the default.
 * @param[out] out Set to the new server on MCP_OK, else to NULL; release with mcp_server_free().
 * @param[out] err Optional.
 * @return MCP_OK or MCP_ERR_NOMEM (also when the server's internal stop pipe cannot be created).
 * Thread: any thread.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_server_new(const mcp_server_opts *opts, mcp_server **out, mcp_error *err);

/**
 * Stop the transport (no grace period), wait for the handlers in flight and queued on the worker
 * pool, close every session and free the server and its registry. NULL is allowed.
 * Thread: any thread that no longer uses srv, never a handler, middleware or hook of srv (it
 * joins the worker threads); after mcp_server_run_stdio() and mcp_server_run_until_signal()
 * have returned.
 * @since 0.1
 */
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
 * authentication; with authentication off, anyone). With both lists, the caller needs one of
 * any_of_perms and each of all_of_perms; any_authenticated = true allows any caller whatever the
 * lists say; an empty list counts as absent. A definition with none of them is rejected with
 * MCP_ERR_INVALID_ARG: forgetting the policy never makes something public. The lists are copied
 * at registration. An authorizer installed with mcp_server_set_authorizer() decides instead,
 * and is given this rule.
 * @since 0.1
 */
typedef struct mcp_access {
    const char *const *any_of_perms;
    const char *const *all_of_perms;
    bool               any_authenticated;
} mcp_access;

/* ------------------------------------------------------------------------------------------ */
/* Tools                                                                                      */

/**
 * A tool handler (tools/call). Read the arguments with mcp_ctx_args() / mcp_ctx_arg_str() /
 * mcp_ctx_arg_int() (already checked against input_schema); build the result with
 * mcp_ctx_add_text() and the other mcp_ctx_add_*() functions, mcp_ctx_set_structured_take()
 * or mcp_ctx_set_error_result(). Returning MCP_OK sends the result. Another status sends a
 * JSON-RPC error: err->rpc_code when the handler set one (mcp_error_set_rpc()), else
 * MCP_ERR_INVALID_ARG or MCP_ERR_NOT_FOUND -> -32602 with err->message, anything else -> -32603
 * "internal error" (the message is logged, not sent). A cancelled request gets no answer.
 * @param ctx   The request; valid until the handler returns.
 * @param udata As given to mcp_server_add_tool().
 * @param err   Never NULL; cleared before the call.
 * Thread: a worker pool thread, or the thread that read the request for MCP_TOOL_INLINE tools;
 * several calls run at once.
 * @since 0.1
 */
typedef mcp_status (*mcp_tool_fn)(mcp_ctx *ctx, void *udata, mcp_error *err);

enum {
    /* The handler never blocks and emits no notifications: run it on the thread that read the
     * request (an HTTP IO thread, or the stdio reader), which saves a hand-off to the worker
     * pool; it must not call mcp_ctx_request(). Default (flag not set): the worker pool.
     * @since 0.1 */
    MCP_TOOL_INLINE = 1u << 0
};

/** A tool for mcp_server_add_tool(); every string is copied. @since 0.1 */
typedef struct mcp_tool_def {
    const char *name;           /* required, non-empty, unique in the server */
    const char *title;          /* optional */
    const char *description;    /* required, non-empty */
    const char *input_schema;   /* JSON text of an object schema with "type":"object";
                                   default (NULL) {"type":"object","properties":{}}. Arguments
                                   are checked against its required, properties' type and
                                   additionalProperties:false before the handler runs (-32602) */
    const char *output_schema;  /* JSON text of an object, optional */
    const char *annotations;    /* JSON text of an object, optional (readOnlyHint, ...) */
    mcp_access  access;         /* required: who may call and list it */
    unsigned    flags;          /* MCP_TOOL_* (default 0) */
    mcp_tool_fn handler;        /* required */
} mcp_tool_def;

/**
 * Register a tool.
 * @param def   Borrowed; copied (strings, schemas, access lists).
 * @param udata Passed to the handler; not owned by the server; must outlive it.
 * @return MCP_OK; MCP_ERR_INVALID_ARG (missing name, description or handler, no access rule, a
 *         schema or annotations that is not a JSON object, an input_schema without
 *         "type":"object", a duplicate name); MCP_ERR_STATE (the server already runs);
 *         MCP_ERR_NOMEM.
 * Thread: setup only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_server_add_tool(mcp_server *srv, const mcp_tool_def *def, void *udata, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Resources                                                                                  */

/**
 * Read a resource (resources/read): add contents with mcp_ctx_add_resource_text() /
 * mcp_ctx_add_resource_blob(); template variables with mcp_ctx_uri_var(). Statuses map as for
 * mcp_tool_fn, except MCP_ERR_NOT_FOUND -> -32002 (resource not found).
 * @param uri   The URI asked for; borrowed until the handler returns.
 * @param udata As given to mcp_server_add_resource().
 * Thread: a worker pool thread; several calls run at once.
 * @since 0.1
 */
typedef mcp_status (*mcp_resource_fn)(mcp_ctx *ctx, const char *uri, void *udata, mcp_error *err);

/** A resource for mcp_server_add_resource(); every string is copied. @since 0.1 */
typedef struct mcp_resource_def {
    const char *uri;            /* exact URI, or NULL when uri_template is set */
    const char *uri_template;   /* RFC 6570 level-1 template such as "test://item/{id}", one
                                   path segment per variable; or NULL when uri is set */
    const char *name;           /* required */
    const char *title;          /* optional */
    const char *description;    /* optional */
    const char *mime_type;      /* optional (listed as mimeType) */
    mcp_access  access;         /* required: who may read, subscribe to and list it */
    mcp_resource_fn handler;    /* required */
} mcp_resource_def;

/**
 * Register a resource: an exact URI (listed by resources/list) or a URI template (listed by
 * resources/templates/list). A URI is served by the exact entry if there is one, else by the
 * most specific matching template (most literal characters; ties: the first registered), and
 * authorization is decided for that same entry. A malformed template never matches.
 * @param def   Borrowed; copied.
 * @param udata Passed to the handler; not owned by the server; must outlive it.
 * @return MCP_OK; MCP_ERR_INVALID_ARG (no name or handler, not exactly one of uri and
 *         uri_template, no access rule); MCP_ERR_STATE (the server already runs); MCP_ERR_NOMEM.
 * Thread: setup only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_server_add_resource(mcp_server *srv, const mcp_resource_def *def, void *udata,
                                   mcp_error *err);
/**
 * Value of a template variable of the resource being read, as matched (not percent-decoded;
 * validate it before using it as a file name), or NULL when the URI was served by an exact
 * entry or the template has no such variable (at most 8 variables are kept).
 * @return Borrowed until the handler returns.
 * Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN const char *mcp_ctx_uri_var(const mcp_ctx *ctx, const char *name);
/**
 * Tell the sessions subscribed to uri (resources/subscribe, exact match) that it changed:
 * notifications/resources/updated on each session's standalone stream (the HTTP GET stream, or
 * stdout on stdio); a session without one does not get it. uri is borrowed for the call.
 * Thread: any thread (not after mcp_server_free() started).
 * @since 0.1
 */
MCP_EXTERN void mcp_server_notify_resource_updated(mcp_server *srv, const char *uri);
/**
 * Broadcast notifications/{tools,resources,prompts}/list_changed to every session's standalone
 * stream (as mcp_server_notify_resource_updated()). kind is "tools", "resources" or "prompts";
 * any other value is ignored. Thread: any thread (not after mcp_server_free() started).
 * @since 0.1
 */
MCP_EXTERN void mcp_server_notify_list_changed(mcp_server *srv, const char *kind);

/* ------------------------------------------------------------------------------------------ */
/* Prompts                                                                                    */

/**
 * A prompt handler (prompts/get): read the arguments with mcp_ctx_args() / mcp_ctx_arg_str()
 * (required arguments are present as strings), add messages with
 * mcp_ctx_add_prompt_message_take(). Statuses map as for mcp_tool_fn.
 * Thread: a worker pool thread; several calls run at once.
 * @since 0.1
 */
typedef mcp_status (*mcp_prompt_fn)(mcp_ctx *ctx, void *udata, mcp_error *err);

/** One argument of a prompt; copied at registration. @since 0.1 */
typedef struct mcp_prompt_arg {
    const char *name;           /* required; NULL ends the array */
    const char *description;    /* optional */
    bool        required;       /* prompts/get without it as a string answers -32602 */
} mcp_prompt_arg;

/** A prompt for mcp_server_add_prompt(); every string is copied. @since 0.1 */
typedef struct mcp_prompt_def {
    const char *name;           /* required */
    const char *title;          /* optional */
    const char *description;    /* required, non-empty */
    const mcp_prompt_arg *args; /* array terminated by an entry with name == NULL; optional */
    mcp_access  access;         /* required: who may get and list it */
    mcp_prompt_fn handler;      /* required; adds messages with mcp_ctx_add_prompt_message_take() */
} mcp_prompt_def;

/**
 * Register a prompt.
 * @param def   Borrowed; copied (strings, arguments, access lists).
 * @param udata Passed to the handler; not owned by the server; must outlive it.
 * @return MCP_OK; MCP_ERR_INVALID_ARG (no name, description or handler, no access rule);
 *         MCP_ERR_STATE (the server already runs); MCP_ERR_NOMEM.
 * Thread: setup only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_server_add_prompt(mcp_server *srv, const mcp_prompt_def *def, void *udata,
                                 mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Completion                                                                                 */

/**
 * completion/complete. ref_type is "ref/prompt" or "ref/resource", ref_name the prompt name or
 * the resource's URI template (or exact URI). It is called only for a registered prompt or
 * resource the caller may list (else -32602 without a call). Add values with
 * mcp_ctx_add_completion(); the result carries them, total = their number, hasMore false.
 * Without a completer, the result is empty. Statuses map as for mcp_tool_fn.
 * Every string is borrowed until the completer returns.
 * Thread: the thread that read the request (an HTTP IO thread, or the stdio reader): it should
 * not block, and must not call mcp_ctx_request().
 * @since 0.1
 */
typedef mcp_status (*mcp_complete_fn)(mcp_ctx *ctx, const char *ref_type, const char *ref_name,
                                      const char *arg_name, const char *arg_value, void *udata,
                                      mcp_error *err);
/**
 * Install the server's completer, replacing any earlier one; NULL removes it.
 * @param udata Passed to fn; not owned by the server; must outlive it.
 * Thread: setup only.
 * @since 0.1
 */
MCP_EXTERN void mcp_server_set_completer(mcp_server *srv, mcp_complete_fn fn, void *udata);

/* ------------------------------------------------------------------------------------------ */
/* The handler context                                                                        */

/*
 * Every mcp_ctx_* function is "handler only" (see the top of this file). The result functions
 * append to the list of the handler's kind: content items for a tool, contents for a resource,
 * messages for a prompt, values for a completer. On failure nothing is added.
 */

/**
 * Arguments of tools/call or prompts/get: an object, never NULL (an empty object when the
 * request had none, and for resource reads and completions).
 * @return Borrowed until the handler returns; do not modify it. Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN const json_t *mcp_ctx_args(const mcp_ctx *ctx);
/**
 * String argument, or NULL when missing or not a string.
 * @return Borrowed until the handler returns. Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN const char *mcp_ctx_arg_str(const mcp_ctx *ctx, const char *name);
/**
 * Integer argument: a JSON integer, or a number with an integral value below 9e15 in magnitude.
 * @param[out] out Set only on MCP_OK.
 * @return MCP_OK or MCP_ERR_INVALID_ARG (missing / not an integer). Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_arg_int(const mcp_ctx *ctx, const char *name, int64_t *out, mcp_error *err);
/**
 * The caller: the principal the AUTHN phase set, or NULL when none did (the server runs without
 * authentication).
 * @return Borrowed until the handler returns (take a reference with mcp_principal_ref() to keep
 *         it longer). Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN const mcp_principal *mcp_ctx_principal(const mcp_ctx *ctx);
/**
 * Session id: the HTTP Mcp-Session-Id; on stdio, the id of the transport's one session (never
 * sent to the client); NULL in stateless mode.
 * @return Borrowed until the handler returns. Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN const char *mcp_ctx_session_id(const mcp_ctx *ctx);
/**
 * Name of the tool / prompt, or URI of the resource, being served; NULL in a completer.
 * @return Borrowed until the handler returns. Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN const char *mcp_ctx_target(const mcp_ctx *ctx);

/* Result building. Strings are copied; mime may be NULL where noted. Each returns MCP_OK or
 * MCP_ERR_NOMEM (also for a NULL required string), plus the statuses named on the function. */

/**
 * A text content item (tools). text NULL adds "". Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_add_text(mcp_ctx *ctx, const char *text, mcp_error *err);
/**
 * An image content item (tools): base64 data and mime type, both required.
 * Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_add_image(mcp_ctx *ctx, const char *base64, const char *mime, mcp_error *err);
/**
 * An audio content item (tools): base64 data and mime type, both required.
 * Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_add_audio(mcp_ctx *ctx, const char *base64, const char *mime, mcp_error *err);
/**
 * An embedded resource content item (tools): uri and data required; data is text, or a base64
 * blob when blob is true; mime optional. Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_add_embedded(mcp_ctx *ctx, const char *uri, const char *mime, const char *data,
                                bool blob, mcp_error *err);
/**
 * Add any content item (steals item, also on failure; NULL gives MCP_ERR_NOMEM).
 * Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_add_content_take(mcp_ctx *ctx, json_t *item, mcp_error *err);
/**
 * structuredContent of a tool result (steals value; replaces an earlier one). When the handler
 * added no content, its JSON text is also sent as one text content item.
 * @return MCP_OK or MCP_ERR_INVALID_ARG (value is NULL). Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_set_structured_take(mcp_ctx *ctx, json_t *value, mcp_error *err);
/**
 * Mark the tool result isError:true and add text explaining why (sent to the model; the
 * handler still returns MCP_OK). Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_set_error_result(mcp_ctx *ctx, const char *text, mcp_error *err);
/**
 * Resource contents (resource handlers): uri required, mime optional; text NULL adds "".
 * Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_add_resource_text(mcp_ctx *ctx, const char *uri, const char *mime,
                                     const char *text, mcp_error *err);
/**
 * As mcp_ctx_add_resource_text() with base64 blob contents (NULL adds "").
 * Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_add_resource_blob(mcp_ctx *ctx, const char *uri, const char *mime,
                                     const char *base64, mcp_error *err);
/**
 * A prompt message (prompt handlers): role "user" or "assistant"; content is a content item
 * (stolen, also on failure).
 * @return MCP_OK, MCP_ERR_INVALID_ARG (role not "user" or "assistant", NULL content) or
 *         MCP_ERR_NOMEM.
 * Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_add_prompt_message_take(mcp_ctx *ctx, const char *role, json_t *content,
                                           mcp_error *err);
/**
 * One completion value (completers); copied.
 * @return MCP_OK, MCP_ERR_TOO_LARGE (already 100 values, the protocol's cap) or MCP_ERR_NOMEM.
 * Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_add_completion(mcp_ctx *ctx, const char *value, mcp_error *err);
/**
 * Replace the whole result object (steals result, also on failure). The escape hatch for
 * anything else; call it last: no other result function may follow it.
 * @return MCP_OK or MCP_ERR_INVALID_ARG (not a JSON object). Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_set_result_take(mcp_ctx *ctx, json_t *result, mcp_error *err);

/* Messages while the handler runs. Over HTTP, the first one switches the response to an SSE
 * stream when the client's Accept allows text/event-stream (or is absent); a client that
 * accepts only application/json does not get them. */

/**
 * notifications/message at level, with an optional logger name; text NULL sends "". Dropped
 * (still MCP_OK) when below the session's logging/setLevel (default MCP_LOG_DEBUG: nothing is
 * dropped) or when level is out of range.
 * @return MCP_OK or MCP_ERR_NOMEM. Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_log(mcp_ctx *ctx, mcp_log_level level, const char *logger, const char *text,
                       mcp_error *err);
/**
 * notifications/progress, only when the request carried _meta.progressToken (else a no-op that
 * returns MCP_OK). total is sent when > 0, message when non-NULL.
 * @return MCP_OK or MCP_ERR_NOMEM. Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_progress(mcp_ctx *ctx, double progress, double total, const char *message,
                            mcp_error *err);
/**
 * Send a request to the client (sampling/createMessage, elicitation/create, roots/list) and wait
 * for its answer. Blocks the calling worker: not from an MCP_TOOL_INLINE tool or a completer.
 * @param method    Borrowed.
 * @param params    Borrowed (copied), or NULL.
 * @param timeout_ms 0 = the server's request_timeout_ms (default 60000).
 * @param[out] result Set to NULL first; on MCP_OK the client's result (caller owns: json_decref).
 * @return MCP_OK; MCP_ERR_TIMEOUT; MCP_ERR_CANCELLED (the client cancelled this request);
 *         MCP_ERR_PROTOCOL (client answered with an error; err has its message); MCP_ERR_STATE
 *         (no way to reach the client: stateless mode, an HTTP client whose Accept does not
 *         allow text/event-stream, or the session was closed while waiting); MCP_ERR_NOMEM.
 * Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_ctx_request(mcp_ctx *ctx, const char *method, const json_t *params,
                           unsigned timeout_ms, json_t **result, mcp_error *err);
/** Client capabilities, for mcp_ctx_client_has(). @since 0.2 */
enum {
    MCP_CLIENT_SAMPLING       = 1u << 0,
    MCP_CLIENT_ELICITATION    = 1u << 2,   /* form mode (an empty elicitation object) */
    MCP_CLIENT_ELICITATION_URL = 1u << 3,
    MCP_CLIENT_ROOTS          = 1u << 4,
};
/**
 * Did the client declare every capability in caps (MCP_CLIENT_* bits)? 2026-07-28: from this
 * request's _meta (never from an earlier request); 2025: from the session's initialize.
 * Thread: handler only.
 * @since 0.2
 */
MCP_EXTERN bool mcp_ctx_client_has(const mcp_ctx *ctx, unsigned caps);
/**
 * Ask the client for input (elicitation/create, sampling/createMessage, roots/list) under key,
 * one handler for both eras:
 * - 2025 session: sends the request on the response stream and waits (mcp_ctx_request()).
 * - 2026-07-28: returns the answer when this request carries inputResponses.<key> (checked
 *   against the shape of the method's result) or an earlier round's answer in the verified
 *   requestState; otherwise records the ask and returns MCP_ERR_INPUT_REQUIRED. The handler
 *   asks for everything it needs and returns MCP_ERR_INPUT_REQUIRED: the client gets an
 *   InputRequiredResult (inputRequests + a MAC-protected requestState) and retries.
 * Only tools/call, prompts/get and resources/read handlers may ask.
 * @param key      Handler-chosen, on the wire (inputRequests.<key>): printable ASCII, 1-128 bytes.
 * @param[out] answer Set to NULL first; on MCP_OK the client's result (caller json_decref).
 * @return MCP_OK; MCP_ERR_INPUT_REQUIRED (2026: asked, return it); MCP_ERR_UNSUPPORTED (the
 *         client did not declare the capability; returned from the handler it is -32021 with
 *         data.requiredCapabilities); MCP_ERR_INVALID_ARG (bad key, or a malformed answer:
 *         -32602); MCP_ERR_STATE (method may not ask); the errors of mcp_ctx_request().
 * Thread: handler only.
 * @since 0.2
 */
MCP_EXTERN mcp_status mcp_ctx_input(mcp_ctx *ctx, const char *key, const char *method,
                                    const json_t *params, json_t **answer, mcp_error *err);
/**
 * The handler's own state carried between input rounds (2026: inside requestState, readable by
 * the client, integrity-protected; put no secrets in it), or NULL in the first round.
 * @return Borrowed until the handler returns. Thread: handler only.
 * @since 0.2
 */
MCP_EXTERN const json_t *mcp_ctx_state(const mcp_ctx *ctx);
/**
 * Set the state the next round gets from mcp_ctx_state() (stolen; NULL clears it).
 * @return MCP_OK. Thread: handler only.
 * @since 0.2
 */
MCP_EXTERN mcp_status mcp_ctx_set_state_take(mcp_ctx *ctx, json_t *state, mcp_error *err);
/**
 * Has the client cancelled this request (notifications/cancelled)? A cancelled request gets no
 * answer, whatever the handler returns. Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN bool mcp_ctx_is_cancelled(const mcp_ctx *ctx);
/**
 * The negotiated protocol version of the caller's session; in stateless mode the request's
 * MCP-Protocol-Version header, or "2025-03-26" without one. Never NULL.
 * @return Borrowed until the handler returns. Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN const char *mcp_ctx_protocol_version(const mcp_ctx *ctx);
/**
 * Close the request's HTTP SSE stream now (SEP-1699 polling); later messages and the response
 * are kept (up to sse_replay_events) and delivered when the client reconnects with
 * Last-Event-ID. No-op elsewhere (stdio, stateless, a client that does not accept SSE).
 * Thread: handler only.
 * @since 0.1
 */
MCP_EXTERN void mcp_ctx_close_stream(mcp_ctx *ctx);

/* Authorization built into the server: checks a principal against a definition's access rule. */

/** Decision of the built-in policy for principal p on target (kind "tool"/"resource"/"prompt").
 *  Filled by an mcp_authz_fn. @since 0.1 */
typedef struct mcp_authz_result {
    bool allowed;
    char missing[MCP_ERROR_MSG_MAX];   /* space-separated permissions that would allow it */
    char required[MCP_ERROR_MSG_MAX];  /* the deciding rule in words: "any of: A B", "all of: A",
                                          "nobody (deny)"; "" lets the server word it */
    bool not_granted;                  /* the caller's user is not granted what the target needs
                                          (the user store's roles): a token with a wider scope
                                          cannot help, so the 403 says so and its challenge
                                          names no scope to request (no step-up) */
} mcp_authz_result;

/**
 * Optional hook consulted by the built-in AUTHZ check ("may call": tools/call, resources/read,
 * resources/subscribe, prompts/get), the list filters and completion ("may see") instead of the
 * access rules given at registration (the RBAC policy engine installs one).
 * @param ctx  As given to mcp_server_set_authorizer().
 * @param p    The caller, or NULL without authentication; borrowed for the call.
 * @param kind "tool", "resource" or "prompt".
 * @param name Tool or prompt name; for a resource its exact URI, or the template of the entry
 *             that serves the URI. Borrowed for the call.
 * @param rule The registered rule (borrowed for the call).
 * @param[out] res allowed false, not_granted false and empty strings on entry; fill missing /
 *                 required (and not_granted) for a denial.
 * @return true to allow.
 * Thread: HTTP IO threads, worker threads and the stdio reader, concurrently: must be
 * thread-safe and must not block.
 * @since 0.1
 */
typedef bool (*mcp_authz_fn)(void *ctx, const mcp_principal *p, const char *kind, const char *name,
                             const mcp_access *rule, mcp_authz_result *res);
/**
 * Install the authorizer, replacing any earlier one; NULL restores the registration rules.
 * @param ctx Passed to fn; not owned by the server; must outlive it.
 * Thread: setup only.
 * @since 0.1
 */
MCP_EXTERN void mcp_server_set_authorizer(mcp_server *srv, mcp_authz_fn fn, void *ctx);

/*
 * Decision hook: called once per request for the authentication outcome (when any AUTHN item is
 * installed) and, for the authorization outcome (after the AUTHZ items and the built-in check),
 * once per GET, DELETE and JSON-RPC request that reaches the AUTHZ phase, allowed or not. The
 * audit log is built on it. Called on HTTP IO threads, worker threads and the stdio reader;
 * must be thread-safe and fast. Every pointer is borrowed for the call (req may be read with
 * the mcp_request_* accessors).
 * @since 0.1
 */
typedef struct mcp_decision {
    const char *phase;       /* "authn" or "authz" */
    bool        allowed;
    mcp_status  status;      /* MCP_OK when allowed */
    const char *reason;      /* failed check ("token expired"), or "" when allowed */
    const char *missing;     /* permissions that would have allowed it, or "" */
    const char *method;      /* JSON-RPC method; NULL for authn decisions and for GET/DELETE */
    const char *target;      /* tool / prompt name or resource URI, or NULL */
} mcp_decision;

/** The decision hook's signature; see mcp_decision. ctx as given to
 *  mcp_server_set_decision_hook(). @since 0.1 */
typedef void (*mcp_decision_fn)(void *ctx, const mcp_request *req, const mcp_decision *d);
/**
 * Install the decision hook, replacing any earlier one; NULL removes it.
 * @param ctx Passed to fn; not owned by the server; must outlive it.
 * Thread: setup only.
 * @since 0.1
 */
MCP_EXTERN void mcp_server_set_decision_hook(mcp_server *srv, mcp_decision_fn fn, void *ctx);

/* ------------------------------------------------------------------------------------------ */
/* Transports                                                                                 */

/**
 * Other HTTP resources served beside the MCP endpoint (the embedded authorization server's
 * endpoints, <mcp/as.h>): a request for any path other than the MCP endpoint and the
 * protected-resource metadata is handed, with its body read (at most route_max_body bytes, else
 * 413), to mcp_http_opts.route. It does not go through the MCP pipeline: the route does its own
 * authentication. The route runs on an HTTP IO thread and should not block for long.
 * @since 0.2
 */
typedef struct mcp_http_route_req {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* without the query */
    const char *peer;     /* the client's address as text ("" when unknown) */
    const char *body;     /* the body bytes (not NUL-terminated; "" when none) */
    size_t      body_len;
    /* A request header (case-insensitive name), or NULL. */
    const char *(*header)(const struct mcp_http_route_req *rq, const char *name);
    /* The first value of a query parameter (percent-decoded), or NULL; *count (optional) gets
     * how many times it appears (OAuth refuses repeated parameters). */
    const char *(*query)(const struct mcp_http_route_req *rq, const char *name, unsigned *count);
    void       *tctx_;    /* private to the transport */
} mcp_http_route_req;

#define MCP_HTTP_ROUTE_MAX_HEADERS 8

/** The route's answer. Every field starts zeroed. @since 0.2 */
typedef struct mcp_http_route_resp {
    unsigned    status;        /* 0: no such resource here (the transport answers 404) */
    const char *content_type;  /* borrowed: a string literal or one that outlives the server */
    char       *body;          /* allocated with the library's allocator; the transport frees it */
    size_t      body_len;
    unsigned    nheaders;
    const char *header_name[MCP_HTTP_ROUTE_MAX_HEADERS];  /* string literals */
    char       *header_value[MCP_HTTP_ROUTE_MAX_HEADERS]; /* allocated; the transport frees them */
} mcp_http_route_resp;

/** @param ctx mcp_http_opts.route_ctx. Thread: HTTP IO threads, several at once. @since 0.2 */
typedef void (*mcp_http_route_fn)(void *ctx, const mcp_http_route_req *rq,
                                  mcp_http_route_resp *rs);

/**
 * Readiness of what the server depends on (mcp_http_opts.ready_fn): true when ready; when not,
 * write a short reason (NUL-terminated, at most cap bytes, no secrets) into reason.
 * It must not block: it is called on an HTTP IO thread for every request to ready_path, so a
 * check that needs I/O runs elsewhere and this reports its last result.
 * @param ctx mcp_http_opts.ready_ctx. Thread: HTTP IO threads, several at once. @since 0.2
 */
typedef bool (*mcp_http_ready_fn)(void *ctx, char *reason, size_t cap);

/**
 * Options for mcp_server_listen_http(). Fill with mcp_http_opts_default(), then override (a
 * zeroed struct is not the defaults: listen_fd 0 would serve on descriptor 0). Where noted,
 * 0 also selects the default.
 * @since 0.1
 */
typedef struct mcp_http_opts {
    const char *host;              /* bind address: a numeric IPv4/IPv6 address, or "localhost"
                                      (bound as 127.0.0.1) (default "127.0.0.1"; NULL = default) */
    uint16_t    port;              /* default 8080; 0 = pick a free port (see
                                      mcp_server_http_port) */
    const char *path;              /* MCP endpoint; other paths answer 404 (default "/mcp";
                                      NULL = default) */
    size_t      max_body;          /* 413 past it (default 4 MiB; 0 = default) */
    size_t      max_header;        /* per-connection header memory (default 16 KiB; 0 = default;
                                      at least 8 KiB is used) */
    unsigned    max_connections;   /* default 2048; 0 = default */
    unsigned    connection_timeout_s; /* idle connection / slow header timeout (default 30;
                                         0 = default) */
    unsigned    io_threads;        /* default 0: number of cores */
    int         dns_rebinding_protection; /* -1 auto (on for loopback binds), 0 off, 1 on
                                             (default -1) */
    const char *const *allowed_hosts;   /* extra Host values accepted when the protection is on
                                           (NULL-terminated; default NULL) */
    const char *const *allowed_origins; /* extra Origin values accepted (NULL-terminated;
                                           default NULL) */
    unsigned    sse_retry_ms;      /* `retry:` of the priming event of SSE streams (default 1000;
                                      0 = default) */
    size_t      sse_replay_events; /* events kept per stream for Last-Event-ID (default 256;
                                      0 = default) */
    bool        access_log;        /* one line per request on stderr (default true) */
    const char *resource_url;      /* canonical resource URI (for 401/403 resource_metadata;
                                      default NULL: built from the Host header) */
    const char *resource_metadata_json; /* RFC 9728 document served at the well-known URIs
                                           (default NULL: not served, no resource_metadata) */
    int         listen_fd;         /* >= 0: a bound, listening socket to serve on instead of
                                      host/port (on MCP_OK the transport owns it from then on);
                                      default -1 */
    unsigned    max_connections_per_ip; /* connections one client address may hold (default
                                           256; 0 = default) */
    unsigned    max_streams_per_principal; /* requests and GET streams one authenticated
                                              principal may have open at once; past it 429 +
                                              Retry-After (default 64; 0 = default) */
    unsigned    suspend_timeout_s; /* longest a connection stays parked with nothing to send
                                      (a POST waiting for its handler, a quiet stream): then it
                                      is answered (504 / the stream ends) (default 300;
                                      0 = default) */
    mcp_http_route_fn route;       /* other resources beside the MCP endpoint, see
                                      mcp_http_route_req (default NULL: they answer 404) */
    void       *route_ctx;         /* passed to route; must outlive the server */
    size_t      route_max_body;    /* body cap of routed requests (default 64 KiB;
                                      0 = default) */
    bool        reuse_port;        /* SO_REUSEPORT: let several processes share host:port (the
                                      kernel spreads connections over them). Default false: a
                                      port another process listens on is refused (MCP_ERR_IO,
                                      "address already in use") */
    const char *tls_cert_file;     /* PEM certificate chain: serve HTTPS (libmicrohttpd's GnuTLS:
                                      TLS 1.2 and 1.3 only, forward-secret AEAD suites). Both
                                      or neither of tls_cert_file / tls_key_file (default NULL:
                                      plain HTTP) */
    const char *tls_key_file;      /* PEM private key (unencrypted) of that certificate */
    const char *health_path;       /* liveness endpoint: GET/HEAD answer 200 {"status":"ok"}
                                      without authentication, 503 once shutting down (default
                                      "/health"; NULL: not served, 404) */
    const char *metrics_path;      /* Prometheus text (format 0.0.4) at this path, GET/HEAD
                                      without authentication: requests by method and status,
                                      refusals by reason, a latency histogram, open sessions.
                                      It discloses traffic counts, so it is off by default
                                      (NULL); "/metrics" is the usual path */
    const char *ready_path;        /* readiness endpoint: GET/HEAD answer 200 {"status":"ready"}
                                      when ready_fn says so (or there is none), else 503
                                      {"status":"not ready","reason":"..."}; 503 once shutting
                                      down; no authentication (default "/ready"; NULL: not
                                      served, 404) */
    mcp_http_ready_fn ready_fn;    /* what ready_path reports (default NULL: ready whenever the
                                      server answers) */
    void       *ready_ctx;         /* passed to ready_fn; must outlive the server */
} mcp_http_opts;

/**
 * Fill o with the defaults documented in mcp_http_opts. Thread: any thread.
 * @since 0.1
 */
MCP_EXTERN void mcp_http_opts_default(mcp_http_opts *o);

/**
 * Start serving Streamable HTTP in background threads (libmicrohttpd IO threads, the worker
 * pool, the session reaper) and return. From this call on the server runs: the registry,
 * middleware and hooks are fixed (also after MCP_ERR_IO, once the workers started).
 * @param opts Borrowed; NULL means the defaults. Strings and lists are copied.
 * @return MCP_OK; MCP_ERR_INVALID_ARG (host is not a numeric address or "localhost"; only
 *         one of tls_cert_file / tls_key_file; a certificate or key file that is not PEM);
 *         MCP_ERR_STATE (a transport is already listening); MCP_ERR_IO (cannot listen: err
 *         names the address and the reason, e.g. "address already in use");
 *         MCP_ERR_INTERNAL (cannot start a thread); MCP_ERR_NOMEM.
 * Thread: setup thread, once per server.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_server_listen_http(mcp_server *srv, const mcp_http_opts *opts, mcp_error *err);
/**
 * The port actually bound (after listen with port 0), or 0 when no HTTP transport listens.
 * Thread: any thread.
 * @since 0.1
 */
MCP_EXTERN uint16_t mcp_server_http_port(const mcp_server *srv);
/**
 * Read mcp_http_opts.tls_cert_file / tls_key_file again and, when the new pair parses and the
 * key is the certificate's, serve it to every TLS handshake from now on; connections already
 * open keep the certificate they started with. On failure nothing changes (the current pair
 * keeps serving) and the reason is logged and put in err. The mcp_app servers call it on
 * SIGHUP. At most 64 reloads per listener (replaced pairs are kept until the server is freed,
 * as TLS sessions may still refer to them); past that MCP_ERR_TOO_LARGE: restart.
 * @return MCP_OK; MCP_ERR_STATE (no HTTPS listener); MCP_ERR_IO (a file cannot be read);
 *         MCP_ERR_INVALID_ARG (not PEM, or the key is not the certificate's, err names the
 *         file); MCP_ERR_TOO_LARGE; MCP_ERR_NOMEM.
 * Thread: any thread (one reload at a time). @since 0.2
 */
MCP_EXTERN mcp_status mcp_server_reload_tls(mcp_server *srv, mcp_error *err);
/**
 * Serve newline-delimited JSON-RPC on in_fd/out_fd until EOF, a read error or
 * mcp_server_stop(), then wait up to 30 s for running handlers and close the session.
 * Blocks the calling thread, which reads the requests; handlers run on the worker pool. Logs go
 * to stderr only. The descriptors are borrowed (not closed); SIGPIPE handling is left to the
 * caller. A line over 4 MiB is answered with -32600 and skipped. From this call on the server
 * runs.
 * @return MCP_OK after EOF or stop; MCP_ERR_INTERNAL (cannot start a thread); MCP_ERR_NOMEM.
 * Thread: setup thread, once per server.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_server_run_stdio(mcp_server *srv, int in_fd, int out_fd, mcp_error *err);
/**
 * Block until SIGINT/SIGTERM (or mcp_server_stop()), then shut down gracefully: stop accepting,
 * let in-flight requests finish within grace_ms, close SSE streams, flush stderr. Installs
 * process-wide handlers for SIGINT and SIGTERM (not restored) and ignores SIGPIPE; one server
 * per process may use it at a time. Free the server afterwards with mcp_server_free().
 * @return MCP_OK.
 * Thread: one thread (usually main), after mcp_server_listen_http().
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_server_run_until_signal(mcp_server *srv, unsigned grace_ms, mcp_error *err);
/**
 * Ask mcp_server_run_until_signal() / mcp_server_run_stdio() to return; also stops the session
 * reaper. It does not stop HTTP serving by itself (mcp_server_run_until_signal() or
 * mcp_server_free() does). A stopped server is not restarted.
 * Thread: any thread; async-signal-safe.
 * @since 0.1
 */
MCP_EXTERN void mcp_server_stop(mcp_server *srv);

#ifdef __cplusplus
}
#endif
#endif
