/*
 * Private to src/client: the SSE parser, the transports, the OAuth helpers and the session glue.
 * Never included from outside this folder (tests excepted).
 */
#ifndef MCP_SRC_CLIENT_INTERNAL_H
#define MCP_SRC_CLIENT_INTERNAL_H

#include <mcp/client.h>

#include "common/common.h"
#include "net/net.h"

/* ------------------------------------------------------------------------------------------ */
/* Server-Sent Events parser (WHATWG HTML "event stream interpretation"), incremental.        */

/* Called for each dispatched event whose data is non-empty. event is "message" when the stream
 * named no type; id is the stream's last event id (NULL if none). Return MCP_OK to go on. */
typedef mcp_status (*mcp__sse_event_fn)(void *ctx, const char *event, const char *data,
                                        size_t len, const char *id);

typedef struct mcp__sse {
    mcp_buf  line;        /* the current, not yet terminated line */
    mcp_buf  data;        /* data buffer of the event being built */
    mcp_buf  event;       /* event type buffer */
    char    *last_id;     /* last event ID string (set at dispatch), NULL if none */
    char    *id_buf;      /* last event ID buffer (set by "id:" lines) */
    long     retry_ms;    /* reconnection time from "retry:", -1 if none seen */
    bool     after_cr;    /* previous chunk ended in CR: a leading LF belongs to it */
    unsigned bom_seen;    /* bytes of a leading UTF-8 BOM matched so far (3 = done/none) */
    bool     started;     /* at least one byte consumed */
    size_t   max;         /* hard limit for one line and for one event's data */
    mcp__sse_event_fn fn;
    void    *ctx;
} mcp__sse;

void mcp__sse_init(mcp__sse *p, size_t max, mcp__sse_event_fn fn, void *ctx);
void mcp__sse_cleanup(mcp__sse *p);
/* Feed bytes; events are dispatched from inside. MCP_ERR_TOO_LARGE past max, MCP_ERR_NOMEM, or
 * whatever fn returned. */
mcp_status mcp__sse_feed(mcp__sse *p, const char *buf, size_t len);

/* ------------------------------------------------------------------------------------------ */
/* WWW-Authenticate (RFC 9110 section 11.6.1) - the Bearer challenge (RFC 6750, RFC 9728).   */

typedef struct mcp__bearer_challenge {
    char *error;              /* "invalid_token", "insufficient_scope", ... */
    char *error_description;
    char *scope;
    char *resource_metadata;
    char *realm;
    bool  dpop;               /* the challenge kept is a DPoP one (RFC 9449 section 7.1) */
} mcp__bearer_challenge;

#define MCP__WWW_AUTH_MAX 8192

/* Parse a WWW-Authenticate value (several header lines joined with ", " are fine) and fill c
 * from its first Bearer or DPoP challenge. MCP_ERR_NOT_FOUND when there is no Bearer challenge, MCP_ERR_PARSE
 * on bad syntax, MCP_ERR_TOO_LARGE past MCP__WWW_AUTH_MAX. */
mcp_status mcp__www_auth_parse(const char *header, mcp__bearer_challenge *c);
void mcp__bearer_challenge_cleanup(mcp__bearer_challenge *c);

/* ------------------------------------------------------------------------------------------ */
/* URLs: parsing and host rules are in net/net.h; OAuth discovery helpers here                */

#define MCP__MAX_DISCOVERY_URLS 3
/* Protected-resource-metadata URLs to try for server_url, in order (RFC 9728 section 3.1, MCP
 * 2025-11-25): the challenge's resource_metadata if given (then nothing else), else the
 * path-based well-known URI (when the URL has a path), then the root one. Returns how many. */
size_t mcp__prm_urls(const char *server_url, const char *resource_metadata,
                     char *out[MCP__MAX_DISCOVERY_URLS]);
/* Authorization-server metadata URLs for an issuer, in the MCP order: with a path p,
 * /.well-known/oauth-authorization-server/p, /.well-known/openid-configuration/p,
 * /p/.well-known/openid-configuration; without a path, the first two at the root. */
size_t mcp__as_metadata_urls(const char *issuer, char *out[MCP__MAX_DISCOVERY_URLS]);
/* Does a PRM "resource" cover server_url? Same scheme, host and port, and the resource path is
 * a prefix of the server path on a segment boundary (RFC 9728 section 3.3, relaxed as the MCP
 * SDKs do for root-level metadata). */
bool mcp__resource_matches(const char *resource, const char *server_url);
/* The URL without its fragment (RFC 8707 resource indicator). */
char *mcp__url_canonical_resource(const char *url);
/* Value of query parameter name in url (decoded, new string) or NULL. */
char *mcp__url_query_param(const char *url, const char *name);
/* Does url point at base (same string up to the end of base, then '?', '#' or end)? */
bool mcp__url_has_base(const char *url, const char *base);
/* Append "name=value" (form-urlencoded, '&'-joined) to b. NULL value appends nothing. */
mcp_status mcp__form_add(mcp_buf *b, const char *name, const char *value);
/* Percent-encode s (application/x-www-form-urlencoded); new string. */
char *mcp__form_encode(const char *s);

/* ------------------------------------------------------------------------------------------ */
/* PKCE (RFC 7636) and random strings                                                         */

#define MCP__PKCE_VERIFIER_LEN 43
/* base64url(SHA-256(verifier)) into out (44 bytes incl. NUL). */
mcp_status mcp__pkce_challenge(const char *verifier, char out[44]);
/* A fresh verifier: base64url of 32 random bytes (43 chars). */
mcp_status mcp__pkce_verifier(char out[MCP__PKCE_VERIFIER_LEN + 1], mcp_error *err);
/* base64url of n random bytes (n <= 64); new string. */
char *mcp__random_token(size_t n);

/* ------------------------------------------------------------------------------------------ */
/* Client assertion (RFC 7523 private_key_jwt), signed with OpenSSL EVP                       */

/* Sign {iss,sub=client_id, aud, iat, exp=iat+lifetime, jti} with key (PEM text) using alg
 * ("ES256"/"RS256"; NULL picks by key type). *jwt is a new string. */
mcp_status mcp__jwt_sign_assertion(const char *key_pem, const char *alg, const char *kid,
                                   const char *client_id, const char *audience,
                                   int64_t now, unsigned lifetime_s, char **jwt, mcp_error *err);
/* Check a PEM parses as a private key usable with alg. */
mcp_status mcp__jwt_check_key(const char *key_pem, const char *alg, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Token cache file                                                                           */

#define MCP__TOKEN_CACHE_MAX ((size_t)1 << 20)

/* Load the JSON cache; a missing file gives an empty object. Refuses a file that is not a
 * regular file owned by us or that group/others may access (MCP_ERR_STATE). */
mcp_status mcp__token_cache_load(const char *path, json_t **doc, mcp_error *err);
/* Write doc atomically: temp file created O_CREAT|O_EXCL mode 0600 (fchmod'ed), fsync, rename. */
mcp_status mcp__token_cache_save(const char *path, const json_t *doc, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* One-shot HTTP for OAuth (blocking, libcurl easy)                                           */

typedef struct mcp__http_req {
    /* Required: the OAuth client the request is for. Its server URL and options decide the
     * address rule (mcp__oauth_addr_rule): every URL here was learned from a server. */
    const mcp_oauth *oauth;
    const char *method;        /* "GET" or "POST" */
    const char *url;
    const char *body;          /* POST body or NULL */
    const char *content_type;  /* of body */
    const char *accept;
    const char *basic_user;    /* client_secret_basic: both set (already form-encoded) */
    const char *basic_pass;
    void       *cookie_handle; /* a CURLSH * sharing cookies across calls, or NULL */
    const char *dpop;          /* a DPoP proof to send in the DPoP header, or NULL */
    size_t      max_body;
    unsigned    timeout_ms;
    bool        verbose;
} mcp__http_req;

typedef struct mcp__http_resp {
    long   status;
    char  *body;          /* NUL-terminated */
    size_t body_len;
    char  *content_type;
    char  *location;      /* absolute redirect target (3xx) */
    char  *www_auth;
    char  *dpop_nonce;    /* DPoP-Nonce response header, or NULL */
} mcp__http_resp;

/* Response header lines as libcurl hands them to a header callback (http_fetch.c, used by both
 * HTTP paths). Is the line of n bytes the header name (given in lowercase; matched
 * case-insensitively)? If so, *val and *vlen point into line at the value without leading
 * blanks or trailing blanks and CRLF. */
bool mcp__http_header_is(const char *line, size_t n, const char *name, const char **val,
                         size_t *vlen);
/* Add one WWW-Authenticate value to www, joined to earlier ones with ", ". MCP_ERR_TOO_LARGE
 * past www's max. */
mcp_status mcp__http_www_auth_add(mcp_buf *www, const char *val, size_t vlen);
mcp_status mcp__http_fetch(const mcp__http_req *rq, mcp__http_resp *rs, mcp_error *err);
void mcp__http_resp_cleanup(mcp__http_resp *rs);
/* Copy at most max printable ASCII characters of a peer-supplied string into out. */
void mcp__sanitize(const char *in, char *out, size_t outsz);

/* ------------------------------------------------------------------------------------------ */
/* Loopback redirect listener (interactive login)                                             */

typedef struct mcp__loopback mcp__loopback;
/* Listen on 127.0.0.1:0 for the login whose state is state (copied). */
mcp_status mcp__loopback_open(const char *state, mcp__loopback **out, char **redirect_uri,
                              mcp_error *err);
/* Wait for the browser's redirect carrying the state; *callback_url = redirect_uri?<query it
 * carried>. Callbacks with another state are answered 400 and ignored; after 32 of them the
 * wait fails (MCP_ERR_UNAUTHENTICATED); MCP_ERR_TIMEOUT after timeout_ms. */
mcp_status mcp__loopback_wait(mcp__loopback *l, unsigned timeout_ms, char **callback_url,
                              mcp_error *err);
void mcp__loopback_close(mcp__loopback *l);

/* ------------------------------------------------------------------------------------------ */
/* OAuth glue used by the session                                                             */

/* "Bearer <token>" for server_url (new string, wipe + free), or NULL when no token is known.
 * May refresh an expired token first. */
char *mcp__oauth_auth_value(mcp_oauth *o, const char *server_url);
/* React to a 401/403 for server_url: refresh, discover, register, authorize or step up.
 * MCP_OK means a new token is ready (retry the request). */
mcp_status mcp__oauth_handle_challenge(mcp_oauth *o, const char *server_url, long http_status,
                                       const char *www_authenticate, mcp_error *err);

/* How often one request may be re-authorized (opts.max_authorizations). */
unsigned mcp__oauth_max_authorizations(const mcp_oauth *o);

/* mcp_client_request, adding _meta.progressToken when a progress callback is set (api.c). */
mcp_status mcp__client_request_progress(mcp_client *c, const char *method, const json_t *params,
                                        json_t **result, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Transports                                                                                 */

typedef enum mcp__ev_type {
    MCP__EV_MESSAGE,  /* msg: one JSON-RPC message from the server */
    MCP__EV_DONE,     /* an outbound exchange finished (see status / http_status) */
    MCP__EV_CLOSED    /* the transport is dead (child exited, ...): status + message */
} mcp__ev_type;

typedef struct mcp__event {
    mcp__ev_type type;
    json_t      *msg;          /* MESSAGE (owned) */
    uint64_t     oid;          /* DONE: outbound id given to send() */
    mcp_status   status;       /* DONE/CLOSED */
    long         http_status;  /* DONE over HTTP, else 0 */
    bool         final;        /* DONE: no response can arrive for this exchange any more */
    char        *www_auth;     /* DONE with 401/403 (owned) */
    char        *dpop_nonce;   /* DONE with 401/403: the DPoP-Nonce header (owned), or NULL */
    char         message[MCP_ERROR_MSG_MAX];
    struct mcp__event *next;
} mcp__event;

typedef struct mcp__tr mcp__tr;

typedef struct mcp__tr_ops {
    /* Start sending one message. rpc_id >= 0 for a request (lets HTTP resume SSE streams),
     * -1 otherwise. auth: a full header line ("Authorization: Bearer x") or NULL. hdrs: more
     * header lines for this message only (2026-07-28 Mcp-Method, Mcp-Name, Mcp-Param-*),
     * NULL-terminated, or NULL; ignored by transports without headers (stdio). */
    mcp_status (*send)(mcp__tr *t, uint64_t oid, int64_t rpc_id, const char *body,
                       const char *auth, const char *const *hdrs, mcp_error *err);
    /* Do I/O for up to timeout_ms; returns early once events are queued. */
    mcp_status (*pump)(mcp__tr *t, unsigned timeout_ms, mcp_error *err);
    /* Stop an exchange (timed out / cancelled); no DONE follows. NULL when a transport has
     * nothing in flight to stop (stdio). */
    void (*abort)(mcp__tr *t, uint64_t oid);
    /* After initialize / server/discover (and before it, for the discover probe). NULL when
     * the transport does not carry the version (stdio). stateless (2026-07-28): no session
     * id is adopted or sent, and there is no session to DELETE. */
    void (*set_protocol_version)(mcp__tr *t, const char *version, bool stateless);
    /* Open the standalone GET stream (HTTP only; may be NULL). */
    void (*open_stream)(mcp__tr *t, const char *auth);
    /* Graceful end and free. */
    void (*close)(mcp__tr *t);
    /* The session id the server gave, or NULL. The op is NULL without sessions (stdio). */
    const char *(*session_id)(const mcp__tr *t);
} mcp__tr_ops;

/* The queue every transport appends to; owned by the client. */
typedef struct mcp__evq {
    mcp__event *head, *tail;
} mcp__evq;

void mcp__evq_push(mcp__evq *q, mcp__event *ev);
mcp__event *mcp__evq_pop(mcp__evq *q);
void mcp__event_free(mcp__event *ev);
mcp__event *mcp__event_new(mcp__ev_type type);
/* Queue a MESSAGE (or every element of a batch array); takes msg. */
mcp_status mcp__evq_push_message(mcp__evq *q, json_t *msg);
/* Queue an event of type with oid, status and a one-line message (NULL: none; truncated to
 * MCP_ERROR_MSG_MAX). Returns it for the caller to fill in more, or NULL when out of memory. */
mcp__event *mcp__evq_push_event(mcp__evq *q, mcp__ev_type type, uint64_t oid, mcp_status status,
                                const char *msg);

struct mcp__tr {
    const mcp__tr_ops *ops;
    mcp__evq          *q;
};

typedef struct mcp__http_tr_opts {
    const char *url;
    unsigned    connect_timeout_ms;
    size_t      max_message;
    const char *const *headers;
    bool        verbose;
    const char *ca_file;       /* CURLOPT_CAINFO, or NULL: the system store */
} mcp__http_tr_opts;

mcp_status mcp__http_tr_new(const mcp__http_tr_opts *o, mcp__evq *q, mcp__tr **out,
                            mcp_error *err);
mcp_status mcp__stdio_tr_new(const char *const *argv, size_t max_message, mcp__evq *q,
                             mcp__tr **out, mcp_error *err);

/* JSON-RPC error code -> status (see client.h). */
mcp_status mcp__rpc_code_status(json_int_t code);

/* ------------------------------------------------------------------------------------------ */
/* Protocol revision 2026-07-28 (modern.c)                                                    */

/* The client's capabilities / clientInfo objects (new). */
json_t *mcp__client_capabilities(const mcp_client *c);
json_t *mcp__client_info(const mcp_client *c);
/* Add the per-request _meta (protocolVersion, clientInfo, clientCapabilities) to params,
 * keeping what _meta already holds. */
mcp_status mcp__modern_add_meta(const mcp_client *c, json_t *params);
/* The header lines of one message: Mcp-Method, Mcp-Name (tools/call, prompts/get:
 * params.name; resources/read: params.uri; tasks/ *: params.taskId) and, for tools/call of a
 * listed tool, Mcp-Param-<x-mcp-header> for each annotated argument present. *out is
 * NULL-terminated (free with mcp__header_list_free). */
mcp_status mcp__modern_headers(const mcp_client *c, const char *method, const json_t *params,
                               char ***out);
void mcp__header_list_free(char **h);
/* SEP-2243 value encoding: values with characters outside printable ASCII or with leading or
 * trailing blanks travel as =?base64?<base64 of the UTF-8>?=. New string. */
bool mcp__header_value_needs_b64(const char *v);
char *mcp__header_value_encode(const char *v);
/* Are the x-mcp-header annotations of a tool definition valid (non-empty token names, on
 * string/integer/boolean properties only, unique ignoring case)? why says what is wrong. */
bool mcp__tool_headers_valid(const json_t *tool, char *why, size_t whysz);
/* Drop tools with invalid annotations from a tools/list array (logged) and remember the
 * input schemas of the rest (for Mcp-Param-* headers). */
mcp_status mcp__modern_filter_tools(mcp_client *c, json_t *tools);

/* ------------------------------------------------------------------------------------------ */
/* The session: client.c (lifecycle, connect, initialize) and exchange.c (outbound exchanges) */

typedef struct mcp__outbound mcp__outbound;

struct mcp_client {
    char        *name, *version, *title, *offer;
    unsigned     request_timeout_ms, connect_timeout_ms;
    size_t       max_message;
    bool         get_stream, verbose;
    char        *bearer;           /* secret */
    char        *auth_header;
    mcp_oauth   *oauth;
    char       **headers;
    mcp_client_callbacks cb;
    char        *ca_file;          /* mcp_client_opts.ca_file */

    mcp__evq     q;
    mcp__tr     *tr;
    bool         is_http, connected, dead;
    char        *url;
    int64_t      next_id;
    uint64_t     next_oid;
    mcp__outbound *obs;      /* exchange.c: messages not yet finished */
    int          in_callback;

    char        *negotiated;
    json_t      *server_info, *server_caps;
    char        *instructions;

    /* 2026-07-28 */
    mcp_client_protocol proto_mode;
    bool         modern;             /* requests carry _meta and the SEP-2243 headers */
    json_t      *tool_schemas;       /* tool name -> inputSchema, from the last tools/list */
    json_t      *supported_versions; /* server/discover's supportedVersions, or NULL */
    const char  *log_level;          /* a static level name: _meta logLevel with a log callback */
};

/* Send a request and wait for its result (*result is new). progress: add _meta.progressToken.
 * In the 2026 era an input_required result is answered through the callbacks and the request
 * sent again (at most MCP__MAX_INPUT_ROUNDS times). */
#define MCP__MAX_INPUT_ROUNDS 16
mcp_status mcp__client_rpc(mcp_client *c, const char *method, const json_t *params,
                           bool progress, json_t **result, mcp_error *err);
/* The same, one round only; on a JSON-RPC error *err_data gets its "data" (new, may be NULL). */
mcp_status mcp__client_rpc_once(mcp_client *c, const char *method, const json_t *params,
                                bool progress, json_t **result, json_t **err_data,
                                mcp_error *err);
/* Run a server->client request (sampling, elicitation, roots, ping) through the callbacks:
 * *result is new on MCP_OK; else e says why (rpc_code set). */
mcp_status mcp__client_call_handler(mcp_client *c, const char *method, const json_t *params,
                                    json_t **result, mcp_error *e);
/* Send a notification and wait until the transport delivered it. params is borrowed. */
mcp_status mcp__client_notify(mcp_client *c, const char *method, const json_t *params,
                              mcp_error *err);
/* Give messages nobody waits for up to max_ms to leave, before the transport is closed. */
void mcp__client_flush_detached(mcp_client *c, unsigned max_ms);
/* Free every outbound record (after the transport is closed). */
void mcp__client_free_outbounds(mcp_client *c);

/* ------------------------------------------------------------------------------------------ */
/* The OAuth client's state and steps: oauth.c (object, entry points, scope selection and      */
/* step-up), oauth_cache.c, oauth_discovery.c, oauth_register.c, oauth_token.c,               */
/* oauth_authorize.c                                                                          */

#define MCP__OAUTH_META_MAX ((size_t)1 << 20)      /* one metadata / registration document */
#define MCP__OAUTH_TOKEN_MAX ((size_t)64 * 1024)   /* one access/refresh token */

struct mcp_oauth {
    /* options */
    mcp_oauth_grant grant;
    mcp_oauth_login login;
    char *opt_client_id, *opt_client_secret, *client_metadata_url, *client_name;
    char *opt_auth_method, *private_key_pem, *signing_alg, *key_id, *opt_scope;
    char *opt_redirect_uri, *cache_path;
    char *opt_issuer;             /* pinned authorization server, or NULL */
    char *idp_id_token, *idp_token_endpoint, *idp_client_id, *idp_client_secret;
    char *assertion;              /* workload JWT (MCP_OAUTH_GRANT_JWT_BEARER), secret */
    bool offline_access, allow_http, verbose;
    bool allow_internal;          /* opts.allow_internal_as: no address rule for learned URLs */
    /* CURLOPT_RESOLVE entries for the OAuth requests, NULL-terminated, borrowed (set by tests
     * to give a loopback listener a non-loopback name), or NULL */
    const char *const *resolve;
    unsigned max_auth, http_timeout_ms, login_timeout_ms;
    mcp_oauth_authorize_fn authorize;
    mcp_oauth_show_url_fn show_url;
    void *udata;

    /* tokens for server_url */
    char *server_url;
    char *access_token, *refresh_token, *requested_scope;
    char *token_issuer;           /* issuer the tokens above came from (refresh goes only there) */
    int64_t expires_at;           /* unix seconds, 0 = unknown */
    uint64_t refreshed_at_ms;     /* last successful refresh (monotonic) */

    /* discovery results */
    bool discovered, legacy;
    char *resource;               /* RFC 8707 resource indicator */
    json_t *prm_scopes;           /* PRM scopes_supported (array) or NULL */
    json_t *as_meta;              /* AS metadata, NULL in the endpoint fallback */
    char *issuer, *authz_ep, *token_ep, *reg_ep;

    /* client identity in use, and the issuer it belongs to (credentials are bound to the
     * authorization server that issued them: SEP-2352) */
    char *client_id, *client_secret, *auth_method;
    char *client_issuer;

    unsigned count;
    void *cookie_curl;            /* headless login: a CURLSH keeping the AS's cookies */

    /* DPoP (dpop.c) */
    mcp_oauth_dpop dpop_mode;
    void   *dpop_key;             /* EVP_PKEY *, made on first use */
    json_t *dpop_jwk;             /* its public JWK */
    char   *dpop_as_nonce, *dpop_rs_nonce;
    bool    dpop_rs_nonce_new;    /* a use_dpop_nonce 401 brought a nonce not yet tried */
    bool    dpop_sent;            /* the last token request carried a proof */
    bool    dpop_bound;           /* the access token is DPoP-bound (token_type DPoP) */
    bool    rs_dpop;              /* the MCP server takes DPoP: a DPoP challenge, or its PRM
                                   * lists dpop_signing_alg_values_supported (RFC 9728) */
};

/* dpop.c / jwt_sign.c: DPoP proofs (RFC 9449). */
mcp_status mcp__dpop_key_new(void **key, json_t **jwk, mcp_error *err);
void mcp__dpop_key_free(void *key);
/* Sign claims as a dpop+jwt with the key, its jwk in the header. */
mcp_status mcp__dpop_sign(void *key, const json_t *jwk, const json_t *claims, char **jwt,
                          mcp_error *err);
/* Do both sides take DPoP (the MCP server: rs_dpop; the AS: ES256 in its
 * dpop_signing_alg_values_supported), and the application did not turn it off? */
bool mcp__oauth_dpop_wanted(const mcp_oauth *o);
/* A proof for htm url; token (ath) and nonce may be NULL. *proof is new. */
mcp_status mcp__oauth_dpop_proof(mcp_oauth *o, const char *htm, const char *url,
                                 const char *token, const char *nonce, char **proof,
                                 mcp_error *err);
/* "DPoP: <proof>" for a POST to url with the bound access token, or NULL when not bound. */
char *mcp__oauth_dpop_line(mcp_oauth *o, const char *url);
/* Remember a DPoP-Nonce the AS (from_as) or the MCP server sent. */
void mcp__oauth_dpop_nonce(mcp_oauth *o, bool from_as, const char *nonce);

/* Wipe (the string may be a secret), free and NULL *s. */
void mcp__free_secret(char **s);
/* Replace *dst (wiped) with a copy of src (NULL allowed). MCP_ERR_NOMEM leaves *dst as it was. */
mcp_status mcp__set_str(char **dst, const char *src);
/* The string member key of o, or NULL. */
const char *mcp__json_str(const json_t *o, const char *key);
/* Does the array hold the string s? */
bool mcp__json_array_has(const json_t *arr, const char *s);
/* Issuer identifiers equal up to trailing slashes. */
bool mcp__same_issuer(const char *a, const char *b);
/* May we use authorization server iss (its tokens, its token endpoint)? Any, unless pinned. */
bool mcp__oauth_issuer_allowed(const mcp_oauth *o, const char *iss);
/* The address rule for a request to url on behalf of the server in o->server_url: URLs on
 * that server's own origin (scheme, host, port: the user chose it), on a loopback server, the
 * configured SEP-990 IdP token endpoint, or with allow_internal_as set: MCP__NET_ADDR_ANY;
 * every other URL was learned from the server and gets MCP__NET_ADDR_PUBLIC_ONLY. */
mcp__net_addr_rule mcp__oauth_addr_rule(const mcp_oauth *o, const char *url);
/* GET url (https or loopback) and parse a JSON object; MCP_ERR_NOT_FOUND for a non-200. */
mcp_status mcp__oauth_get_json(mcp_oauth *o, const char *url, json_t **out, mcp_error *err);
void mcp__oauth_reset_discovery(mcp_oauth *o);
void mcp__oauth_reset_tokens(mcp_oauth *o);

/* oauth_cache.c: switch the state to server_url (loading its cached tokens); store the tokens
 * in force; store / load the client registered at the current issuer for redirect_uri. */
mcp_status mcp__oauth_use_server(mcp_oauth *o, const char *server_url);
void mcp__oauth_cache_store(mcp_oauth *o);
void mcp__oauth_cache_store_client(mcp_oauth *o, const char *redirect_uri);
bool mcp__oauth_cache_load_client(mcp_oauth *o, const char *redirect_uri);

/* oauth_discovery.c: resource and authorization server metadata, once per server. */
mcp_status mcp__oauth_discover(mcp_oauth *o, const char *resource_metadata, mcp_error *err);
/* oauth_register.c: settle client_id / secret / auth method for this AS (redirect_uri: NULL
 * for grants without one). */
mcp_status mcp__oauth_ensure_client(mcp_oauth *o, const char *redirect_uri, mcp_error *err);

/* A form field; a NULL value leaves the field out (mcp__form_add). */
typedef struct mcp__form_field {
    const char *name, *value;
} mcp__form_field;
/* Append fields to form in order, stopping at the first failure. */
mcp_status mcp__form_add_fields(mcp_buf *form, const mcp__form_field *fields, size_t n);

/* oauth_token.c: the grants at the token endpoint. Each keeps the tokens on success. */
mcp_status mcp__oauth_refresh(mcp_oauth *o, mcp_error *err);
mcp_status mcp__oauth_client_credentials(mcp_oauth *o, const char *scope, mcp_error *err);
mcp_status mcp__oauth_token_exchange(mcp_oauth *o, const char *scope, mcp_error *err);
mcp_status mcp__oauth_jwt_bearer(mcp_oauth *o, const char *scope, mcp_error *err);
/* Redeem an authorization code (with the PKCE verifier and the redirect URI it was sent to). */
mcp_status mcp__oauth_redeem_code(mcp_oauth *o, const char *code, const char *redirect_uri,
                                  const char *verifier, const char *scope, mcp_error *err);
/* oauth_authorize.c: the authorization code grant with PKCE, through the login mode set. */
mcp_status mcp__oauth_authorization_code(mcp_oauth *o, const char *scope, mcp_error *err);

#endif
