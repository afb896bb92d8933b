/*
 * mcp-client: talk to an MCP server from the command line.
 *
 *   mcp-client --url URL [auth options] tools list | tools call NAME k=v... | resources list |
 *              resources read URI | prompts list | prompts get NAME k=v... | ping
 *   mcp-client --stdio "CMD ARGS" ...
 *   mcp-client conformance URL      (the MCP conformance suite's client contract)
 *
 * Exit status: 0 ok, 1 failure, 2 usage, 3 unauthenticated (401), 4 forbidden (403); every
 * failure prints one line "mcp-client: reason" on stderr. See docs/cli/mcp-client.md.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADERS 32
#define SECRET_FILE_MAX 65536

static const char usage_text[] =
    "usage: mcp-client (--url URL | --stdio \"CMD ARGS\") [options] COMMAND [ARGS]\n"
    "       mcp-client conformance URL\n"
    "\n"
    "commands:\n"
    "  tools list                      list the server's tools\n"
    "  tools call NAME [k=v|k:=JSON]... call a tool (k=v is a string, k:=JSON any JSON value)\n"
    "  resources list                  list resources and resource templates\n"
    "  resources read URI              read a resource\n"
    "  prompts list                    list prompts\n"
    "  prompts get NAME [k=v]...       get a prompt\n"
    "  ping                            check the server answers\n"
    "\n"
    "options:\n"
    "  --url URL                 Streamable HTTP endpoint (http:// or https://)\n"
    "  --stdio \"CMD ARGS\"        run CMD through /bin/sh and speak stdio to it\n"
    "  --token TOKEN             bearer token / API key (prefer --token-file or MCP_TOKEN)\n"
    "  --token-file FILE         read the token from FILE\n"
    "  --api-key-header NAME     send the token raw in header NAME (default: Authorization)\n"
    "  --oauth                   on 401/403, run OAuth 2.1 (discovery, registration, login)\n"
    "  --client-id ID            pre-registered OAuth client id\n"
    "  --client-secret-file FILE its secret\n"
    "  --issuer URL              only use this authorization server (recommended with a\n"
    "                            client secret or --private-key)\n"
    "  --allow-internal-as       let a remote server's OAuth URLs (metadata, AS endpoints)\n"
    "                            reach loopback/private/link-local addresses (internal AS)\n"
    "  --client-metadata-url URL client ID metadata document URL (used if the AS supports it)\n"
    "  --scope \"A B\"             scopes to request\n"
    "  --grant code|client_credentials|jwt_bearer   OAuth grant (default code); jwt_bearer\n"
    "                            presents a workload identity JWT (--assertion-file)\n"
    "  --assertion-file FILE     the workload JWT for --grant jwt_bearer\n"
    "  --no-dpop                 never use DPoP-bound tokens (default: when both the MCP\n"
    "                            server and the authorization server take them)\n"
    "  --private-key FILE        PEM key for private_key_jwt client authentication\n"
    "  --signing-alg ES256|RS256 algorithm for --private-key (default from the key)\n"
    "  --login browser|headless  how to log in (default browser: loopback redirect)\n"
    "  --token-cache FILE        OAuth token cache (default ~/.cache/mcp-client/tokens.json)\n"
    "  --no-token-cache          keep OAuth tokens in memory only\n"
    "  --args JSON               tool/prompt arguments as a JSON object\n"
    "  --header \"Name: value\"    extra HTTP header (repeatable)\n"
    "  --protocol auto|2026-07-28|legacy|2025-11-25|2025-06-18|2025-03-26\n"
    "                            protocol revision: auto (default) probes server/discover\n"
    "                            and falls back to initialize; 2026-07-28 only; legacy (or a\n"
    "                            2025 revision) uses initialize only\n"
    "  --timeout MS              per-request timeout (default 60000)\n"
    "  --cacert FILE             verify an https:// server with the CA certificate(s) in\n"
    "                            this PEM file instead of the system's trust store\n"
    "  --json                    print results as JSON\n"
    "  -v, --verbose             log HTTP exchanges and OAuth steps to stderr\n"
    "  -V, --version             print the version\n"
    "  -h, --help                this text\n";

enum {
    OPT_URL = 256, OPT_STDIO, OPT_TOKEN, OPT_TOKEN_FILE, OPT_API_KEY_HEADER, OPT_OAUTH,
    OPT_CLIENT_ID, OPT_CLIENT_SECRET_FILE, OPT_CLIENT_METADATA_URL, OPT_SCOPE, OPT_GRANT,
    OPT_PRIVATE_KEY, OPT_SIGNING_ALG, OPT_LOGIN, OPT_TOKEN_CACHE, OPT_NO_TOKEN_CACHE, OPT_ARGS,
    OPT_HEADER, OPT_TIMEOUT, OPT_JSON, OPT_ISSUER, OPT_ALLOW_INTERNAL_AS, OPT_PROTOCOL,
    OPT_NO_DPOP, OPT_ASSERTION_FILE, OPT_CACERT
};

static const struct option long_opts[] = {
    { "url", required_argument, NULL, OPT_URL },
    { "stdio", required_argument, NULL, OPT_STDIO },
    { "token", required_argument, NULL, OPT_TOKEN },
    { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
    { "api-key-header", required_argument, NULL, OPT_API_KEY_HEADER },
    { "oauth", no_argument, NULL, OPT_OAUTH },
    { "client-id", required_argument, NULL, OPT_CLIENT_ID },
    { "client-secret-file", required_argument, NULL, OPT_CLIENT_SECRET_FILE },
    { "issuer", required_argument, NULL, OPT_ISSUER },
    { "allow-internal-as", no_argument, NULL, OPT_ALLOW_INTERNAL_AS },
    { "client-metadata-url", required_argument, NULL, OPT_CLIENT_METADATA_URL },
    { "scope", required_argument, NULL, OPT_SCOPE },
    { "grant", required_argument, NULL, OPT_GRANT },
    { "private-key", required_argument, NULL, OPT_PRIVATE_KEY },
    { "signing-alg", required_argument, NULL, OPT_SIGNING_ALG },
    { "login", required_argument, NULL, OPT_LOGIN },
    { "token-cache", required_argument, NULL, OPT_TOKEN_CACHE },
    { "no-token-cache", no_argument, NULL, OPT_NO_TOKEN_CACHE },
    { "args", required_argument, NULL, OPT_ARGS },
    { "header", required_argument, NULL, OPT_HEADER },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "json", no_argument, NULL, OPT_JSON },
    { "protocol", required_argument, NULL, OPT_PROTOCOL },
    { "no-dpop", no_argument, NULL, OPT_NO_DPOP },
    { "assertion-file", required_argument, NULL, OPT_ASSERTION_FILE },
    { "cacert", required_argument, NULL, OPT_CACERT },
    { "verbose", no_argument, NULL, 'v' },
    { "version", no_argument, NULL, 'V' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

typedef struct cli {
    const char *url, *stdio_cmd, *token, *token_file, *api_key_header;
    bool oauth, json, no_cache, verbose, allow_internal_as;
    const char *client_id, *client_secret_file, *client_metadata_url, *scope, *grant;
    const char *private_key, *signing_alg, *login, *token_cache, *args_json, *issuer;
    const char *protocol, *assertion_file, *cacert;
    bool no_dpop;
    const char *headers[MAX_HEADERS + 1];
    size_t nheaders;
    unsigned timeout_ms;
} cli;

int
cli_exit_code(mcp_status st)
{
    switch (st) {
    case MCP_OK:
        return EXIT_OK;
    case MCP_ERR_UNAUTHENTICATED:
        return EXIT_UNAUTHENTICATED;
    case MCP_ERR_FORBIDDEN:
        return EXIT_FORBIDDEN;
    default:
        return EXIT_FAIL;
    }
}

int
cli_fail(const char *what, const mcp_error *err)
{
    char line[MCP_ERROR_MSG_MAX];
    snprintf(line, sizeof line, "%s", err->message[0] ? err->message : mcp_status_str(err->code));
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "mcp-client: %s: %s\n", what, line);
    return cli_exit_code(err->code);
}

static int
usage_error(const char *msg)
{
    fprintf(stderr, "mcp-client: %s (see mcp-client --help)\n", msg);
    return EXIT_USAGE;
}

/* Read a secret from a file: at most 64 KiB, trailing whitespace removed, one line. */
static char *
read_secret_file(const char *path, char *why, size_t whysz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whysz, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SECRET_FILE_MAX + 1);
    size_t n = 0;
    if (buf != NULL) {
        for (;;) {
            ssize_t r = read(fd, buf + n, SECRET_FILE_MAX - n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            n += (size_t)r;
            if (n == SECRET_FILE_MAX)
                break;
        }
    }
    close(fd);
    if (buf == NULL) {
        snprintf(why, whysz, "out of memory");
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                     buf[n - 1] == '\t'))
        n--;
    buf[n] = '\0';
    if (n == 0 || n == SECRET_FILE_MAX || strpbrk(buf, "\r\n") != NULL) {
        snprintf(why, whysz, "%s must hold one non-empty line", path);
        mcp_memzero(buf, n);
        free(buf);
        return NULL;
    }
    return buf;
}

/* Whole file (a PEM key), at most 64 KiB. */
static char *
read_text_file(const char *path, char *why, size_t whysz)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, whysz, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SECRET_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, SECRET_FILE_MAX, f) : 0;
    fclose(f);
    if (buf == NULL || n == 0 || n == SECRET_FILE_MAX) {
        snprintf(why, whysz, "%s is empty or too large", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static void
free_secret(char *s)
{
    if (s != NULL) {
        mcp_memzero(s, strlen(s));
        free(s);
    }
}

/* ~/.cache/mcp-client/tokens.json, creating the folder with mode 0700. */
static char *
default_cache_path(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char dir[4096];
    if (xdg != NULL && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s", xdg);
    else if (home != NULL && home[0] == '/')
        snprintf(dir, sizeof dir, "%s/.cache", home);
    else
        return NULL;
    (void)mkdir(dir, 0700);
    size_t n = strlen(dir);
    if (n + sizeof "/mcp-client/tokens.json" > sizeof dir)
        return NULL;
    strcat(dir, "/mcp-client");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return NULL;
    strcat(dir, "/tokens.json");
    return strdup(dir);
}

/* k=v (string) and k:=JSON pairs into obj. prompt_mode: values must be strings. */
static int
parse_kv(json_t *obj, char **kv, int n, bool prompt_mode)
{
    for (int i = 0; i < n; i++) {
        char *eq = strchr(kv[i], '=');
        if (eq == NULL || eq == kv[i])
            return usage_error("arguments are key=value or key:=JSON");
        bool raw = eq > kv[i] && eq[-1] == ':';
        size_t klen = (size_t)(eq - kv[i]) - (raw ? 1 : 0);
        if (klen == 0)
            return usage_error("empty argument name");
        char key[256];
        if (klen >= sizeof key)
            return usage_error("argument name too long");
        memcpy(key, kv[i], klen);
        key[klen] = '\0';
        json_t *v;
        if (raw) {
            json_error_t je;
            v = json_loads(eq + 1, JSON_DECODE_ANY, &je);
            if (v == NULL) {
                fprintf(stderr, "mcp-client: argument %s: not valid JSON: %s\n", key, je.text);
                return EXIT_USAGE;
            }
            if (prompt_mode && !json_is_string(v)) {
                json_decref(v);
                return usage_error("prompt arguments must be strings");
            }
        } else {
            v = json_string(eq + 1);
            if (v == NULL)
                return usage_error("argument value is not valid UTF-8");
        }
        json_object_set_new(obj, key, v);
    }
    return EXIT_OK;
}

static int
build_args(const cli *o, char **kv, int n, bool prompt_mode, json_t **out)
{
    *out = NULL;
    json_t *args;
    if (o->args_json != NULL) {
        json_error_t je;
        args = json_loads(o->args_json, 0, &je);
        if (!json_is_object(args)) {
            json_decref(args);
            return usage_error("--args must be a JSON object");
        }
    } else {
        args = json_object();
    }
    int rc = parse_kv(args, kv, n, prompt_mode);
    if (rc != EXIT_OK) {
        json_decref(args);
        return rc;
    }
    *out = args;
    return EXIT_OK;
}

static void
on_log(mcp_client *c, const char *level, const char *logger, const json_t *data, void *ud)
{
    (void)c;
    (void)ud;
    char *s = json_is_string(data) ? NULL : json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(stderr, "[server %s%s%s] %s\n", level, logger ? " " : "", logger ? logger : "",
            json_is_string(data) ? json_string_value(data) : (s ? s : ""));
    mcp_free(s);
}

static void
on_progress(mcp_client *c, const json_t *token, double progress, double total,
            const char *message, void *ud)
{
    (void)c;
    (void)token;
    int verbose = *(int *)ud;
    if (!verbose)
        return;
    if (total > 0)
        fprintf(stderr, "[progress %.0f/%.0f]%s%s\n", progress, total, message ? " " : "",
                message ? message : "");
    else
        fprintf(stderr, "[progress %.0f]%s%s\n", progress, message ? " " : "",
                message ? message : "");
}

static int
run_command(const cli *o, mcp_client *c, char **pos, int npos)
{
    mcp_error err;
    mcp_error_clear(&err);
    const char *cmd = pos[0];
    const char *sub = npos > 1 ? pos[1] : NULL;
    json_t *res = NULL, *res2 = NULL, *args = NULL;
    int rc = EXIT_OK;
    mcp_status st;

    if (strcmp(cmd, "ping") == 0) {
        uint64_t t0 = mcp_now_ms();
        st = mcp_client_ping(c, &err);
        if (st != MCP_OK)
            return cli_fail("ping", &err);
        if (o->json)
            printf("{\"ok\":true,\"ms\":%llu}\n", (unsigned long long)(mcp_now_ms() - t0));
        else
            printf("ok (%llu ms)\n", (unsigned long long)(mcp_now_ms() - t0));
        return EXIT_OK;
    }
    if (strcmp(cmd, "tools") == 0 && sub != NULL && strcmp(sub, "list") == 0) {
        st = mcp_client_list_tools(c, &res, &err);
        if (st != MCP_OK)
            return cli_fail("tools/list", &err);
        if (o->json) {
            json_t *w = json_pack("{s:O}", "tools", res);
            out_json(stdout, w);
            json_decref(w);
        } else {
            out_tools(stdout, res);
        }
        json_decref(res);
        return EXIT_OK;
    }
    if (strcmp(cmd, "tools") == 0 && sub != NULL && strcmp(sub, "call") == 0) {
        if (npos < 3)
            return usage_error("tools call needs a tool name");
        rc = build_args(o, pos + 3, npos - 3, false, &args);
        if (rc != EXIT_OK)
            return rc;
        st = mcp_client_call_tool(c, pos[2], args, &res, &err);
        json_decref(args);
        if (st != MCP_OK)
            return cli_fail("tools/call", &err);
        if (o->json)
            out_json(stdout, res);
        else
            out_call_result(stdout, res);
        if (mcp_client_result_is_error(res)) {
            fprintf(stderr, "mcp-client: tool %s reported an error\n", pos[2]);
            rc = EXIT_FAIL;
        }
        json_decref(res);
        return rc;
    }
    if (strcmp(cmd, "resources") == 0 && sub != NULL && strcmp(sub, "list") == 0) {
        st = mcp_client_list_resources(c, &res, &err);
        if (st != MCP_OK)
            return cli_fail("resources/list", &err);
        /* Templates are optional for a server; a "method not found" just means none. */
        mcp_error e2;
        if (mcp_client_list_resource_templates(c, &res2, &e2) != MCP_OK)
            res2 = json_array();
        if (o->json) {
            json_t *w = json_pack("{s:O, s:O}", "resources", res, "resourceTemplates", res2);
            out_json(stdout, w);
            json_decref(w);
        } else {
            out_resources(stdout, res, res2);
        }
        json_decref(res);
        json_decref(res2);
        return EXIT_OK;
    }
    if (strcmp(cmd, "resources") == 0 && sub != NULL && strcmp(sub, "read") == 0) {
        if (npos != 3)
            return usage_error("resources read needs exactly one URI");
        st = mcp_client_read_resource(c, pos[2], &res, &err);
        if (st != MCP_OK)
            return cli_fail("resources/read", &err);
        if (o->json)
            out_json(stdout, res);
        else
            out_read_result(stdout, res);
        json_decref(res);
        return EXIT_OK;
    }
    if (strcmp(cmd, "prompts") == 0 && sub != NULL && strcmp(sub, "list") == 0) {
        st = mcp_client_list_prompts(c, &res, &err);
        if (st != MCP_OK)
            return cli_fail("prompts/list", &err);
        if (o->json) {
            json_t *w = json_pack("{s:O}", "prompts", res);
            out_json(stdout, w);
            json_decref(w);
        } else {
            out_prompts(stdout, res);
        }
        json_decref(res);
        return EXIT_OK;
    }
    if (strcmp(cmd, "prompts") == 0 && sub != NULL && strcmp(sub, "get") == 0) {
        if (npos < 3)
            return usage_error("prompts get needs a prompt name");
        rc = build_args(o, pos + 3, npos - 3, true, &args);
        if (rc != EXIT_OK)
            return rc;
        st = mcp_client_get_prompt(c, pos[2], args, &res, &err);
        json_decref(args);
        if (st != MCP_OK)
            return cli_fail("prompts/get", &err);
        if (o->json)
            out_json(stdout, res);
        else
            out_prompt(stdout, res);
        json_decref(res);
        return EXIT_OK;
    }
    return usage_error("unknown command");
}

/* Check the command line before connecting, so usage errors never touch the network. */
static int
check_command(char **pos, int npos)
{
    if (npos == 0)
        return usage_error("no command given");
    const char *cmd = pos[0], *sub = npos > 1 ? pos[1] : "";
    if (strcmp(cmd, "ping") == 0)
        return npos == 1 ? EXIT_OK : usage_error("ping takes no arguments");
    if (strcmp(cmd, "tools") == 0 && strcmp(sub, "list") == 0)
        return npos == 2 ? EXIT_OK : usage_error("tools list takes no arguments");
    if (strcmp(cmd, "tools") == 0 && strcmp(sub, "call") == 0)
        return npos >= 3 ? EXIT_OK : usage_error("tools call needs a tool name");
    if (strcmp(cmd, "resources") == 0 && strcmp(sub, "list") == 0)
        return npos == 2 ? EXIT_OK : usage_error("resources list takes no arguments");
    if (strcmp(cmd, "resources") == 0 && strcmp(sub, "read") == 0)
        return npos == 3 ? EXIT_OK : usage_error("resources read needs exactly one URI");
    if (strcmp(cmd, "prompts") == 0 && strcmp(sub, "list") == 0)
        return npos == 2 ? EXIT_OK : usage_error("prompts list takes no arguments");
    if (strcmp(cmd, "prompts") == 0 && strcmp(sub, "get") == 0)
        return npos >= 3 ? EXIT_OK : usage_error("prompts get needs a prompt name");
    return usage_error("unknown command");
}

int
main(int argc, char **argv)
{
    cli o;
    memset(&o, 0, sizeof o);
    int verbose_flag = 0;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":vVh", long_opts, NULL)) != -1) {
        switch (ch) {
        case OPT_URL: o.url = optarg; break;
        case OPT_STDIO: o.stdio_cmd = optarg; break;
        case OPT_TOKEN: o.token = optarg; break;
        case OPT_TOKEN_FILE: o.token_file = optarg; break;
        case OPT_API_KEY_HEADER: o.api_key_header = optarg; break;
        case OPT_OAUTH: o.oauth = true; break;
        case OPT_CLIENT_ID: o.client_id = optarg; break;
        case OPT_CLIENT_SECRET_FILE: o.client_secret_file = optarg; break;
        case OPT_ISSUER: o.issuer = optarg; break;
        case OPT_ALLOW_INTERNAL_AS: o.allow_internal_as = true; break;
        case OPT_CLIENT_METADATA_URL: o.client_metadata_url = optarg; break;
        case OPT_SCOPE: o.scope = optarg; break;
        case OPT_GRANT: o.grant = optarg; break;
        case OPT_PRIVATE_KEY: o.private_key = optarg; break;
        case OPT_SIGNING_ALG: o.signing_alg = optarg; break;
        case OPT_LOGIN: o.login = optarg; break;
        case OPT_TOKEN_CACHE: o.token_cache = optarg; break;
        case OPT_NO_TOKEN_CACHE: o.no_cache = true; break;
        case OPT_ARGS: o.args_json = optarg; break;
        case OPT_HEADER:
            if (o.nheaders == MAX_HEADERS)
                return usage_error("too many --header options");
            o.headers[o.nheaders++] = optarg;
            break;
        case OPT_TIMEOUT: {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || v == 0 || v > 3600000)
                return usage_error("--timeout takes milliseconds (1..3600000)");
            o.timeout_ms = (unsigned)v;
            break;
        }
        case OPT_JSON: o.json = true; break;
        case OPT_PROTOCOL: o.protocol = optarg; break;
        case OPT_NO_DPOP: o.no_dpop = true; break;
        case OPT_ASSERTION_FILE: o.assertion_file = optarg; break;
        case OPT_CACERT: o.cacert = optarg; break;
        case 'v': o.verbose = true; verbose_flag = 1; break;
        case 'V': printf("mcp-client %s\n", MCP_VERSION_STRING); return EXIT_OK;
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        default: {
            char msg[128];
            snprintf(msg, sizeof msg, ch == ':' ? "%s needs a value" : "unknown option %s",
                     argv[optind - 1]);
            return usage_error(msg);
        }
        }
    }
    /* GNU getopt permutes argv, so options may also follow the command ("tools list --json");
     * what remains are the positional words. */
    char **pos = argv + optind;
    int npos = argc - optind;

    if (npos >= 1 && strcmp(pos[0], "conformance") == 0) {
        const char *url = npos >= 2 ? pos[npos - 1] : o.url;
        if (url == NULL)
            return usage_error("conformance needs the server URL");
        return conformance_main(url, verbose_flag);
    }
    int crc = check_command(pos, npos);
    if (crc != EXIT_OK)
        return crc;
    if ((o.url == NULL) == (o.stdio_cmd == NULL))
        return usage_error("give exactly one of --url or --stdio");
    if ((o.token != NULL) + (o.token_file != NULL) > 1)
        return usage_error("give at most one of --token and --token-file");
    if (o.cacert != NULL && o.url == NULL)
        return usage_error("--cacert verifies an https:// --url; it does not apply to --stdio");
    if (o.cacert != NULL && access(o.cacert, R_OK) != 0) {
        /* said here, naming the file, instead of as a TLS failure of the first request */
        fprintf(stderr, "mcp-client: --cacert %s: %s\n", o.cacert, strerror(errno));
        return EXIT_FAIL;
    }
    if (o.grant != NULL && strcmp(o.grant, "code") != 0 &&
        strcmp(o.grant, "client_credentials") != 0 && strcmp(o.grant, "jwt_bearer") != 0)
        return usage_error("--grant is code, client_credentials or jwt_bearer");
    if ((o.grant != NULL && strcmp(o.grant, "jwt_bearer") == 0) != (o.assertion_file != NULL))
        return usage_error("--grant jwt_bearer and --assertion-file go together");
    mcp_client_protocol proto = MCP_CLIENT_PROTOCOL_AUTO;
    const char *legacy_version = NULL;
    if (o.protocol == NULL || strcmp(o.protocol, "auto") == 0)
        proto = MCP_CLIENT_PROTOCOL_AUTO;
    else if (strcmp(o.protocol, MCP_PROTOCOL_2026) == 0)
        proto = MCP_CLIENT_PROTOCOL_MODERN;
    else if (strcmp(o.protocol, "legacy") == 0)
        proto = MCP_CLIENT_PROTOCOL_LEGACY;
    else if (strcmp(o.protocol, "2025-11-25") == 0 || strcmp(o.protocol, "2025-06-18") == 0 ||
             strcmp(o.protocol, "2025-03-26") == 0) {
        proto = MCP_CLIENT_PROTOCOL_LEGACY;
        legacy_version = o.protocol;
    } else
        return usage_error("--protocol is auto, 2026-07-28, legacy or a 2025 revision");
    if (o.login != NULL && strcmp(o.login, "browser") != 0 && strcmp(o.login, "headless") != 0)
        return usage_error("--login is browser or headless");
    bool oauth_flags = o.client_id || o.client_secret_file || o.client_metadata_url || o.scope ||
                       o.grant || o.private_key || o.signing_alg || o.login || o.token_cache ||
                       o.no_cache || o.issuer || o.allow_internal_as || o.no_dpop ||
                       o.assertion_file;
    if (oauth_flags && !o.oauth)
        return usage_error("OAuth options need --oauth");
    if (o.oauth && o.stdio_cmd != NULL)
        return usage_error("--oauth applies to --url only");

    char why[256];
    char *token = NULL, *client_secret = NULL, *private_key = NULL, *cache = NULL;
    char *assertion = NULL;
    mcp_oauth *oauth = NULL;
    mcp_client *c = NULL;
    mcp_error err;
    mcp_error_clear(&err);
    int rc = EXIT_OK;

    if (o.token_file != NULL) {
        if ((token = read_secret_file(o.token_file, why, sizeof why)) == NULL) {
            fprintf(stderr, "mcp-client: %s\n", why);
            return EXIT_FAIL;              /* a file that cannot be read is I/O, as in every tool */
        }
    } else if (o.token != NULL) {
        token = strdup(o.token);
    } else if (getenv("MCP_TOKEN") != NULL && getenv("MCP_TOKEN")[0] != '\0') {
        token = strdup(getenv("MCP_TOKEN"));
    }
    if (o.oauth) {
        mcp_oauth_opts oo;
        mcp_oauth_opts_default(&oo);
        if (o.client_secret_file != NULL &&
            (client_secret = read_secret_file(o.client_secret_file, why, sizeof why)) == NULL) {
            fprintf(stderr, "mcp-client: %s\n", why);
            rc = EXIT_FAIL;
            goto out;
        }
        if (o.private_key != NULL &&
            (private_key = read_text_file(o.private_key, why, sizeof why)) == NULL) {
            fprintf(stderr, "mcp-client: %s\n", why);
            rc = EXIT_FAIL;
            goto out;
        }
        if (o.assertion_file != NULL &&
            (assertion = read_secret_file(o.assertion_file, why, sizeof why)) == NULL) {
            fprintf(stderr, "mcp-client: %s\n", why);
            rc = EXIT_USAGE;
            goto out;
        }
        if (!o.no_cache)
            cache = o.token_cache ? strdup(o.token_cache) : default_cache_path();
        oo.grant = o.grant && strcmp(o.grant, "client_credentials") == 0
                       ? MCP_OAUTH_GRANT_CLIENT_CREDENTIALS
                   : o.grant && strcmp(o.grant, "jwt_bearer") == 0
                       ? MCP_OAUTH_GRANT_JWT_BEARER
                       : MCP_OAUTH_GRANT_AUTHORIZATION_CODE;
        oo.assertion = assertion;
        oo.dpop = o.no_dpop ? MCP_OAUTH_DPOP_OFF : MCP_OAUTH_DPOP_AUTO;
        oo.login = o.login && strcmp(o.login, "headless") == 0 ? MCP_OAUTH_LOGIN_HEADLESS
                                                                : MCP_OAUTH_LOGIN_LOOPBACK;
        oo.client_id = o.client_id;
        oo.client_secret = client_secret;
        oo.issuer = o.issuer;
        oo.allow_internal_as = o.allow_internal_as;
        oo.client_metadata_url = o.client_metadata_url;
        oo.client_name = "mcp-client (libmcp)";
        oo.scope = o.scope;
        oo.private_key_pem = private_key;
        oo.signing_alg = o.signing_alg;
        oo.token_cache_path = cache;
        oo.verbose = o.verbose;
        if (mcp_oauth_new(&oo, &oauth, &err) != MCP_OK) {
            rc = cli_fail("oauth", &err);
            if (rc == EXIT_FAIL)
                rc = EXIT_USAGE;
            goto out;
        }
        if (o.issuer == NULL && (client_secret != NULL || private_key != NULL))
            fprintf(stderr, "mcp-client: warning: the client %s will be sent to whatever "
                    "authorization server the MCP server names; pin it with --issuer URL\n",
                    client_secret != NULL ? "secret" : "private_key_jwt assertion");
    }

    mcp_client_opts co;
    mcp_client_opts_default(&co);
    co.name = "mcp-client";
    co.version = MCP_VERSION_STRING;
    co.bearer_token = token;
    co.auth_header = o.api_key_header;
    co.protocol = proto;
    if (legacy_version != NULL)
        co.protocol_version = legacy_version;
    co.oauth = oauth;
    co.headers = o.nheaders ? o.headers : NULL;
    co.verbose = o.verbose;
    co.ca_file = o.cacert;
    if (o.timeout_ms)
        co.request_timeout_ms = o.timeout_ms;
    co.cb.log = on_log;
    co.cb.progress = on_progress;
    co.cb.udata = &verbose_flag;
    if (mcp_client_new(&co, &c, &err) != MCP_OK) {
        rc = cli_fail("client", &err);
        if (rc == EXIT_FAIL)
            rc = EXIT_USAGE;
        goto out;
    }
    mcp_status st;
    if (o.url != NULL) {
        st = mcp_client_connect_http(c, o.url, &err);
    } else {
        const char *sh_argv[] = { "/bin/sh", "-c", o.stdio_cmd, NULL };
        st = mcp_client_connect_stdio(c, sh_argv, &err);
    }
    if (st != MCP_OK) {
        rc = cli_fail("connect", &err);
        goto out;
    }
    rc = run_command(&o, c, pos, npos);
out:
    mcp_client_free(c);
    mcp_oauth_free(oauth);
    free_secret(token);
    free_secret(client_secret);
    free_secret(private_key);
    free_secret(assertion);
    free(cache);
    return rc;
}
