/*
 * libmcp: command-line configuration shared by server programs (the example servers use it).
 * One parser means every server takes the same flags, documented once (docs/cli/server-options.md).
 *
 * A program's main() does:
 *
 *     mcp_app_config cfg;
 *     int rc = mcp_app_config_parse(&cfg, argc, argv, "prog", "summary", extra, extra_help);
 *     if (rc >= 0) return rc;                       // --help, or a usage error (already printed)
 *     mcp_server_new(...); mcp_server_add_tool(...);
 *     mcp_app_setup(&cfg, srv, &err);               // authentication, store, PRM (exit 1 on error)
 *     ... program-specific AUTHZ items, using mcp_app_store(&cfg) if it wants the store ...
 *     rc = mcp_app_run(&cfg, srv, &err);
 *     mcp_server_free(srv);
 *     mcp_app_config_cleanup(&cfg);                 // after the server: it owns the verifiers
 */
#ifndef MCP_APP_H
#define MCP_APP_H

#include <mcp/policy.h>
#include <mcp/server.h>
#include <mcp/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --auth kinds (bits of mcp_app_config.auth). */
#define MCP_APP_AUTH_APIKEY        (1u << 0)
#define MCP_APP_AUTH_JWT           (1u << 1)
#define MCP_APP_AUTH_INTROSPECTION (1u << 2)

/* Most values a repeatable flag (--jwt-public-key, --jwks-file, --authorization-server) takes. */
#define MCP_APP_MULTI_MAX 8

typedef struct mcp_app_state mcp_app_state;  /* private: what mcp_app_setup() built */

/*
 * The parsed command line. Every string is an owned copy (released by mcp_app_config_cleanup());
 * NULL when the flag was not given. Secrets are never here: only the names of files holding them.
 */
typedef struct mcp_app_config {
    char    *listen_host;      /* --listen HOST:PORT (default 127.0.0.1:8080) */
    uint16_t listen_port;
    bool     stdio;            /* --stdio */
    bool     stateless;        /* --stateless */
    size_t   max_body;         /* --max-body BYTES */
    unsigned workers;          /* --workers N */
    unsigned io_threads;       /* --io-threads N */
    unsigned max_connections;  /* --max-connections N */
    bool     access_log;       /* --no-access-log turns it off */
    /* Connection, stream and session limits (docs/cli/server-options.md); 0 = the default. */
    unsigned max_connections_per_ip;    /* --max-connections-per-ip N (256) */
    unsigned max_streams_per_principal; /* --max-streams-per-principal N (64) */
    unsigned connection_timeout_s;      /* --connection-timeout SECONDS (30) */
    unsigned suspend_timeout_s;         /* --suspend-timeout SECONDS (300) */
    unsigned session_evict_idle_s;      /* --session-evict-idle SECONDS (60) */
    unsigned authn_fail_limit;          /* --authn-fail-limit N (20; 0 = off) */
    bool     authn_fail_limit_given;
    unsigned authn_fail_window_s;       /* --authn-fail-window SECONDS (60) */
    char    *request_state_key;         /* --request-state-key FILE (2026-07-28 requestState) */
    char    *request_state_prev_key;    /* --request-state-prev-key FILE (rotation) */
    /* Program-specific flags named in mcp_app_config_parse()'s `extra`, in order: name, value. */
    char    *extra_args[32];   /* owned copies: extra_args[2i] = "--name", [2i+1] = value */
    int      nextra;           /* number of strings in extra_args (2 per flag) */

    /* Authentication (docs/cli/server-options.md, docs/design/authentication.md). */
    unsigned auth;                           /* --auth: MCP_APP_AUTH_* bits; 0 = none */
    char    *jwt_secret_file;                /* --jwt-secret-file F (HS*) */
    char    *jwt_alg;                        /* --jwt-alg ALG */
    char    *jwt_public_keys[MCP_APP_MULTI_MAX]; /* --jwt-public-key PEM (repeatable) */
    size_t   n_jwt_public_keys;
    char    *jwks_files[MCP_APP_MULTI_MAX];  /* --jwks-file F (repeatable) */
    size_t   n_jwks_files;
    char    *jwks_url;                       /* --jwks-url URL */
    unsigned jwks_refresh_s;                 /* --jwks-refresh SECONDS (default 300; 0 = off) */
    unsigned jwks_min_interval_s;            /* --jwks-min-interval SECONDS (default 30) */
    char    *issuer;                         /* --issuer ISS */
    bool     jwt_allow_no_issuer;            /* --jwt-allow-no-issuer */
    bool     require_at_jwt;                 /* --require-at-jwt: header typ must be at+jwt
                                                (RFC 9068), so an ID token is refused */
    char    *audience;                       /* --audience AUD (default: the resource URL) */
    bool     no_audience_check;              /* --no-audience-check */
    char    *resource_url;                   /* --resource-url URL (default http://LISTEN/mcp) */
    char    *authorization_servers[MCP_APP_MULTI_MAX]; /* --authorization-server URL */
    size_t   n_authorization_servers;
    char    *scopes;                         /* --scopes "a b" (PRM scopes_supported) */
    unsigned leeway_s;                       /* --leeway SECONDS (default 60) */
    char    *introspection_url;              /* --introspection-url URL */
    char    *introspection_client_id;        /* --introspection-client-id ID */
    char    *introspection_client_secret_file; /* --introspection-client-secret-file F */
    unsigned introspection_cache_ttl_s;      /* --introspection-cache-ttl SECONDS (default 60) */
    char    *db;                             /* --db FILE or postgresql:// URI (the store) */
    char    *claims_profile;                 /* --claims-profile none|entra|keycloak|auth0|okta */
    char    *claims_client;                  /* --claims-client ID (keycloak resource_access) */
    char    *allowed_tenants[MCP_APP_MULTI_MAX]; /* --allowed-tenant TID (repeatable) */
    size_t   n_allowed_tenants;
    char    *trusted_issuers;                /* --trusted-issuers FILE (JSON: more issuers) */
    char    *permission_map[MCP_APP_MULTI_MAX]; /* --permission-map FROM=TO (repeatable) */
    size_t   n_permission_map;
    bool     db_create;                      /* --db-create: create --db when missing (else a
                                                missing file is an error naming it) */

    /* Added for issue 14 (kept after the older fields). */
    const char *prog;                        /* program name given to the parser (borrowed) */
    bool     reuse_port;                     /* --reuse-port (SO_REUSEPORT; default off) */
    char    *allowed_hosts[MCP_APP_MULTI_MAX + 2]; /* --allowed-host H (repeatable), then the
                                                host of --resource-url; NULL-terminated */
    size_t   n_allowed_hosts;
    char    *as_user;                        /* --as-user SUBJECT: the stdio caller's identity */
    char    *as_permissions;                 /* --as-permissions "A B": its permissions */
    char    *tls_cert_file;                  /* --tls-cert PEM: serve HTTPS */
    char    *tls_key_file;                   /* --tls-key PEM: its private key */
    int      log_level;                      /* --log-level: an mcp_log_level, -1 = not given */
    bool     log_json;                       /* --log-format json */
    bool     insecure_no_auth;               /* --insecure-no-auth: no --auth on a non-loopback
                                                address (refused without it) */

    /* Authorization (docs/design/permissions.md): how token claims and store roles combine.
     * For the program's mcp_rbac_opts.permission_rule. */
    mcp_permission_rule permission_rule;     /* --permission-rule store|union|token-only
                                                (default store) */
    mcp_store_subjects store_subjects;       /* --store-subjects bare|issuer (default bare):
                                                for mcp_rbac_opts.store_subjects */
    bool shared_rate_limits;                 /* --rate-limits local|shared (default local): for
                                                mcp_rbac_opts.shared_rate_limits */

    /* The embedded authorization server (docs/design/authorization-server.md). */
    bool     embedded_as;                    /* --embedded-as */
    char    *as_key_file;                    /* --as-key-file FILE (default DB.as-key.pem) */
    unsigned as_access_ttl_s;                /* --as-access-ttl SECONDS (0 = default 300) */
    unsigned as_refresh_ttl_s;               /* --as-refresh-ttl SECONDS (0 = default) */
    bool     as_registration;                /* --as-registration (RFC 7591 /register) */
    bool     as_cimd_allow_internal;         /* --as-cimd-allow-internal (tests only) */

    /* Operations (docs/cli/server-options.md). */
    bool     metrics;                        /* --metrics: Prometheus text at /metrics */

    /* Claim paths of --issuer's tokens (docs/design/authentication.md#claim-paths; issue 13):
     * a claim name or a dotted path, for mcp_jwt_opts.subject_claim etc. */
    char    *subject_claim;                  /* --subject-claim PATH */
    char    *name_claim;                     /* --name-claim PATH */
    char    *client_id_claim;                /* --client-id-claim PATH */
    char    *permission_claims[MCP_APP_MULTI_MAX]; /* --permission-claim PATH (repeatable) */
    size_t   n_permission_claims;

    mcp_app_state *state;                    /* private; built by mcp_app_setup() */
} mcp_app_config;

/**
 * Parse argv into cfg (which is overwritten). On -1 the caller owns cfg and releases it with
 * mcp_app_config_cleanup(); on any other result cfg is already released (cleanup is harmless).
 * `extra` (NULL-terminated, may be NULL) names program-specific flags that take a value
 * ("--policy"); they are collected in extra_args. Any other unknown flag is a usage error, and so
 * is an inconsistent combination (e.g. `--auth jwt` without a key source or without `--issuer`,
 * `--auth apikey` without `--db`, a key flag without the --auth kind that uses it).
 * `extra_help` (may be NULL) is printed under --help.
 * @return -1 to continue; otherwise the exit status to return now (0 after --help or --version,
 *         2 on usage errors, with a message on stderr prefixed with prog).
 */
MCP_EXTERN int mcp_app_config_parse(mcp_app_config *cfg, int argc, char **argv, const char *prog,
                         const char *summary, const char *const *extra, const char *extra_help);
/** Value of a program-specific flag collected by the parser (last one wins), or NULL. */
MCP_EXTERN const char *mcp_app_config_extra(const mcp_app_config *cfg, const char *name);
/** Release everything, including what mcp_app_setup() built. Call after mcp_server_free(). */
MCP_EXTERN void mcp_app_config_cleanup(mcp_app_config *cfg);

/**
 * Build what the configuration asks for and wire it into srv: open the store (--db; a missing
 * file is MCP_ERR_IO naming it unless --db-create), build the
 * JWT verifier and/or the introspector, install the authentication item in MCP_PHASE_AUTHN, and
 * prepare the protected-resource metadata (RFC 9728) and the resource URL for the HTTP
 * transport. With `--listen HOST:0` and authentication on, a free port is chosen here, because
 * the default resource URL (and so the token audience) contains it.
 * Call after registering tools and before adding the program's own AUTHZ items; calling it again
 * does nothing. Secret files are read here and their contents wiped after use.
 * @return MCP_OK, or MCP_ERR_IO / MCP_ERR_INVALID_ARG / MCP_ERR_STORE / MCP_ERR_NOMEM with err
 *         naming the file or setting that failed (never a secret).
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_app_setup(mcp_app_config *cfg, mcp_server *srv, mcp_error *err);

/** The store opened for --db (by mcp_app_setup()), or NULL. Borrowed until cleanup. @since 0.1 */
MCP_EXTERN mcp_store *mcp_app_store(const mcp_app_config *cfg);

/** The canonical resource URL in force (after mcp_app_setup(); NULL before or without
 *  authentication). Borrowed until cleanup. @since 0.1 */
MCP_EXTERN const char *mcp_app_resource_url(const mcp_app_config *cfg);

/**
 * Fill o with the HTTP options for cfg (listen address, limits, access log, resource URL and
 * protected-resource metadata). Strings in o are borrowed from cfg. When setup bound the
 * socket itself (`--listen HOST:0` with authentication), o->listen_fd carries it and its
 * ownership moves to o (pass o to mcp_server_listen_http once). @since 0.1
 */
MCP_EXTERN void mcp_app_http_opts(const mcp_app_config *cfg, mcp_http_opts *o);

/**
 * Apply the server-level flags of cfg to o: --stateless, --session-evict-idle,
 * --authn-fail-limit and --authn-fail-window; other fields of o are left as they are. Call it
 * on options filled by mcp_server_opts_default(), before mcp_server_new().
 * @param cfg  Parsed by mcp_app_config_parse(); borrowed.
 * @param o    Updated in place; nothing in it is borrowed from cfg.
 * Thread: any thread (no shared state). @since 0.1
 */
MCP_EXTERN void mcp_app_server_opts(const mcp_app_config *cfg, mcp_server_opts *o);

/**
 * Serve srv as configured (HTTP until SIGINT/SIGTERM, or stdio until EOF). Calls mcp_app_setup()
 * first if the program did not. Under systemd (Type=notify, $NOTIFY_SOCKET set) it sends
 * READY=1 once HTTP is listening and STOPPING=1 when a signal stops it.
 * Returns the exit status (docs/cli/exit-status.md): 0, or 1 with
 * "PROG: reason" on stderr (setup failed, cannot listen, stdio I/O error).
 */
MCP_EXTERN int mcp_app_run(mcp_app_config *cfg, mcp_server *srv, mcp_error *err);

#ifdef __cplusplus
}
#endif
#endif
