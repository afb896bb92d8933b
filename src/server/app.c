/* Command-line configuration shared by the server programs. */
#include <mcp/app.h>

#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
            "  --help                 this text\n%s",
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
    if (*end != '\0' || port > 65535 || colon[1] == '\0')
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
    if (v == NULL || *v == '\0' || *v == '-')
        return false;
    *out = strtoull(v, &end, 10);
    return *end == '\0' && *out <= max;
}

int
mcp_app_config_parse(mcp_app_config *cfg, int argc, char **argv, const char *prog,
                     const char *summary, const char *const *extra, const char *extra_help)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen_host = strdup("127.0.0.1");
    cfg->listen_port = 8080;
    cfg->access_log = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        const char *val = eq ? eq + 1 : NULL;
        bool takes = strcmp(name, "--listen") == 0 || strcmp(name, "--max-body") == 0 ||
                     strcmp(name, "--workers") == 0 || strcmp(name, "--io-threads") == 0 ||
                     strcmp(name, "--max-connections") == 0 || is_extra(extra, name);
        if (takes && val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a value\n", prog, name);
                return 2;
            }
            val = argv[++i];
        }
        unsigned long long n;
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            usage(stdout, prog, summary, extra_help);
            return 0;
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
        } else if (strcmp(name, "--max-body") == 0 && parse_uint(val, 1ull << 30, &n) && n > 0) {
            cfg->max_body = (size_t)n;
        } else if (strcmp(name, "--workers") == 0 && parse_uint(val, 1024, &n) && n > 0) {
            cfg->workers = (unsigned)n;
        } else if (strcmp(name, "--io-threads") == 0 && parse_uint(val, 256, &n) && n > 0) {
            cfg->io_threads = (unsigned)n;
        } else if (strcmp(name, "--max-connections") == 0 && parse_uint(val, 1000000, &n) &&
                   n > 0) {
            cfg->max_connections = (unsigned)n;
        } else if (is_extra(extra, name)) {
            if (cfg->nextra + 2 > (int)(sizeof cfg->extra_args / sizeof cfg->extra_args[0])) {
                fprintf(stderr, "%s: too many options\n", prog);
                return 2;
            }
            cfg->extra_args[cfg->nextra++] = strdup(name);
            cfg->extra_args[cfg->nextra++] = strdup(val);
        } else if (takes) {
            fprintf(stderr, "%s: bad value for %s\n", prog, name);
            return 2;
        } else {
            fprintf(stderr, "%s: unknown option %s (see --help)\n", prog, a);
            return 2;
        }
    }
    return -1;
}

void
mcp_app_config_cleanup(mcp_app_config *cfg)
{
    free(cfg->listen_host);
    for (int i = 0; i < cfg->nextra; i++)
        free(cfg->extra_args[i]);
    memset(cfg, 0, sizeof *cfg);
}

int
mcp_app_run(const mcp_app_config *cfg, mcp_server *srv, mcp_error *err)
{
    if (cfg->workers > 0 && !atomic_load(&srv->running))
        srv->opts.workers = cfg->workers;
    if (cfg->stdio) {
        mcp__log(MCP__LOG_INFO, "stdio", "serving JSON-RPC on stdin/stdout");
        if (mcp_server_run_stdio(srv, STDIN_FILENO, STDOUT_FILENO, err) != MCP_OK) {
            fprintf(stderr, "error: %s\n", err->message);
            return 1;
        }
        return 0;
    }
    mcp_http_opts ho;
    mcp_http_opts_default(&ho);
    ho.host = cfg->listen_host;
    ho.port = cfg->listen_port;
    ho.access_log = cfg->access_log;
    if (cfg->max_body)
        ho.max_body = cfg->max_body;
    if (cfg->io_threads)
        ho.io_threads = cfg->io_threads;
    if (cfg->max_connections)
        ho.max_connections = cfg->max_connections;
    if (mcp_server_listen_http(srv, &ho, err) != MCP_OK) {
        fprintf(stderr, "error: %s\n", err->message);
        return 1;
    }
    mcp_server_run_until_signal(srv, 10000, err);
    return 0;
}
