/*
 * Command-line configuration shared by the server programs, and the setup it implies:
 * authentication (API keys, JWT, token introspection), the store, and the protected-resource
 * metadata. Every flag is documented in docs/cli/server-options.md.
 *
 * Consistency is checked at parse time (exit status 2 with one line on stderr) rather than at
 * setup time, so that a mistyped deployment fails before it opens a port or reads a key file;
 * what can only be known by reading files or the network (a bad PEM, an unreachable JWKS URL)
 * fails in mcp_app_setup() (exit status 1).
 */
#include <mcp/app.h>
#include <mcp/authn.h>
#include <mcp/introspect.h>
#include <mcp/jwt.h>

#include "app/internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f, const char *prog, const char *summary, const char *extra_help)
{
    fprintf(f,
        "usage: %s [options]\n%s\n\n"
        "  --listen HOST:PORT     address to serve Streamable HTTP on (default 127.0.0.1:8080;\n"
        "                         IPv6 as [::1]:8080; port 0 picks a free port)\n"
        "  --stdio                serve newline-delimited JSON-RPC on stdin/stdout instead\n"
        "  --stateless            no sessions: every POST stands alone, GET/DELETE answer 405\n"
        "  --max-body BYTES       largest request body (default 4194304; 413 past it)\n"
        "  --max-connections N    concurrent HTTP connections (default 2048)\n"
        "  --workers N            handler threads (default 2 x cores)\n"
        "  --io-threads N         HTTP threads (default: cores)\n"
        "  --no-access-log        do not log one line per HTTP request on stderr\n"
        "  --metrics              serve Prometheus text metrics at /metrics (no credential)\n"
        "  --allowed-host HOST    also accept this Host header on a loopback bind (repeatable;\n"
        "                         the host of --resource-url is accepted automatically)\n"
        "  --tls-cert PEM         serve HTTPS with this certificate chain (with --tls-key)\n"
        "  --tls-key PEM          the certificate's private key (unencrypted PEM)\n"
        "  --insecure-no-auth     allow serving without --auth on a non-loopback address\n"
        "  --log-level LEVEL      debug, info (default), warn or error\n"
        "  --log-format FORMAT    text (default) or json: one JSON object per log line\n"
        "  --reuse-port           let several processes listen on one port (SO_REUSEPORT);\n"
        "                         without it a busy port is an error\n"
        "  --max-connections-per-ip N     connections one client address may hold (default 256)\n"
        "  --max-streams-per-principal N  open requests and streams per principal (default 64)\n"
        "  --connection-timeout SECONDS   idle connection / slow header timeout (default 30)\n"
        "  --suspend-timeout SECONDS      longest a parked request or stream waits with nothing\n"
        "                         to send: then 504 / the stream ends (default 300)\n"
        "  --session-evict-idle SECONDS   a principal at its session cap loses only sessions idle\n"
        "                         this long; else initialize gets 429 (default 60)\n"
        "  --authn-fail-limit N   failed authentications per address per window before 429\n"
        "                         (default 20; 0 = off)\n"
        "  --authn-fail-window SECONDS    that window (default 60)\n"
        "  --request-state-key FILE  MAC secret (>= 32 bytes) of 2026-07-28 requestState;\n"
        "                         servers sharing it resume each other's requests (default:\n"
        "                         a random key per process)\n"
        "  --request-state-prev-key FILE  the previous secret while rotating: states it sealed\n"
        "                         are still accepted\n"
        "  --as-user SUBJECT      --stdio only: the caller is SUBJECT (the process's user is\n"
        "                         trusted): its roles in --db, plus --as-permissions\n"
        "  --as-permissions \"A B\" --stdio only: permissions of the --as-user caller\n"
        "  -h, --help             this text\n"
        "  -V, --version          print the program's name and version\n"
        "\nAuthentication (HTTP only; secrets are read from files, never from the command line):\n"
        "  --auth KINDS           none (default), or a comma list of apikey, jwt, introspection\n"
        "  --db FILE|URI          user/key store: SQLite file or postgresql:// URI\n"
        "                         (needed by --auth apikey); a file must exist\n"
        "  --db-create            create the --db file when it does not exist (else: an error)\n"
        "  --jwt-secret-file F    HMAC secret for HS* tokens: the file's bytes (one trailing\n"
        "                         newline ignored)\n"
        "  --jwt-alg ALG          HS256 (default for the secret), HS384, HS512, or the algorithm\n"
        "                         of --jwt-public-key (default: inferred from the key)\n"
        "  --jwt-public-key PEM   public key or certificate file (repeatable)\n"
        "  --jwks-file F          JWK Set file (repeatable)\n"
        "  --jwks-url URL         JWK Set URL, refreshed in the background (https, or http to\n"
        "                         loopback); unreachable at start-up: retried, 503 until then\n"
        "  --jwks-refresh SECONDS background JWKS refresh period (default 300; 0 = off)\n"
        "  --jwks-min-interval SECONDS  least time between refreshes caused by an unknown\n"
        "                         `kid` (default 30)\n"
        "  --issuer ISS           required `iss` of tokens (required with jwt); alone, its\n"
        "                         metadata gives the JWKS / introspection URL; Entra's\n"
        "                         .../{tenantid}/v2.0 form needs --allowed-tenant\n"
        "  --claims-profile NAME  where the IdP puts permissions: none (default), entra,\n"
        "                         keycloak, auth0, okta\n"
        "  --claims-client ID     keycloak: whose resource_access roles count (default azp)\n"
        "  --allowed-tenant TID   accepted `tid` (repeatable; default any)\n"
        "  --permission-map FROM=TO  the IdP's role/scope FROM is our permission TO\n"
        "                         (repeatable)\n"
        "  --subject-claim PATH   the subject from this claim or dotted path (e.g. user.id;\n"
        "                         \\. is a dot inside a name); also --name-claim,\n"
        "                         --client-id-claim\n"
        "  --permission-claim PATH  permissions also from this claim or dotted path, e.g.\n"
        "                         resource_access.my-client.roles (repeatable)\n"
        "  --trusted-issuers F    JSON file of further issuers, each with its own keys,\n"
        "                         audience, claims profile and tenants\n"
        "  --jwt-allow-no-issuer  accept JWTs without checking `iss` (explicit opt-out)\n"
        "  --require-at-jwt       accept only JWT access tokens (header typ at+jwt, RFC 9068):\n"
        "                         refuses ID tokens and other JWTs that share our audience\n"
        "  --audience AUD         required `aud` (default: the resource URL)\n"
        "  --no-audience-check    do not check `aud` (explicit opt-out; not recommended)\n"
        "  --leeway SECONDS       clock skew allowed for exp/nbf/iat (default 60)\n"
        "  --resource-url URL     canonical resource URI of this server (default\n"
        "                         http://LISTEN/mcp)\n"
        "  --authorization-server URL  listed in the protected-resource metadata (repeatable;\n"
        "                         default: the --issuer)\n"
        "  --scopes \"A B\"         scopes_supported in the protected-resource metadata\n"
        "  --introspection-url URL            RFC 7662 endpoint for opaque tokens\n"
        "  --introspection-client-id ID       our client id there (client_secret_basic)\n"
        "  --introspection-client-secret-file F  file holding its secret\n"
        "  --introspection-cache-ttl SECONDS  longest a result is cached (default 60; 0 = off)\n"
        "\nAuthorization (programs with a user store and the RBAC engine):\n"
        "  --permission-rule RULE how token claims and store roles combine: store (default: a\n"
        "                         permission counts only if the store grants it; the token's\n"
        "                         scope narrows it), union (token claims add to the roles),\n"
        "                         token-only (the token's claims alone)\n"
        "  --store-subjects MODE  which store user a token is: bare (default: its sub) or\n"
        "                         issuer (ISSUER#SUB, so issuers cannot share users)\n"
        "  --rate-limits WHERE    local (default: per-process token buckets) or shared (fixed\n"
        "                         windows counted in the PostgreSQL store, for every instance)\n"
        "\nThe embedded authorization server:\n"
        "  --embedded-as          be an OAuth 2.1 authorization server for the --db users\n"
        "                         (docs/design/authorization-server.md)\n"
        "  --as-key-file FILE     its ES256 signing key (default: FILE.as-key.pem beside --db;\n"
        "                         created when missing)\n"
        "  --as-access-ttl SECONDS   access token lifetime (default 300)\n"
        "  --as-refresh-ttl SECONDS  refresh token lifetime, renewed on rotation (default\n"
        "                         1209600)\n"
        "  --as-registration      serve RFC 7591 dynamic client registration at /register\n"
        "  --as-cimd-allow-internal  tests only: client ID metadata documents (https URL\n"
        "                         client ids) may be fetched from internal addresses, and\n"
        "                         over http from loopback\n"
        "%s",
        prog, summary ? summary : "", extra_help ? extra_help : "");
}

static bool
is_extra(const char *const *extra, const char *name)
{
    for (; extra != NULL && *extra != NULL; extra++)
        if (strcmp(*extra, name) == 0)
            return true;
    return false;
}

const char *
mcp_app_config_extra(const mcp_app_config *cfg, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i + 1 < cfg->nextra; i += 2)
        if (strcmp(cfg->extra_args[i], name) == 0)
            v = cfg->extra_args[i + 1];
    return v;
}

static bool
parse_listen(mcp_app_config *cfg, const char *v)
{
    const char *colon;
    char host[256];
    if (v[0] == '[') {
        const char *e = strchr(v, ']');
        if (e == NULL || e[1] != ':')
            return false;
        snprintf(host, sizeof host, "%.*s", (int)(e - v - 1), v + 1);
        colon = e + 1;
    } else {
        colon = strrchr(v, ':');
        if (colon == NULL)
            return false;
        snprintf(host, sizeof host, "%.*s", (int)(colon - v), v);
    }
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port > 65535 || colon[1] == '\0' || colon[1] == '-' || host[0] == '\0')
        return false;
    free(cfg->listen_host);
    cfg->listen_host = strdup(host);
    cfg->listen_port = (uint16_t)port;
    return cfg->listen_host != NULL;
}

static bool
parse_uint(const char *v, unsigned long long max, unsigned long long *out)
{
    char *end;
    if (v == NULL || *v == '\0' || *v == '-' || *v == '+' || *v == ' ')
        return false;
    *out = strtoull(v, &end, 10);
    return *end == '\0' && *out <= max;
}

/* Flags that take a value, other than the program's extras. */
static const char *const VALUE_FLAGS[] = {
    "--listen", "--max-body", "--workers", "--io-threads", "--max-connections",
    "--max-connections-per-ip", "--max-streams-per-principal", "--connection-timeout",
    "--suspend-timeout", "--session-evict-idle", "--authn-fail-limit", "--authn-fail-window",
    "--request-state-key", "--request-state-prev-key",
    "--auth", "--db", "--jwt-secret-file", "--jwt-alg", "--jwt-public-key", "--jwks-file",
    "--jwks-url", "--jwks-refresh", "--jwks-min-interval", "--issuer", "--audience",
    "--resource-url", "--authorization-server", "--claims-profile", "--claims-client",
    "--allowed-tenant", "--trusted-issuers", "--permission-map", "--subject-claim",
    "--name-claim", "--client-id-claim", "--permission-claim",
    "--scopes", "--leeway", "--introspection-url", "--introspection-client-id",
    "--introspection-client-secret-file", "--introspection-cache-ttl", "--permission-rule",
    "--store-subjects", "--rate-limits", "--as-key-file", "--as-access-ttl", "--as-refresh-ttl",
    "--allowed-host", "--as-user", "--as-permissions", "--tls-cert", "--tls-key", "--log-level",
    "--log-format", NULL
};

/* Flags that would put a secret on the command line, where every local user can read it. */
static const char *const SECRET_FLAGS[] = {
    "--jwt-secret", "--introspection-client-secret", "--client-secret", "--api-key", NULL
};

static const char *const CLAIMS_PROFILES[] = {
    "none", "entra", "keycloak", "auth0", "okta", NULL
};

static const char *const JWT_ALGS[] = {
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "EdDSA", NULL
};

static bool
in_list(const char *const *list, const char *s)
{
    for (; *list != NULL; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static bool
set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst != NULL;
}

static int
add_multi(char **arr, size_t *n, const char *v, const char *prog, const char *name)
{
    if (*n >= MCP_APP_MULTI_MAX) {
        fprintf(stderr, "%s: %s given more than %d times\n", prog, name, MCP_APP_MULTI_MAX);
        return 2;
    }
    if ((arr[*n] = strdup(v)) == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    (*n)++;
    return -1;
}

static bool
parse_auth(const char *v, unsigned *out)
{
    unsigned bits = 0;
    const char *p = v;
    if (strcmp(v, "none") == 0) {
        *out = 0;
        return true;
    }
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        if (n == 6 && strncmp(p, "apikey", n) == 0)
            bits |= MCP_APP_AUTH_APIKEY;
        else if (n == 3 && strncmp(p, "jwt", n) == 0)
            bits |= MCP_APP_AUTH_JWT;
        else if (n == 13 && strncmp(p, "introspection", n) == 0)
            bits |= MCP_APP_AUTH_INTROSPECTION;
        else
            return false;
        p += n;
        if (*p == ',') {
            p++;
            if (*p == '\0')
                return false;
        }
    }
    *out = bits;
    return bits != 0;
}

/* An absolute http(s) URL without a fragment (RFC 8707 section 2 for resource URIs). */
static bool
is_http_url(const char *u)
{
    const char *rest = strncmp(u, "https://", 8) == 0 ? u + 8
                     : strncmp(u, "http://", 7) == 0  ? u + 7 : NULL;
    if (rest == NULL || rest[0] == '\0' || rest[0] == '/' || strchr(u, '#') != NULL)
        return false;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            return false;
    return true;
}

static bool
is_loopback_host(const char *h)
{
    unsigned char a[16];
    if (strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0)
        return true;
    return inet_pton(AF_INET, h, a) == 1 && a[0] == 127;
}

static bool
is_wildcard_host(const char *h)
{
    return strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || strcmp(h, "") == 0;
}

bool
mcp__app_jwt_discovers(const mcp_app_config *c)
{
    return (c->auth & MCP_APP_AUTH_JWT) && c->issuer != NULL && c->jwt_secret_file == NULL &&
           c->n_jwt_public_keys == 0 && c->n_jwks_files == 0 && c->jwks_url == NULL;
}

/* Cross-flag checks; prints one line and returns 2 on the first problem, else -1. */
static int
check_consistency(const mcp_app_config *c, const char *prog, bool leeway_given, bool ttl_given,
                  bool jwks_timing_given)
{
    const bool jwt = c->auth & MCP_APP_AUTH_JWT, intro = c->auth & MCP_APP_AUTH_INTROSPECTION,
               apikey = c->auth & MCP_APP_AUTH_APIKEY;
    const char *why = NULL;
    char buf[256];
    bool jwt_hs = c->jwt_alg != NULL && c->jwt_alg[0] == 'H';

    if (c->auth != 0 && c->stdio)
        why = "--auth works over HTTP only; it cannot be combined with --stdio (use --as-user)";
    else if (c->embedded_as && (c->stdio || c->db == NULL))
        why = "--embedded-as needs --db FILE (its users) and HTTP (not --stdio)";
    else if (c->embedded_as && c->as_key_file == NULL && strncmp(c->db, "postgres", 8) == 0)
        why = "--embedded-as with a PostgreSQL --db needs --as-key-file FILE (the same key on "
              "every instance)";
    else if (c->embedded_as && (jwt || intro))
        why = "--embedded-as is the token issuer: it cannot be combined with --auth jwt or "
              "introspection";
    else if (!c->embedded_as && (c->as_key_file || c->as_access_ttl_s || c->as_refresh_ttl_s ||
                                 c->as_registration || c->as_cimd_allow_internal))
        why = "--as-key-file, --as-access-ttl, --as-refresh-ttl, --as-registration and "
              "--as-cimd-allow-internal need "
              "--embedded-as";
    else if (c->as_user != NULL && !c->stdio)
        why = "--as-user needs --stdio (over HTTP the caller is authenticated: --auth)";
    else if (c->as_permissions != NULL && c->as_user == NULL)
        why = "--as-permissions needs --as-user";
    else if ((c->tls_cert_file == NULL) != (c->tls_key_file == NULL))
        why = "--tls-cert and --tls-key go together";
    else if (c->tls_cert_file != NULL && c->stdio)
        why = "--tls-cert and --tls-key serve HTTPS; they cannot be combined with --stdio";
    else if (c->metrics && c->stdio)
        why = "--metrics is served over HTTP; it cannot be combined with --stdio";
    else if (c->auth == 0 && !c->embedded_as && !c->stdio && !c->insecure_no_auth &&
             !is_loopback_host(c->listen_host))
        why = "no --auth on a non-loopback address: anyone who can reach it is a caller; add "
              "--auth, or --insecure-no-auth to serve it that way on purpose";
    else if (c->insecure_no_auth && (c->auth != 0 || c->embedded_as || c->stdio))
        why = "--insecure-no-auth is for HTTP without --auth only";
    else if (c->db_create && c->db == NULL)
        why = "--db-create needs --db FILE";
    else if (!jwt && (c->jwt_secret_file || c->jwt_alg || c->n_jwt_public_keys ||
                      c->n_jwks_files || c->jwks_url || c->jwt_allow_no_issuer ||
                      c->require_at_jwt))
        why = "JWT key options (--jwt-secret-file, --jwt-alg, --jwt-public-key, --jwks-file, "
              "--jwks-url, --jwt-allow-no-issuer, --require-at-jwt) need --auth jwt";
    else if (jwks_timing_given && c->jwks_url == NULL && !mcp__app_jwt_discovers(c))
        why = "--jwks-refresh and --jwks-min-interval need --jwks-url (or a discovered JWKS: "
              "--auth jwt --issuer ISS alone)";
    else if (!intro && (c->introspection_url || c->introspection_client_id ||
                        c->introspection_client_secret_file || ttl_given))
        why = "--introspection-* options need --auth introspection";
    else if (!jwt && (c->claims_profile || c->claims_client || c->n_allowed_tenants ||
                      c->trusted_issuers || c->n_permission_map))
        why = "--claims-profile, --claims-client, --allowed-tenant, --permission-map and "
              "--trusted-issuers need --auth jwt";
    else if (!jwt && (c->subject_claim || c->name_claim || c->client_id_claim ||
                      c->n_permission_claims))
        why = "--subject-claim, --name-claim, --client-id-claim and --permission-claim need "
              "--auth jwt";
    else if (c->claims_profile != NULL && !in_list(CLAIMS_PROFILES, c->claims_profile))
        why = "--claims-profile must be one of none entra keycloak auth0 okta";
    else if (c->issuer != NULL && strstr(c->issuer, "{tenantid}") && c->n_allowed_tenants == 0)
        why = "an --issuer with {tenantid} needs --allowed-tenant (never any tenant by default)";
    else if (!jwt && !intro && (c->issuer || c->audience || c->no_audience_check || leeway_given))
        why = "--issuer, --audience, --no-audience-check and --leeway need --auth jwt or "
              "introspection";
    else if (c->auth == 0 && !c->embedded_as &&
             (c->resource_url || c->n_authorization_servers || c->scopes))
        why = "--resource-url, --authorization-server and --scopes need --auth";
    else if (apikey && c->db == NULL)
        why = "--auth apikey needs --db FILE (the store that holds the keys)";
    else if (jwt && !c->jwt_secret_file && !c->n_jwt_public_keys && !c->n_jwks_files &&
             !c->jwks_url && c->issuer == NULL)
        why = "--auth jwt needs a key: --jwt-secret-file, --jwt-public-key, --jwks-file, "
              "--jwks-url, or --issuer ISS alone (its metadata names the JWKS)";
    else if (mcp__app_jwt_discovers(c) && strstr(c->issuer, "{tenantid}") != NULL)
        why = "an --issuer with {tenantid} cannot be discovered: give --jwks-url";
    else if (jwt && c->issuer == NULL && !c->jwt_allow_no_issuer)
        why = "--auth jwt needs --issuer ISS (or --jwt-allow-no-issuer to skip the iss check)";
    else if (c->issuer != NULL && c->jwt_allow_no_issuer)
        why = "--issuer and --jwt-allow-no-issuer contradict each other";
    else if (c->jwt_alg != NULL && !in_list(JWT_ALGS, c->jwt_alg))
        why = "--jwt-alg must be one of HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 "
              "ES256 ES384 EdDSA";
    else if (c->jwt_alg != NULL && jwt_hs && c->jwt_secret_file == NULL)
        why = "--jwt-alg HS* needs --jwt-secret-file";
    else if (c->jwt_alg != NULL && !jwt_hs && c->n_jwt_public_keys == 0)
        why = "--jwt-alg for a public-key algorithm needs --jwt-public-key";
    else if (c->jwt_secret_file != NULL && c->n_jwt_public_keys > 0 && c->jwt_alg != NULL)
        why = "--jwt-alg is ambiguous with both --jwt-secret-file and --jwt-public-key";
    else if (intro && ((c->introspection_url == NULL && c->issuer == NULL) ||
                       c->introspection_client_id == NULL ||
                       c->introspection_client_secret_file == NULL))
        why = "--auth introspection needs --introspection-url (or --issuer, whose metadata "
              "names it), --introspection-client-id and --introspection-client-secret-file";
    else if (c->audience != NULL && c->no_audience_check)
        why = "--audience and --no-audience-check contradict each other";
    else if (c->audience != NULL && c->audience[0] == '\0')
        why = "--audience must not be empty";
    else if (c->issuer != NULL && c->issuer[0] == '\0')
        why = "--issuer must not be empty";
    else if (c->resource_url != NULL && !is_http_url(c->resource_url))
        why = "--resource-url must be an absolute http(s) URL without a fragment";
    else if ((c->auth != 0 || c->embedded_as) && c->resource_url == NULL &&
             is_wildcard_host(c->listen_host))
        why = "--listen on all interfaces: give --resource-url (the URL clients use)";
    for (size_t i = 0; why == NULL && i < c->n_allowed_hosts; i++)
        if (strpbrk(c->allowed_hosts[i], "/ \t\"\\,") != NULL)
            why = "--allowed-host wants a host name or HOST:PORT, not a URL";
    if (why == NULL && c->as_permissions != NULL)
        for (const char *p = c->as_permissions; *p && why == NULL; p++)
            if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || (unsigned char)*p >= 0x7f)
                why = "--as-permissions: permission names are printable ASCII, space-separated";
    if (why == NULL && c->introspection_url != NULL && !is_http_url(c->introspection_url))
        why = "--introspection-url must be an absolute http(s) URL";
    if (why == NULL && c->jwks_url != NULL && !is_http_url(c->jwks_url))
        why = "--jwks-url must be an absolute http(s) URL";
    for (size_t i = 0; why == NULL && i < c->n_authorization_servers; i++)
        if (!is_http_url(c->authorization_servers[i])) {
            snprintf(buf, sizeof buf, "--authorization-server must be an absolute http(s) URL");
            why = buf;
        }
    if (why == NULL && c->scopes != NULL) {
        for (const char *p = c->scopes; *p && why == NULL; p++)
            if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || (unsigned char)*p >= 0x7f)
                why = "--scopes: scope tokens are printable ASCII without quotes or backslashes";
    }
    if (why != NULL) {
        fprintf(stderr, "%s: %s\n", prog, why);
        return 2;
    }
    return -1;
}

static int
parse_args(mcp_app_config *cfg, int argc, char **argv, const char *prog, const char *summary,
           const char *const *extra, const char *extra_help)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->prog = prog;
    cfg->log_level = -1;
    cfg->listen_host = strdup("127.0.0.1");
    cfg->listen_port = 8080;
    cfg->access_log = true;
    cfg->leeway_s = 60;
    cfg->introspection_cache_ttl_s = 60;
    cfg->jwks_refresh_s = 300;
    cfg->jwks_min_interval_s = 30;
    bool leeway_given = false, ttl_given = false, jwks_timing_given = false;
    if (cfg->listen_host == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        char name[64];
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        const char *val = eq ? eq + 1 : NULL;
        if (in_list(SECRET_FLAGS, name)) {
            fprintf(stderr, "%s: %s is not supported: secrets are read from files (%s-file), "
                    "because command lines are visible to other users\n", prog, name,
                    strcmp(name, "--api-key") == 0 ? "--db" : name);
            return 2;
        }
        bool takes = in_list(VALUE_FLAGS, name) || is_extra(extra, name);
        if (takes && val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a value (see %s --help)\n", prog, name, prog);
                return 2;
            }
            val = argv[++i];
        } else if (!takes && val != NULL) {
            fprintf(stderr, "%s: %s takes no value (see %s --help)\n", prog, name, prog);
            return 2;
        }
        unsigned long long n;
        int r = -1;
        bool ok = true;
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            usage(stdout, prog, summary, extra_help);
            return 0;
        } else if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
            printf("%s %s\n", prog, mcp_version());
            return 0;
        } else if (strcmp(name, "--log-level") == 0 &&
                   (strcmp(val, "debug") == 0 || strcmp(val, "info") == 0 ||
                    strcmp(val, "warn") == 0 || strcmp(val, "error") == 0)) {
            cfg->log_level = val[0] == 'd' ? MCP_LOG_DEBUG : val[0] == 'i' ? MCP_LOG_INFO
                             : val[0] == 'w' ? MCP_LOG_WARNING : MCP_LOG_ERROR;
        } else if (strcmp(name, "--log-format") == 0 &&
                   (strcmp(val, "text") == 0 || strcmp(val, "json") == 0)) {
            cfg->log_json = strcmp(val, "json") == 0;
        } else if (strcmp(name, "--insecure-no-auth") == 0) {
            cfg->insecure_no_auth = true;
        } else if (strcmp(name, "--reuse-port") == 0) {
            cfg->reuse_port = true;
        } else if (strcmp(name, "--metrics") == 0) {
            cfg->metrics = true;
        } else if (strcmp(name, "--db-create") == 0) {
            cfg->db_create = true;
        } else if (strcmp(name, "--allowed-host") == 0 && val[0] != '\0') {
            r = add_multi(cfg->allowed_hosts, &cfg->n_allowed_hosts, val, prog, name);
        } else if (strcmp(name, "--tls-cert") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->tls_cert_file, val);
        } else if (strcmp(name, "--tls-key") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->tls_key_file, val);
        } else if (strcmp(name, "--as-user") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->as_user, val);
        } else if (strcmp(name, "--as-permissions") == 0) {
            ok = set_str(&cfg->as_permissions, val);
        } else if (strcmp(name, "--listen") == 0) {
            if (!parse_listen(cfg, val)) {
                fprintf(stderr, "%s: --listen wants HOST:PORT\n", prog);
                return 2;
            }
        } else if (strcmp(name, "--stdio") == 0) {
            cfg->stdio = true;
        } else if (strcmp(name, "--stateless") == 0) {
            cfg->stateless = true;
        } else if (strcmp(name, "--no-access-log") == 0) {
            cfg->access_log = false;
        } else if (strcmp(name, "--jwt-allow-no-issuer") == 0) {
            cfg->jwt_allow_no_issuer = true;
        } else if (strcmp(name, "--require-at-jwt") == 0) {
            cfg->require_at_jwt = true;
        } else if (strcmp(name, "--no-audience-check") == 0) {
            cfg->no_audience_check = true;
        } else if (strcmp(name, "--embedded-as") == 0) {
            cfg->embedded_as = true;
        } else if (strcmp(name, "--as-cimd-allow-internal") == 0) {
            cfg->as_cimd_allow_internal = true;
        } else if (strcmp(name, "--as-registration") == 0) {
            cfg->as_registration = true;
        } else if (strcmp(name, "--as-key-file") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->as_key_file, val);
        } else if (strcmp(name, "--as-access-ttl") == 0 && parse_uint(val, 86400, &n) && n > 0) {
            cfg->as_access_ttl_s = (unsigned)n;
        } else if (strcmp(name, "--as-refresh-ttl") == 0 && parse_uint(val, 31536000, &n) &&
                   n > 0) {
            cfg->as_refresh_ttl_s = (unsigned)n;
        } else if (strcmp(name, "--max-body") == 0 && parse_uint(val, 1ull << 30, &n) && n > 0) {
            cfg->max_body = (size_t)n;
        } else if (strcmp(name, "--workers") == 0 && parse_uint(val, 1024, &n) && n > 0) {
            cfg->workers = (unsigned)n;
        } else if (strcmp(name, "--io-threads") == 0 && parse_uint(val, 256, &n) && n > 0) {
            cfg->io_threads = (unsigned)n;
        } else if (strcmp(name, "--max-connections") == 0 && parse_uint(val, 1000000, &n) &&
                   n > 0) {
            cfg->max_connections = (unsigned)n;
        } else if (strcmp(name, "--max-connections-per-ip") == 0 &&
                   parse_uint(val, 1000000, &n) && n > 0) {
            cfg->max_connections_per_ip = (unsigned)n;
        } else if (strcmp(name, "--max-streams-per-principal") == 0 &&
                   parse_uint(val, 1000000, &n) && n > 0) {
            cfg->max_streams_per_principal = (unsigned)n;
        } else if (strcmp(name, "--connection-timeout") == 0 && parse_uint(val, 3600, &n) &&
                   n > 0) {
            cfg->connection_timeout_s = (unsigned)n;
        } else if (strcmp(name, "--suspend-timeout") == 0 && parse_uint(val, 86400, &n) &&
                   n > 0) {
            cfg->suspend_timeout_s = (unsigned)n;
        } else if (strcmp(name, "--session-evict-idle") == 0 && parse_uint(val, 86400, &n) &&
                   n > 0) {
            cfg->session_evict_idle_s = (unsigned)n;
        } else if (strcmp(name, "--authn-fail-limit") == 0 && parse_uint(val, 1000000, &n)) {
            cfg->authn_fail_limit = (unsigned)n;
            cfg->authn_fail_limit_given = true;
        } else if (strcmp(name, "--authn-fail-window") == 0 && parse_uint(val, 86400, &n) &&
                   n > 0) {
            cfg->authn_fail_window_s = (unsigned)n;
        } else if (strcmp(name, "--leeway") == 0 && parse_uint(val, 3600, &n)) {
            cfg->leeway_s = (unsigned)n;
            leeway_given = true;
        } else if (strcmp(name, "--introspection-cache-ttl") == 0 && parse_uint(val, 3600, &n)) {
            cfg->introspection_cache_ttl_s = (unsigned)n;
            ttl_given = true;
        } else if (strcmp(name, "--jwks-refresh") == 0 && parse_uint(val, 86400, &n)) {
            cfg->jwks_refresh_s = (unsigned)n;
            jwks_timing_given = true;
        } else if (strcmp(name, "--jwks-min-interval") == 0 && parse_uint(val, 86400, &n)) {
            cfg->jwks_min_interval_s = (unsigned)n;
            jwks_timing_given = true;
        } else if (strcmp(name, "--auth") == 0) {
            if (!parse_auth(val, &cfg->auth)) {
                fprintf(stderr, "%s: --auth wants none, or a comma list of apikey, jwt, "
                        "introspection\n", prog);
                return 2;
            }
        } else if (strcmp(name, "--request-state-key") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->request_state_key, val);
        } else if (strcmp(name, "--request-state-prev-key") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->request_state_prev_key, val);
        } else if (strcmp(name, "--db") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->db, val);
        } else if (strcmp(name, "--jwt-secret-file") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->jwt_secret_file, val);
        } else if (strcmp(name, "--jwt-alg") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->jwt_alg, val);
        } else if (strcmp(name, "--jwt-public-key") == 0 && val[0] != '\0') {
            r = add_multi(cfg->jwt_public_keys, &cfg->n_jwt_public_keys, val, prog, name);
        } else if (strcmp(name, "--jwks-file") == 0 && val[0] != '\0') {
            r = add_multi(cfg->jwks_files, &cfg->n_jwks_files, val, prog, name);
        } else if (strcmp(name, "--jwks-url") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->jwks_url, val);
        } else if (strcmp(name, "--issuer") == 0) {
            ok = set_str(&cfg->issuer, val);
        } else if (strcmp(name, "--audience") == 0) {
            ok = set_str(&cfg->audience, val);
        } else if (strcmp(name, "--claims-profile") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->claims_profile, val);
        } else if (strcmp(name, "--claims-client") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->claims_client, val);
        } else if (strcmp(name, "--permission-map") == 0 && strchr(val, '=') != NULL &&
                   val[0] != '=' && strchr(val, '=')[1] != '\0') {
            r = add_multi(cfg->permission_map, &cfg->n_permission_map, val, prog, name);
        } else if (strcmp(name, "--subject-claim") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->subject_claim, val);
        } else if (strcmp(name, "--name-claim") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->name_claim, val);
        } else if (strcmp(name, "--client-id-claim") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->client_id_claim, val);
        } else if (strcmp(name, "--permission-claim") == 0 && val[0] != '\0') {
            r = add_multi(cfg->permission_claims, &cfg->n_permission_claims, val, prog, name);
        } else if (strcmp(name, "--trusted-issuers") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->trusted_issuers, val);
        } else if (strcmp(name, "--allowed-tenant") == 0 && val[0] != '\0') {
            r = add_multi(cfg->allowed_tenants, &cfg->n_allowed_tenants, val, prog, name);
        } else if (strcmp(name, "--resource-url") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->resource_url, val);
        } else if (strcmp(name, "--authorization-server") == 0 && val[0] != '\0') {
            r = add_multi(cfg->authorization_servers, &cfg->n_authorization_servers, val, prog,
                          name);
        } else if (strcmp(name, "--scopes") == 0) {
            ok = set_str(&cfg->scopes, val);
        } else if (strcmp(name, "--introspection-url") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->introspection_url, val);
        } else if (strcmp(name, "--introspection-client-id") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->introspection_client_id, val);
        } else if (strcmp(name, "--introspection-client-secret-file") == 0 && val[0] != '\0') {
            ok = set_str(&cfg->introspection_client_secret_file, val);
        } else if (strcmp(name, "--permission-rule") == 0) {
            if (!mcp_permission_rule_parse(val, &cfg->permission_rule)) {
                fprintf(stderr, "%s: --permission-rule wants store, union or token-only\n",
                        prog);
                return 2;
            }
        } else if (strcmp(name, "--rate-limits") == 0) {
            if (strcmp(val, "local") == 0 || strcmp(val, "shared") == 0) {
                cfg->shared_rate_limits = strcmp(val, "shared") == 0;
            } else {
                fprintf(stderr, "%s: --rate-limits wants local or shared\n", prog);
                return 2;
            }
        } else if (strcmp(name, "--store-subjects") == 0) {
            if (!mcp_store_subjects_parse(val, &cfg->store_subjects)) {
                fprintf(stderr, "%s: --store-subjects wants bare or issuer\n", prog);
                return 2;
            }
        } else if (is_extra(extra, name)) {
            if (cfg->nextra + 2 > (int)(sizeof cfg->extra_args / sizeof cfg->extra_args[0])) {
                fprintf(stderr, "%s: too many options\n", prog);
                return 2;
            }
            cfg->extra_args[cfg->nextra++] = strdup(name);
            cfg->extra_args[cfg->nextra++] = strdup(val);
            ok = cfg->extra_args[cfg->nextra - 2] != NULL && cfg->extra_args[cfg->nextra - 1];
        } else if (takes) {
            fprintf(stderr, "%s: bad value for %s (see %s --help)\n", prog, name, prog);
            return 2;
        } else {
            fprintf(stderr, "%s: unknown option %s (see %s --help)\n", prog, a, prog);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "%s: out of memory\n", prog);
            return 1;
        }
        if (r >= 0)
            return r;
    }
    return check_consistency(cfg, prog, leeway_given, ttl_given, jwks_timing_given);
}

int
mcp_app_config_parse(mcp_app_config *cfg, int argc, char **argv, const char *prog,
                     const char *summary, const char *const *extra, const char *extra_help)
{
    int rc = parse_args(cfg, argc, argv, prog, summary, extra, extra_help);
    if (rc >= 0)
        mcp_app_config_cleanup(cfg);   /* the program exits now: leave nothing behind */
    return rc;
}
