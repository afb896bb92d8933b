/*
 * The setup that a parsed mcp_app_config implies, and running the server with it: the store,
 * the verifiers (JWT, token introspection), the authentication chain and the protected-resource
 * metadata are built here, once, before the transport opens; what can only fail by reading files
 * or the network fails here (exit status 1), after config.c has checked the flags themselves.
 * Only the public API (<mcp/...>) is used, as any program embedding libmcp would.
 */
#include <mcp/app.h>
#include <mcp/as.h>
#include <mcp/authn.h>
#include <mcp/introspect.h>
#include <mcp/jwt.h>

#include "app/internal.h"
#include "common/common.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct mcp_app_state {
    bool              done;
    mcp_store        *store;
    mcp_jwt_verifier *jwt;
    mcp_introspector *introspector;
    mcp_authn        *authn;
    mcp_as           *as;          /* --embedded-as */
    char             *resource_url;
    char             *prm_json;
    json_t           *more_servers; /* --trusted-issuers, for the PRM's authorization_servers */
    int               listen_fd;   /* socket bound by pick_port(), until the transport takes it */
    mcp_principal    *local;       /* --as-user: the stdio caller */
    mcp__app_ready   *ready;       /* what /ready reports */
};

static void
free_multi(char **arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(arr[i]);
}

void
mcp_app_config_cleanup(mcp_app_config *cfg)
{
    if (cfg == NULL)
        return;
    mcp_app_state *st = cfg->state;
    if (st != NULL) {
        mcp__app_ready_free(st->ready);     /* first: it reads the store and the verifier */
        mcp_authn_free(st->authn);
        mcp_jwt_verifier_free(st->jwt);
        mcp_introspector_free(st->introspector);
        mcp_as_free(st->as);
        mcp_principal_unref(st->local);
        mcp_store_close(st->store);
        mcp__free(st->resource_url);
        mcp__free(st->prm_json);
        json_decref(st->more_servers);
        if (st->listen_fd >= 0)
            close(st->listen_fd);
        mcp__free(st);
    }
    free(cfg->listen_host);
    for (int i = 0; i < cfg->nextra; i++)
        free(cfg->extra_args[i]);
    free(cfg->jwt_secret_file);
    free(cfg->request_state_key);
    free(cfg->request_state_prev_key);
    free(cfg->jwt_alg);
    free_multi(cfg->jwt_public_keys, cfg->n_jwt_public_keys);
    free_multi(cfg->jwks_files, cfg->n_jwks_files);
    free(cfg->jwks_url);
    free(cfg->issuer);
    free(cfg->audience);
    free(cfg->resource_url);
    free_multi(cfg->authorization_servers, cfg->n_authorization_servers);
    free(cfg->scopes);
    free(cfg->introspection_url);
    free(cfg->introspection_client_id);
    free(cfg->introspection_client_secret_file);
    free(cfg->db);
    free(cfg->as_key_file);
    free_multi(cfg->allowed_hosts, cfg->n_allowed_hosts);
    free(cfg->as_user);
    free(cfg->as_permissions);
    free(cfg->tls_cert_file);
    free(cfg->tls_key_file);
    free(cfg->claims_profile);
    free(cfg->claims_client);
    free_multi(cfg->allowed_tenants, cfg->n_allowed_tenants);
    free(cfg->trusted_issuers);
    free_multi(cfg->permission_map, cfg->n_permission_map);
    free(cfg->subject_claim);
    free(cfg->name_claim);
    free(cfg->client_id_claim);
    free_multi(cfg->permission_claims, cfg->n_permission_claims);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- setup ------------------------------------------------------------------------------- */

/*
 * `--listen HOST:0` with authentication: the default resource URL, and so the audience tokens
 * must carry, contains the port, and both must be known before the transport starts (they are
 * copied into the verifier and the HTTP options). So the socket is bound and put in listening
 * state here, and handed to the transport (mcp_http_opts.listen_fd): no other process can take
 * the port in between.
 */
static mcp_status
pick_port(mcp_app_config *cfg, int *fd_out, mcp_error *err)
{
    struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    int e = getaddrinfo(cfg->listen_host, "0", &hints, &res);
    if (e != 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "--listen host %s: %s", cfg->listen_host,
                             gai_strerror(e));
    mcp_status rc = mcp_error_set(err, MCP_ERR_IO, "cannot find a free port on %s",
                                  cfg->listen_host);
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        /* as the transport does for its own binds: a restarted server can bind this port
         * again while connections of the old one are in TIME_WAIT */
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
            uint16_t port = ss.ss_family == AF_INET6
                                ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                : ntohs(((struct sockaddr_in *)&ss)->sin_port);
            if (port != 0 && listen(fd, SOMAXCONN) == 0) {
                cfg->listen_port = port;
                *fd_out = fd;
                mcp_error_clear(err);
                rc = MCP_OK;
                break;
            }
        }
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

/* Read a small secret file: its bytes with one trailing "\n" ignored. *out is wiped by caller. */
static mcp_status
read_secret_file(const char *path, const char *what, char **out, size_t *len, mcp_error *err)
{
    enum { MAX = 4096 };
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mcp_error_set(err, MCP_ERR_IO, "%s %s: cannot open", what, path);
    char *buf = mcp__alloc(MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    size_t n = fread(buf, 1, MAX + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (bad || n == 0 || n > MAX) {
        mcp_memzero(buf, MAX + 1);
        mcp__free(buf);
        return mcp_error_set(err, bad ? MCP_ERR_IO : MCP_ERR_INVALID_ARG, "%s %s: %s", what, path,
                             bad ? "read error" : n == 0 ? "empty" : "larger than 4096 bytes");
    }
    *out = buf;
    *len = n;
    return MCP_OK;
}

static mcp_status
prefix_err(mcp_error *err, mcp_status rc, const char *what)
{
    if (err != NULL && rc != MCP_OK) {
        char tmp[MCP_ERROR_MSG_MAX];
        snprintf(tmp, sizeof tmp, "%s", err->message[0] ? err->message : mcp_status_str(rc));
        mcp_error_set(err, rc, "%s: %s", what, tmp);
    }
    return rc;
}

static mcp_status
build_jwt(mcp_app_config *cfg, mcp_app_state *st, const char *audience, mcp_error *err)
{
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = cfg->issuer;
    o.allow_no_issuer = cfg->jwt_allow_no_issuer;
    o.audience = audience;
    o.allow_no_audience = audience == NULL;
    o.leeway_s = cfg->leeway_s;
    o.jwks_refresh_s = cfg->jwks_refresh_s;
    o.jwks_min_interval_s = cfg->jwks_min_interval_s;
    o.claims_profile = cfg->claims_profile;
    o.claims_client = cfg->claims_client;
    const char *tenants[MCP_APP_MULTI_MAX + 1];
    for (size_t i = 0; i < cfg->n_allowed_tenants; i++)
        tenants[i] = cfg->allowed_tenants[i];
    tenants[cfg->n_allowed_tenants] = NULL;
    o.allowed_tenants = cfg->n_allowed_tenants > 0 ? tenants : NULL;
    /* --permission-map FROM=TO: split into pairs (the strings are ours until cleanup) */
    const char *map[2 * MCP_APP_MULTI_MAX + 1];
    char *map_buf[MCP_APP_MULTI_MAX];
    size_t nmap = 0;
    for (size_t i = 0; i < cfg->n_permission_map; i++) {
        if ((map_buf[i] = mcp__strdup(cfg->permission_map[i])) == NULL) {
            for (size_t j = 0; j < i; j++)
                mcp__free(map_buf[j]);
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        }
        char *eq = strchr(map_buf[i], '=');
        *eq = '\0'; /* config.c accepted only FROM=TO */
        map[nmap++] = map_buf[i];
        map[nmap++] = eq + 1;
    }
    map[nmap] = NULL;
    o.permission_map = nmap > 0 ? map : NULL;
    o.typ = cfg->require_at_jwt ? "at+jwt" : NULL;     /* RFC 9068 section 2.1 */
    o.subject_claim = cfg->subject_claim;
    o.name_claim = cfg->name_claim;
    o.client_id_claim = cfg->client_id_claim;
    const char *pclaims[MCP_APP_MULTI_MAX + 1];
    for (size_t i = 0; i < cfg->n_permission_claims; i++)
        pclaims[i] = cfg->permission_claims[i];
    pclaims[cfg->n_permission_claims] = NULL;
    o.permission_claims = cfg->n_permission_claims > 0 ? pclaims : NULL;
    mcp_status rc = mcp_jwt_verifier_new(&o, &st->jwt, err);
    for (size_t i = 0; i < cfg->n_permission_map; i++)
        mcp__free(map_buf[i]);
    o.permission_map = NULL;
    if (rc != MCP_OK)
        return prefix_err(err, rc, "JWT verifier");
    bool hs = cfg->jwt_alg != NULL && cfg->jwt_alg[0] == 'H';
    if (cfg->jwt_secret_file != NULL) {
        rc = mcp_jwt_verifier_add_hmac_file(st->jwt, NULL, hs ? cfg->jwt_alg : "HS256",
                                            cfg->jwt_secret_file, err);
        if (rc != MCP_OK)
            return prefix_err(err, rc, cfg->jwt_secret_file);
    }
    for (size_t i = 0; i < cfg->n_jwt_public_keys; i++) {
        rc = mcp_jwt_verifier_add_pem_file(st->jwt, NULL, hs ? NULL : cfg->jwt_alg,
                                           cfg->jwt_public_keys[i], err);
        if (rc != MCP_OK)
            return prefix_err(err, rc, cfg->jwt_public_keys[i]);
    }
    for (size_t i = 0; i < cfg->n_jwks_files; i++) {
        rc = mcp_jwt_verifier_add_jwks_file(st->jwt, cfg->jwks_files[i], err);
        if (rc != MCP_OK)
            return prefix_err(err, rc, cfg->jwks_files[i]);
    }
    /* An unreachable JWKS does not stop the server: it starts, says so, retries with backoff,
     * /ready answers 503 and tokens 503 until keys arrive. */
    if (cfg->jwks_url != NULL) {
        rc = mcp_jwt_verifier_start_jwks_url(st->jwt, cfg->jwks_url, err);
        if (rc != MCP_OK)
            return prefix_err(err, rc, "--jwks-url");
    } else if (mcp__app_jwt_discovers(cfg)) {
        /* --issuer alone: its metadata names the JWKS (OIDC Discovery, RFC 8414) */
        mcp__log(MCP__LOG_INFO, "auth", "JWKS: discovered from the metadata of issuer %s",
                 cfg->issuer);
        rc = mcp_jwt_verifier_discover_jwks(st->jwt, err);
        if (rc != MCP_OK)
            return prefix_err(err, rc, "--issuer discovery");
    }
    if (cfg->trusted_issuers != NULL) {
        o.claims_profile = NULL; /* each issuer names its own */
        o.claims_client = NULL;
        o.allowed_tenants = NULL;
        o.permission_map = NULL;
        o.subject_claim = NULL;
        o.name_claim = NULL;
        o.client_id_claim = NULL;
        o.permission_claims = NULL;
        if ((st->more_servers = json_array()) == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        rc = mcp__app_trusted_issuers(cfg->trusted_issuers, &o, st->jwt, st->more_servers, err);
        if (rc != MCP_OK)
            return prefix_err(err, rc, cfg->trusted_issuers);
    }
    return MCP_OK;
}

static mcp_status
build_introspector(mcp_app_config *cfg, mcp_app_state *st, const char *audience, mcp_error *err)
{
    char *secret = NULL, *found = NULL;
    size_t slen = 0;
    mcp_status rc = read_secret_file(cfg->introspection_client_secret_file,
                                     "--introspection-client-secret-file", &secret, &slen, err);
    if (rc != MCP_OK)
        return rc;
    if (cfg->introspection_url == NULL) {
        /* --issuer alone: the endpoint comes from its metadata, once, at start-up (unlike the
         * JWKS this cannot wait: without it no opaque token can ever be checked) */
        char *jw = NULL;
        rc = mcp_jwt_discover(cfg->issuer, NULL, &jw, &found, err);
        mcp_free(jw);
        if (rc == MCP_OK && found == NULL)
            rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "the metadata of %s has no "
                               "introspection_endpoint (give --introspection-url)", cfg->issuer);
        if (rc != MCP_OK) {
            mcp_memzero(secret, slen);
            mcp__free(secret);
            return prefix_err(err, rc, "--issuer discovery of the introspection endpoint");
        }
        mcp__log(MCP__LOG_INFO, "auth", "token introspection: discovered endpoint %s", found);
    }
    mcp_introspect_opts o;
    mcp_introspect_opts_default(&o);
    o.url = cfg->introspection_url != NULL ? cfg->introspection_url : found;
    o.client_id = cfg->introspection_client_id;
    o.client_secret = secret;
    o.client_secret_len = slen;
    o.issuer = cfg->issuer;
    o.audience = audience;
    o.allow_no_audience = audience == NULL;
    o.leeway_s = cfg->leeway_s;
    o.cache_ttl_s = cfg->introspection_cache_ttl_s;
    rc = mcp_introspector_new(&o, &st->introspector, err);
    mcp_memzero(secret, slen);
    mcp__free(secret);
    mcp_free(found);
    return prefix_err(err, rc, "token introspection");
}

/*
 * --embedded-as: the authorization server at the origin of the resource URL, and a JWT verifier
 * that accepts exactly its tokens (its key only, alg ES256 from the JWK, typ at+jwt, iss = the
 * origin, aud = the audience in force).
 */
static mcp_status
build_as(mcp_app_config *cfg, mcp_app_state *st, const char *audience, mcp_error *err)
{
    const char *u = st->resource_url, *hs = strstr(u, "://");
    size_t olen = hs != NULL ? (size_t)(hs + 3 - u) + strcspn(hs + 3, "/?#") : strlen(u);
    char *issuer = mcp__strndup(u, olen);
    char *key = cfg->as_key_file != NULL ? mcp__strdup(cfg->as_key_file)
                                         : mcp__aprintf("%s.as-key.pem", cfg->db);
    mcp_status rc = issuer != NULL && key != NULL ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM,
                                                                           NULL);
    if (rc == MCP_OK) {
        const char *resources[] = { st->resource_url, NULL };
        mcp_as_opts ao;
        mcp_as_opts_default(&ao);
        ao.issuer = issuer;
        ao.resources = resources;
        ao.store = st->store;
        ao.key_file = key;
        if (cfg->as_access_ttl_s)
            ao.access_ttl_s = cfg->as_access_ttl_s;
        if (cfg->as_refresh_ttl_s)
            ao.refresh_ttl_s = cfg->as_refresh_ttl_s;
        ao.registration = cfg->as_registration;
        ao.cimd_allow_internal = cfg->as_cimd_allow_internal;
        rc = prefix_err(err, mcp_as_new(&ao, &st->as, err), "--embedded-as");
    }
    if (rc == MCP_OK) {
        mcp_jwt_opts o;
        mcp_jwt_opts_default(&o);
        o.issuer = issuer;
        o.audience = audience;
        o.allow_no_audience = audience == NULL;
        o.typ = "at+jwt";
        o.leeway_s = cfg->leeway_s;
        o.jwks_refresh_s = 0;
        rc = prefix_err(err, mcp_jwt_verifier_new(&o, &st->jwt, err), "JWT verifier");
    }
    if (rc == MCP_OK) {
        const char *jwks = mcp_as_jwks_json(st->as);
        rc = prefix_err(err, mcp_jwt_verifier_add_jwks(st->jwt, jwks, strlen(jwks), err),
                        "--embedded-as key");
    }
    if (rc == MCP_OK)
        mcp__log(MCP__LOG_INFO, "auth", "embedded authorization server: issuer %s", issuer);
    mcp__free(issuer);
    mcp__free(key);
    return rc;
}

static mcp_status
build_prm(mcp_app_config *cfg, mcp_app_state *st, mcp_error *err)
{
    json_t *doc = json_object(), *as = json_array(), *bm = json_array(), *sc = NULL;
    bool ok = doc && as && bm && json_object_set_new(doc, "resource",
                                                     json_string(st->resource_url)) == 0;
    for (size_t i = 0; ok && i < cfg->n_authorization_servers; i++)
        ok = json_array_append_new(as, json_string(cfg->authorization_servers[i])) == 0;
    if (ok && cfg->n_authorization_servers == 0 && cfg->issuer != NULL)
        ok = json_array_append_new(as, json_string(cfg->issuer)) == 0;
    if (ok && cfg->n_authorization_servers == 0 && st->as != NULL)
        ok = json_array_append_new(as, json_string(mcp_as_issuer(st->as))) == 0;
    if (ok && cfg->n_authorization_servers == 0 && st->more_servers != NULL)
        ok = json_array_extend(as, st->more_servers) == 0;
    if (ok && json_array_size(as) > 0) {
        ok = json_object_set(doc, "authorization_servers", as) == 0;
    }
    if (ok && cfg->scopes != NULL) {
        ok = (sc = json_array()) != NULL;
        for (const char *p = cfg->scopes; ok && *p;) {
            size_t n = strcspn(p, " ");
            if (n > 0)
                ok = json_array_append_new(sc, json_stringn(p, n)) == 0;
            p += n;
            while (*p == ' ')
                p++;
        }
        ok = ok && json_object_set(doc, "scopes_supported", sc) == 0;
    }
    ok = ok && json_array_append_new(bm, json_string("header")) == 0 &&
         json_object_set(doc, "bearer_methods_supported", bm) == 0;
    if (ok)
        ok = (st->prm_json = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL;
    json_decref(doc);
    json_decref(as);
    json_decref(bm);
    json_decref(sc);
    return ok ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, NULL);
}

/*
 * --db: a path that does not exist is refused, naming it, unless --db-create: a mistyped path
 * would otherwise become a new, empty store that rejects every key as unknown. A value with
 * "://" (a connection URL, not a file) is left to the store.
 */
static mcp_status
open_store(mcp_app_config *cfg, mcp_app_state *st, mcp_error *err)
{
    struct stat sb;
    if (!cfg->db_create && strstr(cfg->db, "://") == NULL && stat(cfg->db, &sb) != 0)
        return mcp_error_set(err, MCP_ERR_IO, "--db %s: %s (create it with `mcp-admin --db %s "
                             "init`, or add --db-create)", cfg->db,
                             errno == ENOENT ? "no such file" : strerror(errno), cfg->db);
    mcp_store_opts o;
    mcp_store_opts_default(&o);
    o.create = cfg->db_create;
    mcp_status rc = mcp_store_open(cfg->db, &o, &st->store, err);
    char shown[512];                      /* a PostgreSQL URI without its password */
    return rc == MCP_OK ? MCP_OK
                        : prefix_err(err, rc, mcp_store_display_name(cfg->db, shown,
                                                                     sizeof shown));
}

/* Host name of an http(s) URL into buf ("" when there is none); brackets of IPv6 kept. */
static void
url_host(const char *url, char *buf, size_t cap)
{
    buf[0] = '\0';
    const char *p = strstr(url, "://");
    if (p == NULL)
        return;
    p += 3;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at != NULL) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t h = n;
    if (p[0] == '[') {
        const char *e = memchr(p, ']', n);
        h = e != NULL ? (size_t)(e - p) + 1 : n;
    } else {
        const char *c = memchr(p, ':', n);
        if (c != NULL)
            h = (size_t)(c - p);
    }
    if (h > 0 && h < cap)
        snprintf(buf, cap, "%.*s", (int)h, p);
}

/* --stdio --as-user: every request on stdin is this caller (the process's user is trusted). */
static mcp_status
local_authn(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)err;
    mcp_request_set_principal(req, ctx);
    return MCP_OK;
}

static mcp_status
setup_local_user(mcp_app_config *cfg, mcp_app_state *st, mcp_server *srv, mcp_error *err)
{
    mcp_principal_fields f = { .kind = MCP_CRED_LOCAL, .subject = cfg->as_user };
    mcp_status rc = mcp_principal_new(&f, &st->local, err);
    if (rc == MCP_OK && cfg->as_permissions != NULL)
        rc = mcp_principal_add_scope_string(st->local, cfg->as_permissions, err);
    if (rc == MCP_OK)
        rc = mcp_server_use(srv, MCP_PHASE_AUTHN, local_authn, st->local, err);
    if (rc != MCP_OK)
        return prefix_err(err, rc, "--as-user");
    mcp__log(MCP__LOG_INFO, "auth", "stdio caller is local user '%s'%s%s%s", cfg->as_user,
             cfg->as_permissions ? " with permissions \"" : "",
             cfg->as_permissions ? cfg->as_permissions : "", cfg->as_permissions ? "\"" : "");
    return MCP_OK;
}

static const char *
auth_kinds_text(unsigned a, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s%s", a & MCP_APP_AUTH_APIKEY ? "apikey" : "",
             (a & MCP_APP_AUTH_APIKEY) && (a & ~MCP_APP_AUTH_APIKEY) ? "," : "",
             a & MCP_APP_AUTH_JWT ? "jwt" : "",
             (a & MCP_APP_AUTH_JWT) && (a & MCP_APP_AUTH_INTROSPECTION) ? "," : "",
             a & MCP_APP_AUTH_INTROSPECTION ? "introspection" : "");
    return buf;
}

mcp_status
mcp_app_setup(mcp_app_config *cfg, mcp_server *srv, mcp_error *err)
{
    if (cfg->state == NULL) {
        if ((cfg->state = mcp__calloc(1, sizeof *cfg->state)) == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        cfg->state->listen_fd = -1;
    }
    mcp_app_state *st = cfg->state;
    if (st->done)
        return MCP_OK;
    if (cfg->log_level >= 0)
        mcp_log_set_level((mcp_log_level)cfg->log_level);
    if (cfg->log_json)
        mcp_log_set_json(true);
    mcp_status rc;
    if (cfg->db != NULL && st->store == NULL && (rc = open_store(cfg, st, err)) != MCP_OK)
        return rc;
    if (cfg->resource_url != NULL && cfg->n_allowed_hosts < MCP_APP_MULTI_MAX + 1) {
        char host[256];                  /* behind a proxy, clients send the public Host */
        url_host(cfg->resource_url, host, sizeof host);
        if (host[0] != '\0' &&
            (cfg->allowed_hosts[cfg->n_allowed_hosts] = strdup(host)) != NULL)
            cfg->n_allowed_hosts++;
    }
    if (cfg->as_user != NULL && st->local == NULL &&
        (rc = setup_local_user(cfg, st, srv, err)) != MCP_OK)
        return rc;
    if (cfg->auth == 0 && !cfg->embedded_as) {
        if (st->ready == NULL &&
            (rc = mcp__app_ready_new(st->store, NULL, false, NULL, &st->ready, err)) != MCP_OK)
            return rc;
        st->done = true;
        return MCP_OK;
    }
    if (cfg->stdio)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "authentication needs HTTP, not --stdio");

    if (cfg->resource_url != NULL) {
        st->resource_url = mcp__strdup(cfg->resource_url);
    } else {
        if (cfg->listen_port == 0 && (rc = pick_port(cfg, &st->listen_fd, err)) != MCP_OK)
            return rc;
        bool v6 = strchr(cfg->listen_host, ':') != NULL;
        st->resource_url = mcp__aprintf("%s://%s%s%s:%u/mcp", cfg->tls_cert_file ? "https" : "http",
                                        v6 ? "[" : "", cfg->listen_host, v6 ? "]" : "",
                                        (unsigned)cfg->listen_port);
    }
    if (st->resource_url == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    const char *audience = cfg->no_audience_check ? NULL
                           : cfg->audience != NULL ? cfg->audience : st->resource_url;

    if ((cfg->auth & MCP_APP_AUTH_JWT) && (rc = build_jwt(cfg, st, audience, err)) != MCP_OK)
        return rc;
    if (cfg->embedded_as && (rc = build_as(cfg, st, audience, err)) != MCP_OK)
        return rc;
    if ((cfg->auth & MCP_APP_AUTH_INTROSPECTION) &&
        (rc = build_introspector(cfg, st, audience, err)) != MCP_OK)
        return rc;
    if ((rc = build_prm(cfg, st, err)) != MCP_OK)
        return rc;

    mcp_authn_opts ao;
    mcp_authn_opts_default(&ao);
    ao.store = st->store;
    ao.api_keys = (cfg->auth & MCP_APP_AUTH_APIKEY) != 0;
    ao.jwt = st->jwt;
    ao.introspector = st->introspector;
    if ((rc = mcp_authn_new(&ao, &st->authn, err)) != MCP_OK)
        return rc;
    if (st->ready == NULL &&
        (rc = mcp__app_ready_new(st->store, st->jwt,
                                 (cfg->auth & MCP_APP_AUTH_INTROSPECTION) != 0,
                                 st->introspector, &st->ready, err)) != MCP_OK)
        return rc;
    if ((rc = mcp_server_use(srv, MCP_PHASE_AUTHN, mcp_authn_middleware, st->authn, err)) !=
        MCP_OK)
        return rc;
    char kinds[64];
    bool tokens = (cfg->auth & (MCP_APP_AUTH_JWT | MCP_APP_AUTH_INTROSPECTION)) != 0 ||
                  st->as != NULL;
    mcp__log(MCP__LOG_INFO, "auth", "authentication %s; resource %s%s%s",
             auth_kinds_text(cfg->auth | (st->as != NULL ? MCP_APP_AUTH_JWT : 0u), kinds,
                             sizeof kinds), st->resource_url,
             tokens ? "; audience " : "", !tokens ? "" : audience ? audience : "(not checked)");
    st->done = true;
    return MCP_OK;
}

mcp_store *
mcp_app_store(const mcp_app_config *cfg)
{
    return cfg->state ? cfg->state->store : NULL;
}

const char *
mcp_app_resource_url(const mcp_app_config *cfg)
{
    return cfg->state ? cfg->state->resource_url : NULL;
}

void
mcp_app_http_opts(const mcp_app_config *cfg, mcp_http_opts *ho)
{
    mcp_http_opts_default(ho);
    ho->host = cfg->listen_host;
    ho->port = cfg->listen_port;
    ho->access_log = cfg->access_log;
    ho->reuse_port = cfg->reuse_port;
    ho->tls_cert_file = cfg->tls_cert_file;
    ho->tls_key_file = cfg->tls_key_file;
    if (cfg->metrics)
        ho->metrics_path = "/metrics";
    if (cfg->state != NULL && cfg->state->ready != NULL) {
        ho->ready_fn = mcp__app_ready_fn;
        ho->ready_ctx = cfg->state->ready;
    }
    if (cfg->n_allowed_hosts > 0)
        ho->allowed_hosts = (const char *const *)cfg->allowed_hosts;
    if (cfg->max_body)
        ho->max_body = cfg->max_body;
    if (cfg->io_threads)
        ho->io_threads = cfg->io_threads;
    if (cfg->max_connections)
        ho->max_connections = cfg->max_connections;
    if (cfg->max_connections_per_ip)
        ho->max_connections_per_ip = cfg->max_connections_per_ip;
    if (cfg->max_streams_per_principal)
        ho->max_streams_per_principal = cfg->max_streams_per_principal;
    if (cfg->connection_timeout_s)
        ho->connection_timeout_s = cfg->connection_timeout_s;
    if (cfg->suspend_timeout_s)
        ho->suspend_timeout_s = cfg->suspend_timeout_s;
    if (cfg->state != NULL && cfg->state->listen_fd >= 0) {
        ho->listen_fd = cfg->state->listen_fd;        /* the transport owns it from here */
        cfg->state->listen_fd = -1;
    }
    if (cfg->state != NULL && cfg->state->prm_json != NULL) {
        ho->resource_url = cfg->state->resource_url;
        ho->resource_metadata_json = cfg->state->prm_json;
    }
    if (cfg->state != NULL && cfg->state->as != NULL)
        mcp_as_http_opts(cfg->state->as, ho);
}

void
mcp_app_server_opts(const mcp_app_config *cfg, mcp_server_opts *o)
{
    o->stateless = cfg->stateless;
    if (cfg->session_evict_idle_s)
        o->session_evict_idle_s = cfg->session_evict_idle_s;
    if (cfg->authn_fail_limit_given)
        o->authn_fail_limit = cfg->authn_fail_limit;
    if (cfg->authn_fail_window_s)
        o->authn_fail_window_s = cfg->authn_fail_window_s;
    if (cfg->request_state_key != NULL)
        o->request_state_key_file = cfg->request_state_key;
    if (cfg->request_state_prev_key != NULL)
        o->request_state_prev_key_file = cfg->request_state_prev_key;
}

/*
 * systemd readiness (Type=notify): one datagram to $NOTIFY_SOCKET, the whole protocol, so no
 * libsystemd dependency. Nothing happens without the variable; a failure to send only matters
 * to systemd, which then reports the unit as not started.
 */
static void
notify_systemd(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t n = path != NULL ? strlen(path) : 0;
    if (n < 2 || n >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@'))
        return;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';                     /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, sl) < 0)
        mcp__log(MCP__LOG_WARN, "systemd", "cannot notify $NOTIFY_SOCKET: %s", strerror(errno));
    close(fd);
}

/* SIGHUP with --tls-cert: the certificate and key are read again (renewed certificates);
 * mcp_server_reload_tls() logs the outcome and keeps the old pair when the new one is bad. */
static void
reload_tls(void *ctx)
{
    mcp_error e;
    mcp_error_clear(&e);
    (void)mcp_server_reload_tls(ctx, &e);
}

static mcp_server *volatile early_target;

static void
on_early_signal(int sig)
{
    (void)sig;
    if (early_target != NULL)
        mcp_server_stop(early_target);      /* an atomic store and a write(): signal safe */
}

/* SIGINT/SIGTERM from now on stop srv gracefully (mcp_server_stop), instead of killing the
 * process in the moment between announcing the listener and mcp_server_run_until_signal(). */
static void
catch_early_signals(mcp_server *srv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_early_signal;
    sigemptyset(&sa.sa_mask);
    early_target = srv;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int
mcp_app_run(mcp_app_config *cfg, mcp_server *srv, mcp_error *err)
{
    const char *prog = cfg->prog != NULL ? cfg->prog : "mcp-server";
    if (mcp_app_setup(cfg, srv, err) != MCP_OK) {
        fprintf(stderr, "%s: %s\n", prog, err->message);
        return 1;
    }
    if (cfg->workers > 0)
        (void)mcp_server_set_workers(srv, cfg->workers, NULL);   /* no-op once running */
    if (cfg->stdio) {
        mcp__log(MCP__LOG_INFO, "stdio", "serving JSON-RPC on stdin/stdout");
        if (mcp_server_run_stdio(srv, STDIN_FILENO, STDOUT_FILENO, err) != MCP_OK) {
            fprintf(stderr, "%s: %s\n", prog, err->message);
            return 1;
        }
        return 0;
    }
    if (cfg->auth == 0)              /* said before the listening line, once, loudly */
        mcp__log(MCP__LOG_WARN, "auth", "no --auth: serving HTTP WITHOUT authentication%s",
                 cfg->insecure_no_auth ? " on a non-loopback address (--insecure-no-auth): "
                                         "anyone who can reach it is a caller"
                                       : " (development mode: loopback only)");
    mcp_http_opts ho;
    mcp_app_http_opts(cfg, &ho);
    /* mcp_server_run_until_signal() installs its handlers only once it runs, after the
     * listening line and READY=1: until then these ask for the same graceful stop, which it
     * then carries out at once */
    catch_early_signals(srv);
    if (mcp_server_listen_http(srv, &ho, err) != MCP_OK) {
        early_target = NULL;
        fprintf(stderr, "%s: %s\n", prog, err->message);
        return 1;
    }
    char ready[160];
    snprintf(ready, sizeof ready, "READY=1\nSTATUS=serving on %s:%u\nMAINPID=%ld",
             cfg->listen_host, (unsigned)mcp_server_http_port(srv), (long)getpid());
    notify_systemd(ready);
    bool hup = false;
    if (cfg->tls_cert_file != NULL) {
        mcp_error e;
        mcp_error_clear(&e);
        hup = mcp_sighup_add(reload_tls, srv, &e) == MCP_OK;
        if (!hup)
            mcp__log(MCP__LOG_WARN, "http", "no TLS reload on SIGHUP: %s", e.message);
    }
    mcp_server_run_until_signal(srv, 10000, err);
    if (hup)
        mcp_sighup_remove(srv);
    notify_systemd("STOPPING=1");
    return 0;
}
