/*
 * libmcp: the MCP client.
 *
 * A client speaks to one MCP server over Streamable HTTP (libcurl) or stdio (a spawned command,
 * newline-delimited JSON-RPC). It negotiates the protocol version (by default server/discover
 * at 2026-07-28, else initialize offering 2025-11-25 and accepting 2025-06-18 and 2025-03-26;
 * see mcp_client_protocol), sends requests and notifications, answers the server's requests
 * (sampling, elicitation, roots) and 2026 input-required results through callbacks, and
 * delivers notifications (logging, progress, list changes) to callbacks.
 *
 * Credentials: a static bearer token / API key (mcp_client_opts.bearer_token), or an OAuth 2.1
 * client (mcp_oauth) that reacts to 401/403 challenges per the MCP authorization spec.
 *
 * Threads: a client is used by one thread at a time. Callbacks run on the thread that is inside
 * a mcp_client_* call (request, wait or poll); they must not call request functions of the same
 * client (those return MCP_ERR_STATE there). No background threads are started, except the
 * short-lived loopback listener of an interactive OAuth login.
 *
 * JSON values are jansson's json_t. A `const json_t *` argument is borrowed for the call; a
 * `json_t **` out-parameter hands the caller one reference (release with json_decref).
 */
#ifndef MCP_CLIENT_H
#define MCP_CLIENT_H

#include <jansson.h>
#include <mcp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_client mcp_client;
typedef struct mcp_oauth mcp_oauth;

#ifndef MCP_PROTOCOL_LATEST
#define MCP_PROTOCOL_LATEST "2025-11-25"
#endif
/* The stateless revision (server/discover, per-request _meta, no initialize, no session). */
#ifndef MCP_PROTOCOL_2026
#define MCP_PROTOCOL_2026 "2026-07-28"
#endif

/* Which protocol era a client speaks (mcp_client_opts.protocol). */
typedef enum mcp_client_protocol {
    /* Probe with server/discover at 2026-07-28; when the server does not offer it (an error,
     * HTTP 4xx, or supportedVersions without it) fall back to initialize, offering
     * protocol_version. The default. */
    MCP_CLIENT_PROTOCOL_AUTO = 0,
    /* 2026-07-28 only: connecting fails with MCP_ERR_UNSUPPORTED when the server does not
     * offer it. */
    MCP_CLIENT_PROTOCOL_MODERN = 1,
    /* initialize only, offering protocol_version (the 2025 revisions). */
    MCP_CLIENT_PROTOCOL_LEGACY = 2
} mcp_client_protocol;

/* Default cap on one message from the server (a JSON body, an SSE event or a stdio line). */
#define MCP_CLIENT_DEFAULT_MAX_MESSAGE ((size_t)16 * 1024 * 1024)

/* ------------------------------------------------------------------------------------------ */
/* Callbacks                                                                                  */

/**
 * Answer a request the server sent to the client (sampling/createMessage, elicitation/create,
 * roots/list). params is borrowed for the call (may be NULL). Set *result to a new object (the
 * library takes it) and return MCP_OK, or return another status to send a JSON-RPC error:
 * err->rpc_code (default -32603) and err->message go to the server.
 */
typedef mcp_status (*mcp_client_request_fn)(mcp_client *c, const char *method,
                                            const json_t *params, void *udata, json_t **result,
                                            mcp_error *err);
/** A notification; params borrowed for the call (may be NULL). */
typedef void (*mcp_client_notification_fn)(mcp_client *c, const char *method,
                                           const json_t *params, void *udata);
/** notifications/progress. total < 0 when the server gave none; message may be NULL. */
typedef void (*mcp_client_progress_fn)(mcp_client *c, const json_t *token, double progress,
                                       double total, const char *message, void *udata);
/** notifications/message (server log). logger may be NULL; data is borrowed. */
typedef void (*mcp_client_log_fn)(mcp_client *c, const char *level, const char *logger,
                                  const json_t *data, void *udata);

typedef struct mcp_client_callbacks {
    mcp_client_request_fn      sampling;     /* non-NULL declares the "sampling" capability */
    mcp_client_request_fn      elicitation;  /* non-NULL declares "elicitation" */
    mcp_client_request_fn      roots;        /* non-NULL declares "roots" {"listChanged":true} */
    mcp_client_log_fn          log;
    mcp_client_progress_fn     progress;     /* non-NULL: tools/call carries a progressToken */
    mcp_client_notification_fn notification; /* every other notification (list_changed, ...) */
    void                      *udata;        /* passed to every callback */
} mcp_client_callbacks;

/* ------------------------------------------------------------------------------------------ */
/* Options and lifecycle                                                                      */

typedef struct mcp_client_opts {
    const char *name;               /* clientInfo.name (default "libmcp-client") */
    const char *version;            /* clientInfo.version (default MCP_VERSION_STRING) */
    const char *title;              /* clientInfo.title, optional */
    const char *protocol_version;   /* initialize offers it (default MCP_PROTOCOL_LATEST);
                                     * MCP_PROTOCOL_2026 here means protocol = MODERN */
    mcp_client_protocol protocol;   /* era selection (default MCP_CLIENT_PROTOCOL_AUTO) */
    unsigned    request_timeout_ms; /* per request; restarts after a re-authorization (60000) */
    unsigned    connect_timeout_ms; /* TCP/TLS connect (default 10000) */
    size_t      max_message;        /* MCP_CLIENT_DEFAULT_MAX_MESSAGE when 0 */
    bool        get_stream;         /* open the standalone GET SSE stream after init (off) */
    /* Static credential sent on every HTTP request; copied, wiped on free. NULL = none. */
    const char *bearer_token;
    /* Header carrying bearer_token: NULL or "Authorization" sends "Authorization: Bearer <t>";
     * any other name (e.g. "X-API-Key") sends the raw value in that header. */
    const char *auth_header;
    /* OAuth 2.1 client; borrowed, must outlive the client. Used on 401/403 (HTTP only). */
    mcp_oauth  *oauth;
    /* Extra request headers "Name: value", NULL-terminated; copied. */
    const char *const *headers;
    bool        verbose;            /* log each HTTP exchange (method, URL, status) to stderr */
    mcp_client_callbacks cb;
    /* PEM file of the CA certificate(s) that verify an https:// server's certificate instead
     * of the system's trust store (MCP requests only, not the OAuth exchanges); copied.
     * Default NULL: the system store. @since 0.2 */
    const char *ca_file;
} mcp_client_opts;

/** Fill o with the defaults above. @since 0.1 */
MCP_EXTERN void mcp_client_opts_default(mcp_client_opts *o);

/**
 * Create an unconnected client. Strings in opts are copied.
 * @param[out] out New client; release with mcp_client_free().
 * @return MCP_OK, MCP_ERR_INVALID_ARG or MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_client_new(const mcp_client_opts *opts, mcp_client **out, mcp_error *err);

/**
 * Connect over Streamable HTTP to url (http:// or https://) and run the initialize handshake.
 * @return MCP_OK; MCP_ERR_UNAUTHENTICATED / MCP_ERR_FORBIDDEN (401/403 that could not be
 *         resolved), MCP_ERR_IO (unreachable, HTTP error), MCP_ERR_TIMEOUT, MCP_ERR_PARSE,
 *         MCP_ERR_TOO_LARGE, MCP_ERR_PROTOCOL, MCP_ERR_UNSUPPORTED (version the client does
 *         not speak), MCP_ERR_STATE (already connected).
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_client_connect_http(mcp_client *c, const char *url, mcp_error *err);

/**
 * Spawn argv (argv[0] looked up in PATH; no shell) with its stdin/stdout as the transport and
 * run the initialize handshake. The child's stderr is inherited.
 * @param argv NULL-terminated; borrowed.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_client_connect_stdio(mcp_client *c, const char *const *argv, mcp_error *err);

/**
 * End the session (HTTP: DELETE with the session id; stdio: close stdin, then terminate the
 * child) and free everything. NULL is allowed.
 */
MCP_EXTERN void mcp_client_free(mcp_client *c);

/* After a successful connect; borrowed until mcp_client_free(). */
MCP_EXTERN const char *mcp_client_protocol_version(const mcp_client *c);
MCP_EXTERN const json_t *mcp_client_server_info(const mcp_client *c);         /* serverInfo object */
MCP_EXTERN const json_t *mcp_client_server_capabilities(const mcp_client *c); /* capabilities object */
MCP_EXTERN const char *mcp_client_instructions(const mcp_client *c);          /* or NULL */
MCP_EXTERN const char *mcp_client_session_id(const mcp_client *c);            /* or NULL */

/* ------------------------------------------------------------------------------------------ */
/* Generic JSON-RPC                                                                           */

/*
 * A JSON-RPC error from the server becomes a status: -32601 -> MCP_ERR_NOT_FOUND, -32602 ->
 * MCP_ERR_INVALID_ARG, -32002 -> MCP_ERR_NOT_FOUND, -32001 -> MCP_ERR_UNAUTHENTICATED,
 * -32003 -> MCP_ERR_FORBIDDEN, anything else -> MCP_ERR_PROTOCOL; err->rpc_code holds the code
 * and err->message the server's message (control characters removed).
 */

/**
 * Send a request and wait for its result (up to request_timeout_ms). On timeout the client
 * sends notifications/cancelled and returns MCP_ERR_TIMEOUT.
 * @param params Borrowed; NULL sends no params.
 * @param[out] result Set only on MCP_OK (caller owns one reference).
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_client_request(mcp_client *c, const char *method, const json_t *params,
                              json_t **result, mcp_error *err);

/** Start a request without waiting; *id identifies it for mcp_client_wait/cancel. @since 0.1 */
MCP_EXTERN mcp_status mcp_client_request_async(mcp_client *c, const char *method, const json_t *params,
                                    int64_t *id, mcp_error *err);
/**
 * Wait for an async request. timeout_ms 0 = request_timeout_ms. On MCP_ERR_TIMEOUT the request
 * stays outstanding (wait again or cancel it); any other return forgets it.
 */
MCP_EXTERN mcp_status mcp_client_wait(mcp_client *c, int64_t id, unsigned timeout_ms, json_t **result,
                           mcp_error *err);
/** Cancel an outstanding request: sends notifications/cancelled and forgets it. */
MCP_EXTERN mcp_status mcp_client_cancel(mcp_client *c, int64_t id, const char *reason, mcp_error *err);
/** Send a notification (waits until the server accepted it). params borrowed, may be NULL. */
MCP_EXTERN mcp_status mcp_client_notify(mcp_client *c, const char *method, const json_t *params,
                             mcp_error *err);
/** Process incoming messages (callbacks) for up to timeout_ms. */
MCP_EXTERN mcp_status mcp_client_poll(mcp_client *c, unsigned timeout_ms, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* MCP methods                                                                                */

/** ping (2025 revisions); at 2026-07-28, which has no ping, a server/discover. */
MCP_EXTERN mcp_status mcp_client_ping(mcp_client *c, mcp_error *err);
/** tools/list, following nextCursor (at most 1000 pages); *tools = the concatenated array. */
MCP_EXTERN mcp_status mcp_client_list_tools(mcp_client *c, json_t **tools, mcp_error *err);
/**
 * tools/call. args borrowed (NULL = no arguments). *result is the CallToolResult; a result with
 * isError:true is still MCP_OK (check it with mcp_client_result_is_error()).
 */
MCP_EXTERN mcp_status mcp_client_call_tool(mcp_client *c, const char *name, const json_t *args,
                                json_t **result, mcp_error *err);
/** Does a CallToolResult carry isError:true? */
MCP_EXTERN bool mcp_client_result_is_error(const json_t *result);
MCP_EXTERN mcp_status mcp_client_list_resources(mcp_client *c, json_t **resources, mcp_error *err);
MCP_EXTERN mcp_status mcp_client_list_resource_templates(mcp_client *c, json_t **templates, mcp_error *err);
MCP_EXTERN mcp_status mcp_client_read_resource(mcp_client *c, const char *uri, json_t **result,
                                    mcp_error *err);
MCP_EXTERN mcp_status mcp_client_subscribe(mcp_client *c, const char *uri, mcp_error *err);
MCP_EXTERN mcp_status mcp_client_unsubscribe(mcp_client *c, const char *uri, mcp_error *err);
MCP_EXTERN mcp_status mcp_client_list_prompts(mcp_client *c, json_t **prompts, mcp_error *err);
/** prompts/get; args is an object of strings (borrowed, may be NULL). */
MCP_EXTERN mcp_status mcp_client_get_prompt(mcp_client *c, const char *name, const json_t *args,
                                 json_t **result, mcp_error *err);
/**
 * completion/complete. ref_type "ref/prompt" (ref_name = prompt name) or "ref/resource"
 * (ref_name = URI template).
 */
MCP_EXTERN mcp_status mcp_client_complete(mcp_client *c, const char *ref_type, const char *ref_name,
                               const char *arg_name, const char *arg_value, json_t **result,
                               mcp_error *err);
/** The lowest level of log messages to receive ("debug", "info", "notice", "warning", "error",
 *  ...). At 2025 revisions: a logging/setLevel request. At 2026-07-28 (no setLevel there): the
 *  level is kept and sent in every request's _meta ("io.modelcontextprotocol/logLevel"), and only
 *  when a log callback is set; with a callback and no level set, "debug" is sent. */
MCP_EXTERN mcp_status mcp_client_set_log_level(mcp_client *c, const char *level, mcp_error *err);
/** notifications/roots/list_changed. */
MCP_EXTERN mcp_status mcp_client_notify_roots_changed(mcp_client *c, mcp_error *err);

/**
 * Build the content of an elicitation "accept" from a requestedSchema: every property with a
 * "default" gets it (SEP-1034); required properties without a default make the call fail with
 * MCP_ERR_INVALID_ARG (a caller must ask the user instead).
 * @param[out] content New object (caller owns).
 */
MCP_EXTERN mcp_status mcp_client_elicit_defaults(const json_t *requested_schema, json_t **content,
                                      mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* OAuth 2.1 (MCP authorization, 2025-11-25)                                                  */

typedef enum mcp_oauth_grant {
    MCP_OAUTH_GRANT_AUTHORIZATION_CODE = 0, /* PKCE S256; the default */
    MCP_OAUTH_GRANT_CLIENT_CREDENTIALS = 1, /* machine-to-machine: secret or private_key_jwt */
    MCP_OAUTH_GRANT_TOKEN_EXCHANGE = 2,     /* SEP-990: IdP ID token -> ID-JAG -> jwt-bearer */
    /* Workload identity federation (SEP-1933): present opts.assertion, a JWT the workload's
     * platform issued, as an RFC 7523 JWT-bearer grant. Needs a pre-registered client_id.
     * A refused grant is reported, never retried with another grant. */
    MCP_OAUTH_GRANT_JWT_BEARER = 3
} mcp_oauth_grant;

typedef enum mcp_oauth_login {
    /* Fetch the authorization URL without following redirects automatically: walk the AS's own
     * redirects (with cookies) and take code/state from the Location that points at
     * redirect_uri. Works with ASs that log in without a page (test IdPs, mock ASs). */
    MCP_OAUTH_LOGIN_HEADLESS = 0,
    /* Listen on http://127.0.0.1:<ephemeral>/callback, show the URL (show_url, default: print to
     * stderr) and wait for the browser's redirect. */
    MCP_OAUTH_LOGIN_LOOPBACK = 1,
    /* Call opts.authorize. */
    MCP_OAUTH_LOGIN_CALLBACK = 2
} mcp_oauth_login;

/**
 * Custom login: open authorization_url somehow and report the URL the AS redirected the user
 * to (redirect_uri?code=...&state=...). Set *callback_url to a string the callee owns; the
 * library copies it as soon as the callback returns, so it only has to outlive the return.
 * Return MCP_OK or a failure status (err says why).
 */
typedef mcp_status (*mcp_oauth_authorize_fn)(void *udata, const char *authorization_url,
                                             const char *redirect_uri,
                                             const char **callback_url, mcp_error *err);
/** Show the authorization URL to the user (loopback login). */
typedef void (*mcp_oauth_show_url_fn)(void *udata, const char *authorization_url);

/* DPoP (RFC 9449, sender-constrained tokens). */
typedef enum mcp_oauth_dpop {
    /* Use DPoP when the MCP server takes it (it challenged with the DPoP scheme, or its
     * protected-resource metadata lists dpop_signing_alg_values_supported) and the
     * authorization server advertises ES256 in dpop_signing_alg_values_supported: a P-256 key
     * is made in memory for the mcp_oauth object, every token request and MCP request carries
     * a fresh proof, server nonces are honoured. DPoP-bound tokens are kept in memory only
     * (never in token_cache_path). The default. */
    MCP_OAUTH_DPOP_AUTO = 0,
    MCP_OAUTH_DPOP_OFF = 1          /* plain Bearer tokens only */
} mcp_oauth_dpop;

typedef struct mcp_oauth_opts {
    mcp_oauth_grant grant;
    mcp_oauth_login login;
    /* Client identity, in the spec's order of preference: pre-registered (client_id), a client
     * ID metadata document URL (used when the AS advertises support), else dynamic client
     * registration (RFC 7591) when the AS has a registration_endpoint. */
    const char *client_id;
    const char *client_secret;        /* wiped on free */
    /* Expected authorization server (its issuer identifier, e.g. "https://login.example.com").
     * NULL trusts the authorization server the MCP server's protected-resource metadata names,
     * which is what the MCP spec describes but means a malicious MCP server can name its own
     * AS and receive client_secret / the private_key_jwt assertion. When set, discovery only
     * uses this issuer: metadata naming another one fails with MCP_ERR_UNAUTHENTICATED before
     * any request to that server, and cached tokens from another issuer are not used.
     * Compared like RFC 8414 issuers (exact, ignoring trailing slashes). Recommended whenever
     * client_secret or private_key_pem is set. */
    const char *issuer;
    const char *client_metadata_url;  /* CIMD: an https URL that serves the client's metadata */
    const char *client_name;          /* DCR client_name (default "libmcp client") */
    /* Token endpoint authentication: NULL chooses from the AS metadata and the registration;
     * or one of "client_secret_basic", "client_secret_post", "none", "private_key_jwt". */
    const char *token_endpoint_auth_method;
    const char *private_key_pem;      /* private_key_jwt: PKCS#8 (or traditional) PEM text */
    const char *signing_alg;          /* "ES256" or "RS256"; default from the key type */
    const char *key_id;               /* "kid" of the client assertion, optional */
    /* Scope to request. NULL: the challenge's scope, else the PRM's scopes_supported, else none
     * (MCP scope selection strategy). On 403 insufficient_scope the challenge is added. */
    const char *scope;
    bool        offline_access;       /* add offline_access when the AS lists it (default true) */
    const char *redirect_uri;         /* headless/callback (default http://127.0.0.1/callback) */
    const char *token_cache_path;     /* JSON file, mode 0600; NULL = keep tokens in memory only */
    unsigned    max_authorizations;   /* per request (default 3) */
    unsigned    http_timeout_ms;      /* each request to the AS (default 15000) */
    unsigned    login_timeout_ms;     /* loopback login wait (default 300000) */
    bool        allow_insecure_http;  /* permit http:// AS URLs on non-loopback hosts (tests) */
    /* SSRF rule. Every URL the client learns from a server that is not on loopback (resource
     * metadata, authorization servers, their metadata and endpoints, registration, token,
     * the login redirects) may only make it connect to public addresses: loopback, private
     * (RFC 1918, fc00::/7), link-local, unspecified and reserved addresses are refused with
     * MCP_ERR_FORBIDDEN before anything is sent. Checked on the address actually connected,
     * so DNS names resolving to such addresses are refused too. URLs on the MCP server's own
     * origin, a loopback MCP server, and the configured idp_token_endpoint are exempt. Set
     * this for deployments whose authorization server is on an internal address (it turns
     * the rule off; default false). */
    bool        allow_internal_as;
    bool        verbose;              /* log discovery steps (never secrets) */
    mcp_oauth_authorize_fn authorize; /* MCP_OAUTH_LOGIN_CALLBACK */
    mcp_oauth_show_url_fn  show_url;  /* MCP_OAUTH_LOGIN_LOOPBACK; NULL prints to stderr */
    void                  *udata;
    /* MCP_OAUTH_GRANT_TOKEN_EXCHANGE (SEP-990 enterprise-managed authorization). */
    const char *idp_id_token;         /* wiped on free */
    const char *idp_token_endpoint;
    const char *idp_client_id;
    const char *idp_client_secret;    /* optional; wiped on free */
    /* MCP_OAUTH_GRANT_JWT_BEARER: the workload JWT (its aud is the AS issuer); wiped on free. */
    const char *assertion;
    mcp_oauth_dpop dpop;
} mcp_oauth_opts;

/** Fill o with the defaults above. @since 0.1 */
MCP_EXTERN void mcp_oauth_opts_default(mcp_oauth_opts *o);
/**
 * Create an OAuth client. Strings are copied; secrets are wiped on free.
 * @return MCP_OK, MCP_ERR_INVALID_ARG (e.g. private key that does not parse) or MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_oauth_new(const mcp_oauth_opts *opts, mcp_oauth **out, mcp_error *err);
MCP_EXTERN void mcp_oauth_free(mcp_oauth *o);
/** Number of authorization-endpoint / grant round trips done so far (for tests and logs). */
MCP_EXTERN unsigned mcp_oauth_authorization_count(const mcp_oauth *o);
/** Forget every token for resource_url (memory and cache file). */
MCP_EXTERN mcp_status mcp_oauth_logout(mcp_oauth *o, const char *resource_url, mcp_error *err);

#ifdef __cplusplus
}
#endif
#endif
