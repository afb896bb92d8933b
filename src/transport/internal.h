/*
 * Private to src/transport's HTTP files: the transport state, streams, connection state.
 * http.c is the access handler and lifecycle, http_stream.c the output streams and GET,
 * http_checks.c the transport checks as a table of TRANSPORT-phase entries, http_accept.c
 * the accept loop.
 */
#ifndef MCP_SRC_TRANSPORT_INTERNAL_H
#define MCP_SRC_TRANSPORT_INTERNAL_H

#include "core/core.h"

#include <microhttpd.h>

#define MCP__HTTP_NCHECKS 10
#define MCP__HTTP_ACCEPT_SLACK 64   /* the daemon's connection limit is ours plus this */

typedef struct mcp__http mcp__http;

/* Counters of /metrics (http_metrics.c): relaxed atomics, written once per request. */
#define MCP__METRIC_NSTATUS 17      /* the statuses named in http_metrics.c, then "other" */
#define MCP__METRIC_NMETHOD 5       /* GET POST DELETE HEAD other */
#define MCP__METRIC_NBUCKET 11      /* latency bounds; one more slot counts +Inf */
typedef struct mcp__http_metrics {
    atomic_uint_fast64_t requests[MCP__METRIC_NMETHOD][MCP__METRIC_NSTATUS];
    atomic_uint_fast64_t latency[MCP__METRIC_NBUCKET + 1];
    atomic_uint_fast64_t latency_sum_ms;
} mcp__http_metrics;

#define MAX_SESSION_STREAMS 16
#define PRM_PATH "/.well-known/oauth-protected-resource"

struct mcp__http {
    mcp_server        *srv;
    struct MHD_Daemon *d;
    char              *host;
    char              *path;
    char              *resource_url;
    char              *prm_json;
    char              *health_path;    /* NULL: no liveness endpoint */
    char              *metrics_path;   /* NULL: no /metrics */
    char              *ready_path;     /* NULL: no readiness endpoint */
    mcp_http_ready_fn  ready_fn;       /* NULL: ready whenever it answers */
    void              *ready_ctx;
    mcp__http_metrics  metrics;
    char              *tls_cert;       /* PEM text, kept while the daemon runs (NULL: HTTP) */
    char              *tls_key;        /* wiped before it is freed */
    size_t             tls_key_len;
    struct mcp__http_tls *tls;         /* the credentials handed to GnuTLS (http_tls.c) */
    char             **allowed_hosts;
    char             **allowed_origins;
    size_t             max_body;
    unsigned           retry_ms;
    size_t             replay_events;
    bool               rebinding;
    bool               access_log;
    uint16_t           port;
    atomic_bool        stopping;
    atomic_int         active_posts;   /* POSTs between headers and completion */
    atomic_int         authn_jobs;     /* blocking authentication runs on workers */
    atomic_int         nreqs;          /* requests between headers and completion */
    unsigned           max_streams_per_principal;
    unsigned           suspend_timeout_s;
    uint64_t           last_ping_ms;   /* keep-alive comments on parked SSE streams */
    MHD_socket         lfd;            /* the listen socket (ours: http_accept.c accepts) */
    atomic_bool        quiesced;       /* shutdown began: accept nothing */
    int                wake_r, wake_w; /* pipe waking the accept thread (stop, a slot freed) */
    pthread_t          acceptor;
    bool               acceptor_on;
    bool               accept_dead;    /* accept() failed for good: stopped accepting */
    uint64_t           accept_warned_ms;
    atomic_uint        nconns;         /* connections the daemon holds */
    atomic_int         pending;        /* handed to the daemon, not yet taken up */
    uint64_t           last_add_ms;
    unsigned           conn_limit;     /* --max-connections: past it, connections wait */
    pthread_mutex_t    live_mu;        /* guards the list of live streams */
    struct stream     *live;           /* every stream not yet freed (shutdown, ticks, caps) */
    mcp_http_route_fn  route;          /* other resources (mcp_http_opts.route) */
    void              *route_ctx;
    size_t             route_max_body;
    mcp__mw            checks[MCP__HTTP_NCHECKS]; /* the TRANSPORT-phase checks (http_checks.c) */
};

typedef struct event {
    uint64_t seq;
    char    *data;
    size_t   len;
} event;

typedef struct stream {
    mcp__sink              sink;        /* first: the protocol layer sees only this */
    atomic_int             refs;
    struct stream         *lnext, *lprev; /* h->live, under h->live_mu */
    char                  *owner;       /* owner key of the principal, or NULL */
    uint64_t               last_data_ms; /* creation or last event (suspend timeout) */
    bool                   timed_out;   /* parked past the suspend timeout: answer 504 */
    pthread_mutex_t        mu;
    mcp__http             *h;
    mcp__session          *sess;        /* reference, or NULL (stateless) */
    unsigned               id;
    struct MHD_Connection *conn;        /* attached connection, or NULL */
    bool                   suspended;
    bool                   sse;         /* answer as text/event-stream */
    bool                   accept_sse;  /* client accepts text/event-stream */
    bool                   prime;       /* send a priming event (SEP-1699) */
    bool                   final_seen;
    bool                   closed_early;
    bool                   standalone;
    bool                   ended;
    bool                   registered;
    bool                   ping;        /* write a keep-alive comment */
    char                  *final_msg;   /* JSON mode */
    size_t                 final_len;
    event                 *ring;
    size_t                 ring_cap, ring_n, ring_head;
    uint64_t               next_seq;
    uint64_t               sent_seq;
} stream;

typedef struct http_sess {
    stream  *streams[MAX_SESSION_STREAMS];
    unsigned next_id;
} http_sess;

typedef struct reader {
    stream                *st;
    struct MHD_Connection *conn;
    bool                   is_post;
    bool                   primed;
    mcp_buf                out;
    size_t                 off;
} reader;

typedef enum conn_phase { PH_NEW, PH_AUTHN_HDR, PH_BODY, PH_WAIT, PH_DONE, PH_ROUTE } conn_phase;

typedef struct conn_state {
    mcp__http   *h;
    mcp_request  req;
    conn_phase   phase;
    mcp_buf      body;
    stream      *st;
    mcp__session *created;
    json_t      *rpc_id;
    uint64_t     t0;
    unsigned     status;
    char         rpc_method[48];
    char         peer[48];
    bool         counted;          /* in h->active_posts */
    bool         is_get, is_del;
    bool         too_large;        /* a chunked body went past max_body: discard, then 413 */
    bool         close_after;      /* refused before its body was read: close, read no more */
    size_t       discarded;
    mcp_status   authn_rc;         /* result of that run */
    mcp_error    authn_err;
} conn_state;

/* ---- http_stream.c ----------------------------------------------------------------------- */

stream *mcp__http_stream_new(mcp__http *h, mcp__session *sess, bool standalone);
void mcp__http_stream_release(mcp__sink *s);
/* After the body pipeline or on resume: answer if the stream has something, else park. */
enum MHD_Result mcp__http_answer_or_park(conn_state *cs, struct MHD_Connection *c);
enum MHD_Result mcp__http_handle_get(conn_state *cs, struct MHD_Connection *c);
/* Transport op: a session was removed. */
void mcp__http_session_closed(mcp__session *s);
/* End every live stream (shutdown): each parked connection is resumed and answered. */
void mcp__http_end_all_streams(mcp__http *h);
/* Once a second (the reaper): parked connections past the suspend timeout are answered, parked
 * SSE streams get a keep-alive comment every MCP__KEEPALIVE_S seconds. */
void mcp__http_tick(mcp__http *h);
/* Connections the principal with this owner key holds open on streams. */
unsigned mcp__http_open_streams(mcp__http *h, const char *owner);

/* ---- http.c ------------------------------------------------------------------------------ */

enum MHD_Result mcp__http_send_body(conn_state *cs, struct MHD_Connection *c, unsigned status,
                                    const char *ctype, char *body, size_t len);
enum MHD_Result mcp__http_send_rpc_error(conn_state *cs, struct MHD_Connection *c,
                                         unsigned status, int32_t code, const char *message);

/* ---- http_accept.c ---------------------------------------------------------------------- */

/* Start accepting on lfd (made non-blocking) for h->d, at most conn_limit connections at once;
 * on MCP_OK h owns lfd. */
mcp_status mcp__http_acceptor_start(mcp__http *h, int lfd, unsigned conn_limit, mcp_error *err);
/* Stop accepting and close the listen socket (new connections are refused from then on);
 * true if it was accepting. */
bool mcp__http_acceptor_stop(mcp__http *h);
/* Stop, then release the wake-up pipe. */
void mcp__http_acceptor_free(mcp__http *h);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the mcp__http). */
void mcp__http_on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                             enum MHD_ConnectionNotificationCode code);

/* ---- http_tls.c -------------------------------------------------------------------------- */

typedef struct mcp__http_tls mcp__http_tls;
/* Load and check the PEM pair (the key must be the first certificate's); paths kept for
 * reloads. err: "TLS setup failed: <file>: <reason>". */
mcp_status mcp__http_tls_new(const char *cert_path, const char *key_path, mcp__http_tls **out,
                             mcp_error *err);
/* The value of MHD_OPTION_HTTPS_CERT_CALLBACK (a gnutls_certificate_retrieve_function2 *). */
void *mcp__http_tls_callback(void);
/* Serve t's credentials to handshakes on the local port of the listening socket lfd. */
void mcp__http_tls_register(mcp__http_tls *t, int lfd);
/* Read the files again; on success new handshakes get the new pair, else nothing changes. */
mcp_status mcp__http_tls_reload(mcp__http_tls *t, mcp_error *err);
/* Unregister and free (after the daemon stopped). NULL is fine. */
void mcp__http_tls_free(mcp__http_tls *t);

/* ---- http_metrics.c ---------------------------------------------------------------------- */

void mcp__http_metrics_record(mcp__http_metrics *m, const char *method, unsigned status,
                              uint64_t ms);
/* The Prometheus text exposition (NULL: out of memory). */
char *mcp__http_metrics_render(mcp__http *h, size_t *len);

/* ---- http_checks.c ----------------------------------------------------------------------- */

bool mcp__http_header_has(const char *v, const char *token);
/* The Host half of the DNS rebinding check: Host names a loopback host or one of allowed_hosts
 * (with or without its port). Routed resources use it alone (they take cross-origin posts). */
bool mcp__http_host_allowed(const char *host, char **allowed_hosts);
/* The header rules of the checks without a connection (the checks call these; so does
 * tests/fuzz/fuzz_http_request.c). host_ok: Host names a loopback host or one of allowed_hosts
 * (with or without its port), and Origin, when present, is in allowed_origins or names a
 * loopback host; the lists are NULL-terminated or NULL. */
bool mcp__http_host_ok(const char *host, const char *origin, char **allowed_hosts,
                       char **allowed_origins);
typedef struct mcp__http_framing {
    unsigned cl, te;   /* Content-Length and Transfer-Encoding header lines seen */
} mcp__http_framing;
void mcp__http_framing_add(mcp__http_framing *f, const char *key, const char *value);
/* At most one Content-Length, and not together with Transfer-Encoding (RFC 9112 6.3). */
bool mcp__http_framing_ok(const mcp__http_framing *f);
bool mcp__http_content_type_ok(const char *ct);
bool mcp__http_accept_ok(const char *acc);
bool mcp__http_content_length_ok(const char *cl, size_t max_body);
/* Fill h->checks: the transport checks in their order, each a TRANSPORT-phase entry. */
void mcp__http_checks_init(mcp__http *h);

#endif
