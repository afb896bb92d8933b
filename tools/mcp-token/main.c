/*
 * mcp-token: mint, inspect, verify JWTs and generate keys for libmcp servers.
 * See docs/cli/mcp-token.md. Exit status: 0 ok, 1 verification or runtime failure, 2 usage.
 *
 * Secrets (HMAC secret files, private keys) are read into memory that is wiped after use and
 * are never printed; the only secret-bearing output is the minted token itself.
 */
#include <mcp/jwt.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FAIL  1
#define EXIT_USAGE 2
#define MAX_FILE   (1024 * 1024)
#define MAX_TOKEN_IN (64 * 1024)

static const char usage_text[] =
    "usage: mcp-token <command> [options]\n"
    "\n"
    "commands:\n"
    "  mint     (--secret-file FILE | --key PEM) --sub SUB [--alg ALG] [--kid KID]\n"
    "           [--name NAME] [--permissions A,B] [--scope \"a b\"] [--ttl SECONDS]\n"
    "           [--iss ISS] [--aud AUD] [--jti JTI] [--client-id ID] [--count N]\n"
    "  inspect  [TOKEN|-]            decode header and payload WITHOUT verifying\n"
    "  verify   [TOKEN|-] (--secret-file FILE | --public-key PEM | --jwks-file FILE |\n"
    "           --jwks-url URL) [--alg ALG] [--kid KID] (--iss ISS | --no-iss)\n"
    "           (--aud AUD | --no-aud) [--leeway SECONDS] [--typ TYP] [--max-len BYTES]\n"
    "  keygen   --alg HS256|HS384|HS512|RS256|PS256|ES256|ES384|EdDSA --out PREFIX\n"
    "           [--bits N] [--force]\n"
    "\n"
    "options of every command: -h, --help (this text), -V, --version (print the version)\n\n"
    "exit status: 0 ok, 1 verification or runtime failure, 2 usage error\n";

static void vmessage(const char *fmt, va_list ap, const char *trailer) MCP_PRINTF(1, 0);

static void
vmessage(const char *fmt, va_list ap, const char *trailer)
{
    fputs("mcp-token: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(trailer, stderr);
}

static int fail(const char *fmt, ...) MCP_PRINTF(1, 2);
static int usage_error(const char *fmt, ...) MCP_PRINTF(1, 2);

/* Runtime or verification failure: message on stderr, exit status 1. */
static int
fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap, "\n");
    va_end(ap);
    return EXIT_FAIL;
}

/* Usage error: message and a pointer to --help on stderr, exit status 2. */
static int
usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap, " (see mcp-token --help)\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* Whole file, at most MAX_FILE bytes, NUL-terminated. Caller wipes and frees. */
static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_FILE + 1, f) : 0;
    bool err = buf == NULL || ferror(f) || n > MAX_FILE;
    fclose(f);
    if (err) {
        if (buf != NULL)
            mcp_memzero(buf, MAX_FILE + 1);
        free(buf);
        fail("cannot read %s (or larger than %d bytes)", path, MAX_FILE);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void
wipe_free(char *p, size_t len)
{
    if (p != NULL)
        mcp_memzero(p, len);
    free(p);
}

/* TOKEN argument, or stdin for "-" / no argument; surrounding whitespace is trimmed. */
static char *
read_token(int argc, char **argv)
{
    if (optind < argc && strcmp(argv[optind], "-") != 0) {
        if (optind + 1 < argc) {
            usage_error("one token only");
            return NULL;
        }
        return strdup(argv[optind]);
    }
    char *buf = malloc(MAX_TOKEN_IN + 1);
    if (buf == NULL)
        return NULL;
    size_t n = fread(buf, 1, MAX_TOKEN_IN + 1, stdin);
    if (n > MAX_TOKEN_IN) {
        free(buf);
        fail("token on stdin larger than %d bytes", MAX_TOKEN_IN);
        return NULL;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    size_t skip = strspn(buf, " \t\r\n");
    memmove(buf, buf + skip, n - skip + 1);
    return buf;
}

static bool
parse_ll(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return false;
    *out = v;
    return true;
}

enum {
    OPT_SECRET = 256, OPT_KEY, OPT_PUBKEY, OPT_JWKS_FILE, OPT_JWKS_URL, OPT_ALG, OPT_KID,
    OPT_SUB, OPT_NAME, OPT_PERMS, OPT_SCOPE, OPT_TTL, OPT_ISS, OPT_AUD, OPT_JTI, OPT_CLIENT,
    OPT_NO_ISS, OPT_NO_AUD, OPT_LEEWAY, OPT_TYP, OPT_OUT, OPT_BITS, OPT_FORCE, OPT_MAXLEN, OPT_COUNT,
    OPT_HELP
};

static const struct option long_opts[] = {
    { "secret-file", required_argument, NULL, OPT_SECRET },
    { "key", required_argument, NULL, OPT_KEY },
    { "public-key", required_argument, NULL, OPT_PUBKEY },
    { "jwks-file", required_argument, NULL, OPT_JWKS_FILE },
    { "jwks-url", required_argument, NULL, OPT_JWKS_URL },
    { "alg", required_argument, NULL, OPT_ALG },
    { "kid", required_argument, NULL, OPT_KID },
    { "sub", required_argument, NULL, OPT_SUB },
    { "name", required_argument, NULL, OPT_NAME },
    { "permissions", required_argument, NULL, OPT_PERMS },
    { "scope", required_argument, NULL, OPT_SCOPE },
    { "ttl", required_argument, NULL, OPT_TTL },
    { "iss", required_argument, NULL, OPT_ISS },
    { "aud", required_argument, NULL, OPT_AUD },
    { "jti", required_argument, NULL, OPT_JTI },
    { "count", required_argument, NULL, OPT_COUNT },
    { "client-id", required_argument, NULL, OPT_CLIENT },
    { "no-iss", no_argument, NULL, OPT_NO_ISS },
    { "no-aud", no_argument, NULL, OPT_NO_AUD },
    { "leeway", required_argument, NULL, OPT_LEEWAY },
    { "typ", required_argument, NULL, OPT_TYP },
    { "max-len", required_argument, NULL, OPT_MAXLEN },
    { "out", required_argument, NULL, OPT_OUT },
    { "bits", required_argument, NULL, OPT_BITS },
    { "force", no_argument, NULL, OPT_FORCE },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

typedef struct args {
    const char *secret_file, *key, *public_key, *jwks_file, *jwks_url, *alg, *kid, *sub, *name;
    const char *perms, *scope, *iss, *aud, *jti, *client_id, *typ, *out;
    long long ttl, leeway, bits, max_len, count;
    bool no_iss, no_aud, force, help, have_ttl, have_leeway;
} args;

/* Parse options after the command word; returns 0, or EXIT_USAGE. */
static int
parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->ttl = 3600;
    a->leeway = 60;
    a->bits = 2048;
    a->max_len = 8192;
    a->count = 1;
    int c;
    opterr = 0;
    optind = 1;                      /* argv[0] is the command word */
    while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_SECRET: a->secret_file = optarg; break;
        case OPT_KEY: a->key = optarg; break;
        case OPT_PUBKEY: a->public_key = optarg; break;
        case OPT_JWKS_FILE: a->jwks_file = optarg; break;
        case OPT_JWKS_URL: a->jwks_url = optarg; break;
        case OPT_ALG: a->alg = optarg; break;
        case OPT_KID: a->kid = optarg; break;
        case OPT_SUB: a->sub = optarg; break;
        case OPT_NAME: a->name = optarg; break;
        case OPT_PERMS: a->perms = optarg; break;
        case OPT_SCOPE: a->scope = optarg; break;
        case OPT_ISS: a->iss = optarg; break;
        case OPT_AUD: a->aud = optarg; break;
        case OPT_JTI: a->jti = optarg; break;
        case OPT_CLIENT: a->client_id = optarg; break;
        case OPT_TYP: a->typ = optarg; break;
        case OPT_OUT: a->out = optarg; break;
        case OPT_NO_ISS: a->no_iss = true; break;
        case OPT_NO_AUD: a->no_aud = true; break;
        case OPT_FORCE: a->force = true; break;
        case OPT_HELP:
        case 'h': a->help = true; break;
        case OPT_TTL:
            if (!parse_ll(optarg, &a->ttl))
                return usage_error("--ttl needs an integer number of seconds");
            a->have_ttl = true;
            break;
        case OPT_LEEWAY:
            if (!parse_ll(optarg, &a->leeway) || a->leeway < 0 || a->leeway > 86400)
                return usage_error("--leeway needs 0..86400 seconds");
            a->have_leeway = true;
            break;
        case OPT_BITS:
            if (!parse_ll(optarg, &a->bits) || a->bits < 2048 || a->bits > 8192)
                return usage_error("--bits needs 2048..8192");
            break;
        case OPT_COUNT:
            if (!parse_ll(optarg, &a->count) || a->count < 1 || a->count > 1000000)
                return usage_error("--count needs 1..1000000");
            break;
        case OPT_MAXLEN:
            if (!parse_ll(optarg, &a->max_len) || a->max_len < 16 || a->max_len > 1 << 20)
                return usage_error("--max-len needs 16..1048576");
            break;
        default:
            return c == ':' ? usage_error("%s needs a value", argv[optind - 1])
                            : usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* mint                                                                                       */

static int
cmd_mint(int argc, const args *a)
{
    if (optind < argc)
        return usage_error("mint takes no positional arguments");
    if ((a->secret_file == NULL) == (a->key == NULL))
        return usage_error("mint needs exactly one of --secret-file or --key");
    if (a->sub == NULL || a->sub[0] == '\0')
        return usage_error("mint needs --sub");
    if (a->count > 1 && a->jti != NULL)
        return usage_error("--count gives every token a random jti; it cannot be combined with --jti");
    const char *alg = a->alg;
    if (a->secret_file != NULL && alg == NULL)
        alg = "HS256";
    if (a->secret_file != NULL && strncmp(alg, "HS", 2) != 0)
        return usage_error("--secret-file signs HS256/HS384/HS512 only; use --key for %s", alg);
    if (a->key != NULL && alg != NULL && strncmp(alg, "HS", 2) == 0)
        return usage_error("%s needs --secret-file, not --key", alg);

    int rc = EXIT_FAIL;
    size_t klen = 0;
    char *key = read_file(a->secret_file ? a->secret_file : a->key, &klen);
    char *claims_text = NULL, *token = NULL;
    json_t *claims = NULL;
    if (key == NULL)
        return EXIT_FAIL;
    size_t use = klen;
    if (a->secret_file != NULL && use > 0 && key[use - 1] == '\n')
        use--;                              /* same rule as the verifier: one newline ignored */

    int64_t now = (int64_t)time(NULL);
    /* --count N: N tokens, one per line, each with its own random jti (load tests want many
     * distinct tokens; one key load instead of N processes) */
    for (long long n = 0; n < a->count; n++) {
        json_decref(claims);
        free(claims_text);
        mcp_free(token);
        claims_text = NULL;
        token = NULL;
        claims = json_object();
        if (a->iss)
            json_object_set_new(claims, "iss", json_string(a->iss));
        if (a->aud)
            json_object_set_new(claims, "aud", json_string(a->aud));
        json_object_set_new(claims, "sub", json_string(a->sub));
        if (a->name)
            json_object_set_new(claims, "name", json_string(a->name));
        if (a->client_id)
            json_object_set_new(claims, "client_id", json_string(a->client_id));
        json_object_set_new(claims, "iat", json_integer(now));
        json_object_set_new(claims, "exp", json_integer(now + a->ttl));
        if (a->jti != NULL) {
            json_object_set_new(claims, "jti", json_string(a->jti));
        } else {
            unsigned char rnd[16];
            char hex[33];
            mcp_error e;
            if (mcp_random_bytes(rnd, sizeof rnd, &e) != MCP_OK) {
                fail("%s", e.message);
                goto out;
            }
            for (size_t i = 0; i < sizeof rnd; i++)
                snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
            json_object_set_new(claims, "jti", json_string(hex));
        }
        if (a->perms != NULL) {
            json_t *arr = json_array();
            char *copy = strdup(a->perms), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (*t)
                    json_array_append_new(arr, json_string(t));
            free(copy);
            json_object_set_new(claims, "permissions", arr);
        }
        if (a->scope)
            json_object_set_new(claims, "scope", json_string(a->scope));
        if ((claims_text = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
            fail("cannot encode claims (invalid UTF-8 in an option?)");
            goto out;
        }
        mcp_error err;
        if (mcp_jwt_sign(alg, key, use, claims_text, a->kid, &token, &err) != MCP_OK) {
            fail("cannot sign: %s", err.message);
            goto out;
        }
        printf("%s\n", token);
    }
    rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : fail("cannot write the tokens");
out:
    wipe_free(key, klen);
    free(claims_text);
    json_decref(claims);
    mcp_free(token);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* inspect                                                                                    */

static int
cmd_inspect(int argc, char **argv)
{
    char *tok = read_token(argc, argv);
    if (tok == NULL)
        return optind + 1 < argc ? EXIT_USAGE : EXIT_FAIL;
    char *h = NULL, *p = NULL;
    mcp_error err;
    int rc = EXIT_FAIL;
    if (mcp_jwt_decode_unverified(tok, strlen(tok), &h, &p, &err) != MCP_OK) {
        fail("cannot decode: %s", err.message);
        goto out;
    }
    json_t *out = json_object();
    json_object_set_new(out, "verified", json_false());
    json_object_set_new(out, "header", json_loads(h, 0, NULL));
    json_object_set_new(out, "payload", json_loads(p, 0, NULL));
    json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(out);
    fputs("mcp-token: NOTE: decoded only; the signature and claims were NOT verified\n", stderr);
    rc = 0;
out:
    mcp_free(h);
    mcp_free(p);
    free(tok);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* verify                                                                                     */

static void
print_principal(const mcp_principal *p)
{
    json_t *o = json_object();
    const char *s;
    json_object_set_new(o, "verified", json_true());
    json_object_set_new(o, "subject", json_string(mcp_principal_subject(p)));
    if ((s = mcp_principal_name(p)))
        json_object_set_new(o, "name", json_string(s));
    if ((s = mcp_principal_issuer(p)))
        json_object_set_new(o, "issuer", json_string(s));
    if ((s = mcp_principal_client_id(p)))
        json_object_set_new(o, "client_id", json_string(s));
    if ((s = mcp_principal_key_id(p)))
        json_object_set_new(o, "key_id", json_string(s));
    if ((s = mcp_principal_jti(p)))
        json_object_set_new(o, "jti", json_string(s));
    json_object_set_new(o, "expires_at", json_integer(mcp_principal_expires_at(p)));
    json_t *perms = json_array();
    for (size_t i = 0; i < mcp_principal_permission_count(p); i++)
        json_array_append_new(perms, json_string(mcp_principal_permission(p, i)));
    json_object_set_new(o, "permissions", perms);
    json_object_set_new(o, "claims", json_loads(mcp_principal_claims_json(p), 0, NULL));
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(o);
}

static int
cmd_verify(int argc, char **argv, const args *a)
{
    int sources = (a->secret_file != NULL) + (a->public_key != NULL) + (a->jwks_file != NULL) +
                  (a->jwks_url != NULL);
    if (sources != 1)
        return usage_error("verify needs exactly one of --secret-file, --public-key, "
                           "--jwks-file, --jwks-url");
    if ((a->iss == NULL) == !a->no_iss)
        return usage_error("verify needs --iss ISS or --no-iss");
    if ((a->aud == NULL) == !a->no_aud)
        return usage_error("verify needs --aud AUD or --no-aud");
    char *tok = read_token(argc, argv);
    if (tok == NULL)
        return optind + 1 < argc ? EXIT_USAGE : EXIT_FAIL;

    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = a->iss;
    o.allow_no_issuer = a->no_iss;
    o.audience = a->aud;
    o.allow_no_audience = a->no_aud;
    o.leeway_s = (unsigned)a->leeway;
    o.typ = a->typ;
    o.max_token_len = (size_t)a->max_len;
    o.cache_size = 0;
    o.jwks_refresh_s = 0;
    mcp_jwt_verifier *v = NULL;
    mcp_principal *p = NULL;
    mcp_error err;
    int rc = EXIT_FAIL;
    if (mcp_jwt_verifier_new(&o, &v, &err) != MCP_OK) {
        fail("%s", err.message);
        goto out;
    }
    mcp_status st;
    if (a->secret_file)
        st = mcp_jwt_verifier_add_hmac_file(v, a->kid, a->alg ? a->alg : "HS256", a->secret_file,
                                            &err);
    else if (a->public_key)
        st = mcp_jwt_verifier_add_pem_file(v, a->kid, a->alg, a->public_key, &err);
    else if (a->jwks_file)
        st = mcp_jwt_verifier_add_jwks_file(v, a->jwks_file, &err);
    else
        st = mcp_jwt_verifier_set_jwks_url(v, a->jwks_url, &err);
    if (st != MCP_OK) {
        fail("cannot load key: %s", err.message);
        goto out;
    }
    st = mcp_jwt_verify(v, tok, strlen(tok), &p, &err);
    if (st != MCP_OK) {
        fail("verification failed: %s", err.message);
        goto out;
    }
    print_principal(p);
    rc = 0;
out:
    mcp_principal_unref(p);
    mcp_jwt_verifier_free(v);
    free(tok);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* keygen                                                                                     */

/* Create path with mode; refuses to replace an existing file unless force. */
static FILE *
create_file(const char *path, mode_t mode, bool force)
{
    if (force && unlink(path) != 0 && errno != ENOENT) {
        fail("cannot replace %s: %s", path, strerror(errno));
        return NULL;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        fail("cannot create %s: %s%s", path, strerror(errno),
             errno == EEXIST ? " (use --force to replace)" : "");
        return NULL;
    }
    (void)fchmod(fd, mode);              /* umask must not widen or narrow what we promise */
    FILE *f = fdopen(fd, "w");
    if (f == NULL)
        close(fd);
    return f;
}

static int
keygen_hmac(const char *prefix, size_t size, bool force)
{
    char path[4096];
    unsigned char rnd[64];
    char hex[129];
    mcp_error err;
    if ((size_t)snprintf(path, sizeof path, "%s.key", prefix) >= sizeof path)
        return usage_error("--out is too long");
    if (mcp_random_bytes(rnd, size, &err) != MCP_OK)
        return fail("%s", err.message);
    for (size_t i = 0; i < size; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    mcp_memzero(rnd, sizeof rnd);
    FILE *f = create_file(path, 0600, force);
    if (f == NULL) {
        mcp_memzero(hex, sizeof hex);
        return EXIT_FAIL;
    }
    bool ok = fprintf(f, "%s\n", hex) > 0;
    ok = fclose(f) == 0 && ok;
    mcp_memzero(hex, sizeof hex);
    if (!ok)
        return fail("cannot write %s", path);
    printf("wrote %s (HMAC secret: %zu random bytes as %zu hex characters, mode 0600)\n", path,
           size, 2 * size);
    return 0;
}

static int
cmd_keygen(int argc, const args *a)
{
    if (optind < argc)
        return usage_error("keygen takes no positional arguments");
    if (a->alg == NULL || a->out == NULL || a->out[0] == '\0')
        return usage_error("keygen needs --alg and --out PREFIX");
    const char *alg = a->alg;
    if (strcmp(alg, "HS256") == 0)
        return keygen_hmac(a->out, 32, a->force);
    if (strcmp(alg, "HS384") == 0)
        return keygen_hmac(a->out, 48, a->force);
    if (strcmp(alg, "HS512") == 0)
        return keygen_hmac(a->out, 64, a->force);

    EVP_PKEY *k = NULL;
    if (strcmp(alg, "RS256") == 0 || strcmp(alg, "PS256") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)a->bits);
    else if (strcmp(alg, "ES256") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (strcmp(alg, "ES384") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    else if (strcmp(alg, "EdDSA") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else
        return usage_error("keygen --alg must be HS256, HS384, HS512, RS256, PS256, ES256, "
                           "ES384 or EdDSA");
    if (k == NULL)
        return fail("key generation failed");

    char kpath[4096], ppath[4096];
    int rc = EXIT_FAIL;
    if ((size_t)snprintf(kpath, sizeof kpath, "%s.key", a->out) >= sizeof kpath ||
        (size_t)snprintf(ppath, sizeof ppath, "%s.pub.pem", a->out) >= sizeof ppath) {
        EVP_PKEY_free(k);
        return usage_error("--out is too long");
    }
    FILE *kf = create_file(kpath, 0600, a->force);
    if (kf == NULL)
        goto out;
    bool ok = PEM_write_PrivateKey(kf, k, NULL, NULL, 0, NULL, NULL) == 1;
    ok = fclose(kf) == 0 && ok;
    if (!ok) {
        fail("cannot write %s", kpath);
        goto out;
    }
    FILE *pf = create_file(ppath, 0644, a->force);
    if (pf == NULL)
        goto out;
    ok = PEM_write_PUBKEY(pf, k) == 1;
    ok = fclose(pf) == 0 && ok;
    if (!ok) {
        fail("cannot write %s", ppath);
        goto out;
    }
    printf("wrote %s (private key, mode 0600) and %s (public key) for %s\n", kpath, ppath, alg);
    rc = 0;
out:
    EVP_PKEY_free(k);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("missing command");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("mcp-token %s\n", MCP_VERSION_STRING);
        return 0;
    }
    /* From here on argv[0] is the command word, so getopt sees "mint --sub x ...". */
    argc--;
    argv++;
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;
    if (a.help) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "mint") == 0)
        return cmd_mint(argc, &a);
    if (strcmp(cmd, "inspect") == 0)
        return cmd_inspect(argc, argv);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc, argv, &a);
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(argc, &a);
    return usage_error("unknown %s %s", cmd[0] == '-' ? "option" : "command", cmd);
}
