/*
 * libmcp: command-line configuration shared by server programs (the example servers use it).
 * One parser means every server takes the same flags, documented once (docs/cli/server-options.md).
 */
#ifndef MCP_APP_H
#define MCP_APP_H

#include <mcp/server.h>

#ifdef __cplusplus
extern "C" {
#endif

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
    /* Program-specific flags named in mcp_app_config_parse()'s `extra`, in order: name, value. */
    char    *extra_args[32];   /* owned copies: extra_args[2i] = "--name", [2i+1] = value */
    int      nextra;           /* number of strings in extra_args (2 per flag) */
} mcp_app_config;

/**
 * Parse argv. `extra` (NULL-terminated, may be NULL) names program-specific flags that take a
 * value ("--policy"); they are collected in extra_args. Any other unknown flag is a usage error.
 * `extra_help` (may be NULL) is printed under --help.
 * @return -1 to continue; otherwise the exit status to return now (0 after --help, 2 on usage
 *         errors, with a message on stderr).
 */
int mcp_app_config_parse(mcp_app_config *cfg, int argc, char **argv, const char *prog,
                         const char *summary, const char *const *extra, const char *extra_help);
/** Value of a program-specific flag collected by the parser (last one wins), or NULL. */
const char *mcp_app_config_extra(const mcp_app_config *cfg, const char *name);
void mcp_app_config_cleanup(mcp_app_config *cfg);
/** Serve srv as configured (HTTP until SIGINT/SIGTERM, or stdio until EOF). Returns exit status. */
int mcp_app_run(const mcp_app_config *cfg, mcp_server *srv, mcp_error *err);

#ifdef __cplusplus
}
#endif
#endif
