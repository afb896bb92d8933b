/*
 * The shared server command line (mcp_app_config_parse): every flag, every inconsistent
 * combination (exit status 2 and the message that names the problem), and mcp_app_setup()
 * with real key files, a real store file and the protected-resource metadata it prepares.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/app.h>
#include <mcp/jwt.h>

#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static char errtext[4096];

/* ---- helpers ----------------------------------------------------------------------------- */

static void
write_file(const char *name, const char *content, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

/* Run the parser on a NULL-terminated argument list; stderr is captured into errtext. */
static int
parse_v(mcp_app_config *cfg, const char *const *extra, const char **args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"prog";
    for (; *args != NULL; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
    int fdo = open("/dev/null", O_WRONLY);
    int saved_out = dup(1);
    fflush(stdout);
    dup2(fdo, 1);
    close(fdo);
    int rc = mcp_app_config_parse(cfg, argc, argv, "prog", "test", extra, NULL);
    fflush(stderr);
    fflush(stdout);
    dup2(saved, 2);
    close(saved);
    dup2(saved_out, 1);
    close(saved_out);
    FILE *f = fopen(path, "rb");
    size_t n = fread(errtext, 1, sizeof errtext - 1, f);
    errtext[n] = '\0';
    fclose(f);
    return rc;
}

#define PARSE(cfg, ...) parse_v((cfg), NULL, (const char *[]){ __VA_ARGS__, NULL })

static void
expect_usage_error(const char *why, const char **args)
{
    mcp_app_config cfg;
    int rc = parse_v(&cfg, NULL, args);
    if (rc != 2 || strstr(errtext, why) == NULL)
        fail_msg("args starting %s: want exit 2 with \"%s\", got %d: %s", args[0], why, rc,
                 errtext);
    mcp_app_config_cleanup(&cfg);
}

#define BAD(why, ...) expect_usage_error((why), (const char *[]){ __VA_ARGS__, NULL })

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mcp-test-app-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- parsing ----------------------------------------------------------------------------- */

static void
app_config_defaults(void **state)
{
    (void)state;
    mcp_app_config cfg;
    assert_int_equal(parse_v(&cfg, NULL, (const char *[]){ NULL }), -1);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 8080);
    assert_true(cfg.access_log);
    assert_int_equal(cfg.auth, 0);
    assert_int_equal(cfg.leeway_s, 60);
    assert_int_equal(cfg.introspection_cache_ttl_s, 60);
    assert_int_equal(cfg.jwks_refresh_s, 300);
    assert_int_equal(cfg.jwks_min_interval_s, 30);
    assert_null(cfg.db);
    assert_null(cfg.issuer);
    assert_null(mcp_app_store(&cfg));
    assert_null(mcp_app_resource_url(&cfg));
    mcp_app_config_cleanup(&cfg);
}

static void
app_config_parses_every_flag(void **state)
{
    (void)state;
    mcp_app_config cfg;
    int rc = PARSE(&cfg, "--listen", "[::1]:9000", "--stateless", "--max-body=1000",
                   "--workers", "3", "--io-threads", "2", "--max-connections", "50",
                   "--no-access-log", "--auth", "apikey,jwt,introspection", "--db", "x.db",
                   "--jwt-secret-file", "s.key", "--jwt-alg", "HS384", "--jwks-file", "a.json",
                   "--jwks-file=b.json", "--jwks-url", "http://127.0.0.1:1/jwks",
                   "--jwks-refresh", "0", "--jwks-min-interval", "2",
                   "--issuer", "https://iss", "--audience", "https://aud", "--resource-url",
                   "https://mcp.example/mcp", "--authorization-server", "https://as1",
                   "--authorization-server", "https://as2", "--scopes", "a b", "--leeway", "5",
                   "--introspection-url", "https://as1/introspect", "--introspection-client-id",
                   "rs", "--introspection-client-secret-file", "c.secret",
                   "--introspection-cache-ttl", "0");
    assert_int_equal(rc, -1);
    assert_string_equal(cfg.listen_host, "::1");
    assert_int_equal(cfg.listen_port, 9000);
    assert_true(cfg.stateless);
    assert_int_equal(cfg.max_body, 1000);
    assert_int_equal(cfg.workers, 3);
    assert_int_equal(cfg.io_threads, 2);
    assert_int_equal(cfg.max_connections, 50);
    assert_false(cfg.access_log);
    assert_int_equal(cfg.auth, MCP_APP_AUTH_APIKEY | MCP_APP_AUTH_JWT | MCP_APP_AUTH_INTROSPECTION);
    assert_string_equal(cfg.db, "x.db");
    assert_string_equal(cfg.jwt_secret_file, "s.key");
    assert_string_equal(cfg.jwt_alg, "HS384");
    assert_int_equal(cfg.n_jwks_files, 2);
    assert_string_equal(cfg.jwks_files[1], "b.json");
    assert_string_equal(cfg.jwks_url, "http://127.0.0.1:1/jwks");
    assert_int_equal(cfg.jwks_refresh_s, 0);
    assert_int_equal(cfg.jwks_min_interval_s, 2);
    assert_string_equal(cfg.issuer, "https://iss");
    assert_string_equal(cfg.audience, "https://aud");
    assert_string_equal(cfg.resource_url, "https://mcp.example/mcp");
    assert_int_equal(cfg.n_authorization_servers, 2);
    assert_string_equal(cfg.authorization_servers[1], "https://as2");
    assert_string_equal(cfg.scopes, "a b");
    assert_int_equal(cfg.leeway_s, 5);
    assert_string_equal(cfg.introspection_url, "https://as1/introspect");
    assert_string_equal(cfg.introspection_client_id, "rs");
    assert_string_equal(cfg.introspection_client_secret_file, "c.secret");
    assert_int_equal(cfg.introspection_cache_ttl_s, 0);
    mcp_app_config_cleanup(&cfg);

    rc = PARSE(&cfg, "--auth", "jwt", "--jwt-public-key", "a.pem", "--jwt-public-key", "b.pem",
               "--jwt-alg", "ES256", "--jwt-allow-no-issuer", "--no-audience-check");
    assert_int_equal(rc, -1);
    assert_int_equal(cfg.auth, MCP_APP_AUTH_JWT);
    assert_int_equal(cfg.n_jwt_public_keys, 2);
    assert_string_equal(cfg.jwt_public_keys[0], "a.pem");
    assert_true(cfg.jwt_allow_no_issuer);
    assert_true(cfg.no_audience_check);
    mcp_app_config_cleanup(&cfg);

    rc = PARSE(&cfg, "--auth", "none", "--stdio");
    assert_int_equal(rc, -1);
    assert_int_equal(cfg.auth, 0);
    assert_true(cfg.stdio);
    mcp_app_config_cleanup(&cfg);

    assert_int_equal(PARSE(&cfg, "--help"), 0);
    mcp_app_config_cleanup(&cfg);
}

static void
app_config_keeps_program_extras(void **state)
{
    (void)state;
    static const char *const extra[] = { "--policy", "--audit-log", NULL };
    mcp_app_config cfg;
    int rc = parse_v(&cfg, extra,
                     (const char *[]){ "--policy", "p1.json", "--auth", "apikey", "--db", "k.db",
                                       "--audit-log=-", "--policy", "p2.json", NULL });
    assert_int_equal(rc, -1);
    assert_string_equal(mcp_app_config_extra(&cfg, "--policy"), "p2.json");
    assert_string_equal(mcp_app_config_extra(&cfg, "--audit-log"), "-");
    assert_null(mcp_app_config_extra(&cfg, "--nope"));
    assert_int_equal(cfg.auth, MCP_APP_AUTH_APIKEY);
    mcp_app_config_cleanup(&cfg);
    /* without being declared, the same flag is unknown */
    BAD("unknown option --policy", "--policy", "p.json");
}

static void
app_config_rejects_bad_values(void **state)
{
    (void)state;
    BAD("--auth wants", "--auth", "oauth");
    BAD("--auth wants", "--auth", "jwt,");
    BAD("--auth wants", "--auth", "");
    BAD("--auth wants", "--auth", "jwt,,apikey");
    BAD("--jwt-alg must be one of", "--auth", "jwt", "--jwt-secret-file", "s", "--jwt-alg",
        "none", "--issuer", "i");
    BAD("bad value for --leeway", "--leeway", "-1");
    BAD("bad value for --leeway", "--leeway", "99999");
    BAD("bad value for --introspection-cache-ttl", "--introspection-cache-ttl", "x");
    BAD("--listen wants", "--listen", "8080");
    BAD("--listen wants", "--listen", "127.0.0.1:-1");
    BAD("--listen wants", "--listen", ":80");
    BAD("needs a value", "--issuer");
    BAD("bad value for --db", "--db", "");
    BAD("takes no value", "--stateless=yes");
    BAD("given more than 8 times", "--auth", "jwt", "--issuer", "i", "--jwks-file", "1",
        "--jwks-file", "2", "--jwks-file", "3", "--jwks-file", "4", "--jwks-file", "5",
        "--jwks-file", "6", "--jwks-file", "7", "--jwks-file", "8", "--jwks-file", "9");
}

static void
app_config_refuses_secrets_on_the_command_line(void **state)
{
    (void)state;
    BAD("secrets are read from files", "--jwt-secret", "hunter2hunter2hunter2hunter2hunter2");
    assert_null(strstr(errtext, "hunter2"));
    BAD("--introspection-client-secret-file", "--introspection-client-secret", "x");
    BAD("secrets are read from files", "--client-secret=abc");
    assert_null(strstr(errtext, "abc"));
    BAD("secrets are read from files", "--api-key", "mcp_x");
}

static void
app_config_rejects_inconsistent_combinations(void **state)
{
    (void)state;
    BAD("--subject-claim, --name-claim, --client-id-claim and --permission-claim need --auth jwt",
        "--auth", "apikey", "--db", "x.db", "--permission-claim", "realm_access.roles");
    BAD("--subject-claim, --name-claim, --client-id-claim and --permission-claim need --auth jwt",
        "--subject-claim", "oid");
    BAD("--permission-claim given more than 8 times", "--auth", "jwt", "--jwt-secret-file", "k",
        "--issuer", "i", "--permission-claim", "a", "--permission-claim", "a",
        "--permission-claim", "a", "--permission-claim", "a", "--permission-claim", "a",
        "--permission-claim", "a", "--permission-claim", "a", "--permission-claim", "a",
        "--permission-claim", "a");
    BAD("cannot be combined with --stdio", "--stdio", "--auth", "apikey", "--db", "x");
    BAD("--auth apikey needs --db", "--auth", "apikey");
    BAD("--auth jwt needs a key", "--auth", "jwt", "--jwt-allow-no-issuer");
    BAD("cannot be discovered", "--auth", "jwt", "--issuer", "https://l/{tenantid}/v2.0",
        "--allowed-tenant", "t");
    /* --issuer alone is enough: the JWKS and the introspection endpoint are discovered */
    mcp_app_config ok;
    assert_int_equal(PARSE(&ok, "--auth", "jwt", "--issuer", "https://i", "--jwks-refresh", "9"),
                     -1);
    mcp_app_config_cleanup(&ok);
    assert_int_equal(PARSE(&ok, "--auth", "introspection", "--issuer", "https://i",
                           "--introspection-client-id", "c",
                           "--introspection-client-secret-file", "f"), -1);
    mcp_app_config_cleanup(&ok);
    BAD("--auth jwt needs --issuer", "--auth", "jwt", "--jwt-secret-file", "s");
    BAD("contradict", "--auth", "jwt", "--jwt-secret-file", "s", "--issuer", "i",
        "--jwt-allow-no-issuer");
    BAD("need --auth jwt", "--jwt-secret-file", "s");
    BAD("need --auth jwt", "--auth", "apikey", "--db", "d", "--jwks-url", "https://x/j");
    BAD("need --auth jwt", "--jwt-allow-no-issuer");
    BAD("need --auth jwt", "--auth", "introspection", "--introspection-url", "https://a/i",
        "--introspection-client-id", "c", "--introspection-client-secret-file", "f",
        "--jwt-public-key", "k.pem");
    BAD("need --jwks-url", "--auth", "jwt", "--jwt-secret-file", "s", "--issuer", "i",
        "--jwks-min-interval", "1");
    BAD("need --jwks-url", "--jwks-refresh", "10");
    BAD("need --auth introspection", "--introspection-url", "https://a/i");
    BAD("need --auth introspection", "--auth", "jwt", "--jwt-secret-file", "s", "--issuer", "i",
        "--introspection-cache-ttl", "5");
    BAD("--auth introspection needs", "--auth", "introspection", "--introspection-url",
        "https://a/i", "--introspection-client-id", "c");
    BAD("--auth introspection needs", "--auth", "introspection", "--introspection-client-id",
        "c", "--introspection-client-secret-file", "f");
    BAD("need --auth jwt or introspection", "--issuer", "https://i");
    BAD("need --auth jwt or introspection", "--auth", "apikey", "--db", "d", "--audience", "a");
    BAD("need --auth jwt or introspection", "--leeway", "3");
    BAD("need --auth jwt or introspection", "--no-audience-check");
    BAD("need --auth", "--resource-url", "https://x/mcp");
    BAD("need --auth", "--authorization-server", "https://as");
    BAD("need --auth", "--scopes", "a");
    BAD("--jwt-alg HS* needs --jwt-secret-file", "--auth", "jwt", "--jwt-public-key", "k",
        "--jwt-alg", "HS256", "--issuer", "i");
    BAD("needs --jwt-public-key", "--auth", "jwt", "--jwt-secret-file", "s", "--jwt-alg",
        "RS256", "--issuer", "i");
    BAD("ambiguous", "--auth", "jwt", "--jwt-secret-file", "s", "--jwt-public-key", "k",
        "--jwt-alg", "HS256", "--issuer", "i");
    BAD("contradict", "--auth", "jwt", "--jwt-secret-file", "s", "--issuer", "i", "--audience",
        "a", "--no-audience-check");
    BAD("--audience must not be empty", "--auth", "jwt", "--jwt-secret-file", "s", "--issuer",
        "i", "--audience", "");
    BAD("--issuer must not be empty", "--auth", "jwt", "--jwt-secret-file", "s", "--issuer", "");
    BAD("--resource-url must be", "--auth", "jwt", "--jwt-secret-file", "s", "--issuer", "i",
        "--resource-url", "mcp.example/mcp");
    BAD("--resource-url must be", "--auth", "jwt", "--jwt-secret-file", "s", "--issuer", "i",
        "--resource-url", "https://mcp.example/mcp#frag");
    BAD("--authorization-server must be", "--auth", "jwt", "--jwt-secret-file", "s", "--issuer",
        "i", "--authorization-server", "as.example");
    BAD("--jwks-url must be", "--auth", "jwt", "--jwks-url", "file:///etc/jwks", "--issuer", "i");
    BAD("--introspection-url must be", "--auth", "introspection", "--introspection-url", "x",
        "--introspection-client-id", "c", "--introspection-client-secret-file", "f",
        "--no-audience-check");
    BAD("--scopes", "--auth", "jwt", "--jwt-secret-file", "s", "--issuer", "i", "--scopes",
        "a\"b");
    BAD("give --resource-url", "--auth", "jwt", "--jwt-secret-file", "s", "--issuer", "i",
        "--listen", "0.0.0.0:8080");
}

/* ---- setup ------------------------------------------------------------------------------- */

static mcp_server *
new_server(void)
{
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.workers = 1;
    mcp_server *srv = NULL;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &srv, &err), MCP_OK);
    return srv;
}

static char *
ec_public_pem(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(k);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(k);
    return out;
}

static json_t *
prm_of(const mcp_app_config *cfg)
{
    mcp_http_opts ho;
    mcp_app_http_opts(cfg, &ho);
    assert_non_null(ho.resource_metadata_json);
    assert_string_equal(ho.resource_url, mcp_app_resource_url(cfg));
    json_t *j = json_loads(ho.resource_metadata_json, 0, NULL);
    assert_non_null(j);
    return j;
}

static void
app_setup_without_auth_changes_nothing(void **state)
{
    (void)state;
    mcp_app_config cfg;
    assert_int_equal(PARSE(&cfg, "--listen", "127.0.0.1:0", "--max-body", "77"), -1);
    mcp_server *srv = new_server();
    mcp_error err;
    assert_int_equal(mcp_app_setup(&cfg, srv, &err), MCP_OK);
    assert_int_equal(mcp_app_setup(&cfg, srv, &err), MCP_OK);     /* idempotent */
    mcp_http_opts ho;
    mcp_app_http_opts(&cfg, &ho);
    assert_null(ho.resource_metadata_json);
    assert_null(ho.resource_url);
    assert_int_equal(ho.port, 0);
    assert_int_equal(ho.max_body, 77);
    assert_null(mcp_app_store(&cfg));
    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);
}

static void
app_setup_builds_jwt_and_prm(void **state)
{
    (void)state;
    char sec[300], pub[300], jwks[300], db[300];
    write_file("hs.key", "0123456789abcdef0123456789abcdef0123456789abcdef\n", sec, sizeof sec);
    char *pem = ec_public_pem();
    write_file("ec.pem", pem, pub, sizeof pub);
    free(pem);
    write_file("jwks.json",
               "{\"keys\":[{\"kty\":\"oct\",\"alg\":\"HS512\",\"kid\":\"o1\",\"k\":"
               "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYw"
               "MTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg\"}]}",
               jwks, sizeof jwks);
    snprintf(db, sizeof db, "%s/store.db", dir);

    mcp_app_config cfg;
    assert_int_equal(PARSE(&cfg, "--listen", "127.0.0.1:0", "--auth", "jwt,apikey", "--db", db,
                           "--db-create", "--jwt-secret-file", sec, "--jwt-alg", "HS256",
                           "--jwks-file", jwks, "--issuer", "https://as.example", "--scopes",
                           "User.Read  tools:call"),
                     -1);
    mcp_server *srv = new_server();
    mcp_error err;
    mcp_status rc = mcp_app_setup(&cfg, srv, &err);
    if (rc != MCP_OK)
        fail_msg("setup: %s", err.message);
    assert_non_null(mcp_app_store(&cfg));
    assert_int_not_equal(cfg.listen_port, 0);                  /* port 0: one was picked */
    char want[128];
    snprintf(want, sizeof want, "http://127.0.0.1:%u/mcp", (unsigned)cfg.listen_port);
    assert_string_equal(mcp_app_resource_url(&cfg), want);
    json_t *prm = prm_of(&cfg);
    assert_string_equal(json_string_value(json_object_get(prm, "resource")), want);
    json_t *as = json_object_get(prm, "authorization_servers");
    assert_int_equal(json_array_size(as), 1);                  /* defaults to the issuer */
    assert_string_equal(json_string_value(json_array_get(as, 0)), "https://as.example");
    json_t *sc = json_object_get(prm, "scopes_supported");
    assert_int_equal(json_array_size(sc), 2);
    assert_string_equal(json_string_value(json_array_get(sc, 1)), "tools:call");
    json_t *bm = json_object_get(prm, "bearer_methods_supported");
    assert_int_equal(json_array_size(bm), 1);
    assert_string_equal(json_string_value(json_array_get(bm, 0)), "header");
    json_decref(prm);
    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);

    /* a public key, explicit resource URL and authorization servers */
    assert_int_equal(PARSE(&cfg, "--auth", "jwt", "--jwt-public-key", pub, "--issuer", "https://i",
                           "--resource-url", "https://mcp.example/api/mcp",
                           "--authorization-server", "https://as1", "--authorization-server",
                           "https://as2"),
                     -1);
    srv = new_server();
    rc = mcp_app_setup(&cfg, srv, &err);
    if (rc != MCP_OK)
        fail_msg("setup: %s", err.message);
    assert_string_equal(mcp_app_resource_url(&cfg), "https://mcp.example/api/mcp");
    assert_int_equal(cfg.listen_port, 8080);
    prm = prm_of(&cfg);
    as = json_object_get(prm, "authorization_servers");
    assert_int_equal(json_array_size(as), 2);
    assert_string_equal(json_string_value(json_array_get(as, 1)), "https://as2");
    assert_null(json_object_get(prm, "scopes_supported"));
    json_decref(prm);
    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);
}

static void
app_setup_reports_bad_files(void **state)
{
    (void)state;
    char sec[300], shortsec[300], notpem[300], empty[300], good[300];
    write_file("good.key", "0123456789abcdef0123456789abcdef0123456789abcdef\n", good,
               sizeof good);
    write_file("short.key", "tooshort\n", shortsec, sizeof shortsec);
    write_file("notpem.pem", "hello\n", notpem, sizeof notpem);
    write_file("empty.secret", "\n", empty, sizeof empty);
    snprintf(sec, sizeof sec, "%s/missing.key", dir);
    struct {
        const char *args[16];
        mcp_status want;
        const char *msg;
    } cases[] = {
        { { "--auth", "jwt", "--jwt-secret-file", sec, "--issuer", "i", NULL }, MCP_ERR_IO,
          "missing.key" },
        { { "--auth", "jwt", "--jwt-secret-file", shortsec, "--issuer", "i", NULL },
          MCP_ERR_INVALID_ARG, "short.key" },
        { { "--auth", "jwt", "--jwt-public-key", notpem, "--issuer", "i", NULL },
          MCP_ERR_INVALID_ARG, "notpem.pem" },
        { { "--auth", "jwt", "--jwks-file", notpem, "--issuer", "i", NULL }, MCP_ERR_INVALID_ARG,
          "notpem.pem" },
        { { "--auth", "introspection", "--introspection-url", "http://127.0.0.1:1/i",
            "--introspection-client-id", "c", "--introspection-client-secret-file", empty, NULL },
          MCP_ERR_INVALID_ARG, "empty" },
        { { "--auth", "introspection", "--introspection-url", "http://127.0.0.1:1/i",
            "--introspection-client-id", "c", "--introspection-client-secret-file", sec, NULL },
          MCP_ERR_IO, "cannot open" },
        { { "--auth", "introspection", "--introspection-url", "http://as.example/i",
            "--introspection-client-id", "c", "--introspection-client-secret-file", shortsec,
            NULL },
          MCP_ERR_INVALID_ARG, "https" },
        /* an unreachable JWKS URL is not a setup error (retried; /ready says not ready), a
         * URL breaking the https rule is */
        { { "--auth", "jwt", "--jwks-url", "http://jwks.example/jwks", "--issuer", "i", NULL },
          MCP_ERR_INVALID_ARG, "--jwks-url" },
        /* the introspection endpoint is discovered once, at start-up: unreachable is an error */
        { { "--auth", "introspection", "--issuer", "http://127.0.0.1:1",
            "--introspection-client-id", "c", "--introspection-client-secret-file", shortsec,
            NULL },
          MCP_ERR_IO, "--issuer discovery of the introspection endpoint" },
        { { "--auth", "jwt", "--jwt-secret-file", good, "--issuer", "i", "--permission-claim",
            "realm_access..roles", NULL },
          MCP_ERR_INVALID_ARG, "JWT verifier: permission claim: bad claim path (an empty segment)" },
        { { "--auth", "jwt", "--jwt-secret-file", good, "--issuer", "i", "--subject-claim",
            "a\\b", NULL },
          MCP_ERR_INVALID_ARG, "subject claim: bad claim path (a backslash escapes only" },
        { { "--auth", "jwt", "--jwt-secret-file", good, "--issuer", "i", "--client-id-claim",
            "x.", NULL },
          MCP_ERR_INVALID_ARG, "client id claim: bad claim path" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcp_app_config cfg;
        assert_int_equal(parse_v(&cfg, NULL, cases[i].args), -1);
        mcp_server *srv = new_server();
        mcp_error err;
        mcp_error_clear(&err);
        mcp_status rc = mcp_app_setup(&cfg, srv, &err);
        if (rc != cases[i].want || strstr(err.message, cases[i].msg) == NULL)
            fail_msg("case %zu: want %s \"%s\", got %s \"%s\"", i,
                     mcp_status_name(cases[i].want), cases[i].msg, mcp_status_name(rc),
                     err.message);
        assert_null(strstr(err.message, "tooshort"));     /* never the secret */
        mcp_server_free(srv);
        mcp_app_config_cleanup(&cfg);
    }
}

/* Issue 14: --version, --db refusing a missing file, --db-create, --allowed-host and the host
 * of --resource-url, --reuse-port, and the stdio identity flags. */
static void
app_config_issue14_flags(void **state)
{
    (void)state;
    mcp_app_config cfg;
    assert_int_equal(PARSE(&cfg, "--version"), 0);
    assert_int_equal(PARSE(&cfg, "-V"), 0);
    BAD("--as-user needs --stdio", "--as-user", "alice");
    BAD("--as-permissions needs --as-user", "--stdio", "--as-permissions", "User.Read");
    BAD("--db-create needs --db", "--db-create");
    BAD("no --auth on a non-loopback address", "--listen", "0.0.0.0:8080");
    BAD("no --auth on a non-loopback address", "--listen", "[::]:8080");
    BAD("no --auth on a non-loopback address", "--listen", "192.0.2.1:8080");
    BAD("--insecure-no-auth is for HTTP without --auth only", "--stdio", "--insecure-no-auth");
    assert_int_equal(PARSE(&cfg, "--listen", "0.0.0.0:0", "--insecure-no-auth"), -1);
    mcp_app_config_cleanup(&cfg);
    assert_int_equal(PARSE(&cfg, "--listen", "127.0.0.2:0"), -1);
    mcp_app_config_cleanup(&cfg);
    assert_int_equal(PARSE(&cfg, "--listen", "[::1]:0"), -1);
    mcp_app_config_cleanup(&cfg);
    assert_int_equal(PARSE(&cfg, "--listen", "localhost:0"), -1);
    mcp_app_config_cleanup(&cfg);
    BAD("--tls-cert and --tls-key go together", "--tls-cert", "c.pem");
    BAD("--tls-cert and --tls-key go together", "--tls-key", "k.pem");
    BAD("cannot be combined with --stdio", "--stdio", "--tls-cert", "c.pem", "--tls-key", "k.pem");
    BAD("--allowed-host wants a host name", "--allowed-host", "https://x.example/mcp");
    BAD("cannot be combined with --stdio (use --as-user)", "--stdio", "--auth", "apikey",
        "--db", "x");
    BAD("unknown option --frob (see prog --help)", "--frob");
    BAD("--listen needs a value (see prog --help)", "--listen");

    assert_int_equal(PARSE(&cfg, "--listen", "127.0.0.1:0", "--allowed-host", "a.example",
                           "--allowed-host", "b.example:8443", "--reuse-port"), -1);
    assert_string_equal(cfg.prog, "prog");
    mcp_server *srv = new_server();
    mcp_error err;
    assert_int_equal(mcp_app_setup(&cfg, srv, &err), MCP_OK);
    mcp_http_opts ho;
    mcp_app_http_opts(&cfg, &ho);
    assert_true(ho.reuse_port);
    assert_non_null(ho.allowed_hosts);
    assert_string_equal(ho.allowed_hosts[0], "a.example");
    assert_string_equal(ho.allowed_hosts[1], "b.example:8443");
    assert_null(ho.allowed_hosts[2]);
    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);

    /* the host of --resource-url is allowed without being listed */
    char sec[300];
    write_file("hs14.key", "0123456789abcdef0123456789abcdef0123456789abcdef\n", sec, sizeof sec);
    assert_int_equal(PARSE(&cfg, "--listen", "127.0.0.1:0", "--auth", "jwt", "--jwt-secret-file",
                           sec, "--issuer", "i", "--resource-url",
                           "https://user@mcp.example.com:8443/mcp"), -1);
    srv = new_server();
    assert_int_equal(mcp_app_setup(&cfg, srv, &err), MCP_OK);
    mcp_app_http_opts(&cfg, &ho);
    assert_false(ho.reuse_port);
    assert_non_null(ho.allowed_hosts);
    assert_string_equal(ho.allowed_hosts[0], "mcp.example.com");
    assert_null(ho.allowed_hosts[1]);
    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);

    /* --db: a missing file is refused and named, nothing is created; --db-create creates it */
    char db[300];
    snprintf(db, sizeof db, "%s/typo14.db", dir);
    unlink(db);
    assert_int_equal(PARSE(&cfg, "--db", db, "--auth", "apikey", "--listen", "127.0.0.1:0"), -1);
    srv = new_server();
    mcp_error_clear(&err);
    assert_int_equal(mcp_app_setup(&cfg, srv, &err), MCP_ERR_IO);
    assert_non_null(strstr(err.message, db));
    assert_non_null(strstr(err.message, "no such file"));
    assert_non_null(strstr(err.message, "mcp-admin"));
    struct stat sb;
    assert_int_not_equal(stat(db, &sb), 0);
    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);
    assert_int_equal(PARSE(&cfg, "--db", db, "--db-create", "--stdio", "--as-user", "alice",
                           "--as-permissions", "User.Read"), -1);
    srv = new_server();
    assert_int_equal(mcp_app_setup(&cfg, srv, &err), MCP_OK);
    assert_int_equal(stat(db, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_non_null(mcp_app_store(&cfg));
    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);
}

static void
app_setup_reads_introspection_secret_and_never_logs_it(void **state)
{
    (void)state;
    char sec[300];
    write_file("intro.secret", "very-secret-value-123\n", sec, sizeof sec);
    mcp_app_config cfg;
    assert_int_equal(PARSE(&cfg, "--listen", "127.0.0.1:0", "--auth", "introspection",
                           "--introspection-url", "http://127.0.0.1:1/i",
                           "--introspection-client-id", "rs", "--introspection-client-secret-file",
                           sec, "--issuer", "https://as"),
                     -1);
    mcp_server *srv = new_server();
    mcp_error err;
    char path[300];
    snprintf(path, sizeof path, "%s/setup-stderr.txt", dir);
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    mcp_status rc = mcp_app_setup(&cfg, srv, &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(rc, MCP_OK);
    FILE *f = fopen(path, "rb");
    char log[4096];
    size_t n = fread(log, 1, sizeof log - 1, f);
    log[n] = '\0';
    fclose(f);
    assert_non_null(strstr(log, "authentication introspection"));
    assert_null(strstr(log, "very-secret"));
    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);
}

/* The connection, stream, session and failed-authentication limits reach both option structs. */
static void
app_config_limits_reach_the_options(void **state)
{
    (void)state;
    mcp_app_config cfg;
    assert_int_equal(parse_v(&cfg, NULL, (const char *[]){
                         "--max-connections-per-ip", "8", "--max-streams-per-principal", "4",
                         "--connection-timeout", "5", "--suspend-timeout=7",
                         "--session-evict-idle", "9", "--authn-fail-limit", "0",
                         "--authn-fail-window", "11", "--stateless",
                         "--request-state-key", "/etc/mcp/rs.key",
                         "--request-state-prev-key", "/etc/mcp/rs.old", NULL }), -1);
    mcp_http_opts ho;
    mcp_app_http_opts(&cfg, &ho);
    assert_int_equal(ho.max_connections_per_ip, 8);
    assert_int_equal(ho.max_streams_per_principal, 4);
    assert_int_equal(ho.connection_timeout_s, 5);
    assert_int_equal(ho.suspend_timeout_s, 7);
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    assert_int_equal(so.authn_fail_limit, 20);
    mcp_app_server_opts(&cfg, &so);
    assert_true(so.stateless);
    assert_int_equal(so.session_evict_idle_s, 9);
    assert_int_equal(so.authn_fail_limit, 0);          /* given as 0: off */
    assert_int_equal(so.authn_fail_window_s, 11);
    assert_string_equal(so.request_state_key_file, "/etc/mcp/rs.key");
    assert_string_equal(so.request_state_prev_key_file, "/etc/mcp/rs.old");
    mcp_app_config_cleanup(&cfg);
    /* not given: the defaults stay */
    assert_int_equal(parse_v(&cfg, NULL, (const char *[]){ NULL }), -1);
    mcp_app_http_opts(&cfg, &ho);
    assert_int_equal(ho.max_connections_per_ip, 256);
    assert_int_equal(ho.suspend_timeout_s, 300);
    mcp_server_opts_default(&so);
    mcp_app_server_opts(&cfg, &so);
    assert_int_equal(so.authn_fail_limit, 20);
    assert_int_equal(so.session_evict_idle_s, 60);
    assert_null(so.request_state_key_file);
    mcp_app_config_cleanup(&cfg);
    const char *bad[][3] = { { "--max-connections-per-ip", "0", NULL },
                             { "--suspend-timeout", "-1", NULL },
                             { "--authn-fail-window", "0", NULL },
                             { "--connection-timeout", "x", NULL } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(parse_v(&cfg, NULL, bad[i]), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(app_config_defaults),
        cmocka_unit_test(app_config_parses_every_flag),
        cmocka_unit_test(app_config_limits_reach_the_options),
        cmocka_unit_test(app_config_keeps_program_extras),
        cmocka_unit_test(app_config_rejects_bad_values),
        cmocka_unit_test(app_config_refuses_secrets_on_the_command_line),
        cmocka_unit_test(app_config_rejects_inconsistent_combinations),
        cmocka_unit_test(app_setup_without_auth_changes_nothing),
        cmocka_unit_test(app_setup_builds_jwt_and_prm),
        cmocka_unit_test(app_setup_reports_bad_files),
        cmocka_unit_test(app_config_issue14_flags),
        cmocka_unit_test(app_setup_reads_introspection_secret_and_never_logs_it),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
