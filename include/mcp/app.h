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
    char    *extra_args[32];   /* flags this parser does not know, for the program (owned) */
    int      nextra;
} mcp_app_config;

/**
 * Parse argv. Unknown flags of the form --name[=value] / --name value are collected in
 * extra_args when the program handles them, otherwise they are a usage error.
 * @return -1 to continue; otherwise the exit status to return now (0 after --help, 2 on usage
 *         errors, with a message on stderr).
 */
int mcp_app_config_parse(mcp_app_config *cfg, int argc, char **argv, const char *prog,
                         const char *summary);
void mcp_app_config_cleanup(mcp_app_config *cfg);
/** Serve srv as configured (HTTP until SIGINT/SIGTERM, or stdio until EOF). Returns exit status. */
int mcp_app_run(const mcp_app_config *cfg, mcp_server *srv, mcp_error *err);

#ifdef __cplusplus
}
#endif
#endif
