/* Helpers shared by test_protocol.c and test_stdio.c: a server running mcp_server_run_stdio on
 * a thread, fed and read through pipes. Header-only; each test includes it once. */
#ifndef MCP_TEST_STDIO_HARNESS_H
#define MCP_TEST_STDIO_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/mcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fixture {
    mcp_server *srv;
    int         to_srv[2], from_srv[2];
    pthread_t   thread;
    FILE       *in;
} fixture;

static void *
serve(void *arg)
{
    fixture *f = arg;
    mcp_error err;
    mcp_server_run_stdio(f->srv, f->to_srv[0], f->from_srv[1], &err);
    close(f->from_srv[1]);
    return NULL;
}

/* Run f->srv (set up by the caller) on the pipes. 0, or -1 when the pipes cannot be made. */
static int
stdio_fixture_start(fixture *f)
{
    if (pipe(f->to_srv) != 0 || pipe(f->from_srv) != 0)
        return -1;
    pthread_create(&f->thread, NULL, serve, f);
    f->in = fdopen(f->from_srv[0], "r");
    setvbuf(f->in, NULL, _IONBF, 0);    /* poll() must see what fgets() has not read */
    return 0;
}

/* Stop the server, free it and f. */
static void
stdio_fixture_stop(fixture *f)
{
    close(f->to_srv[1]);                     /* EOF: the server returns */
    pthread_join(f->thread, NULL);
    fclose(f->in);
    close(f->to_srv[0]);
    mcp_server_free(f->srv);
    free(f);
}

static void
send_line(fixture *f, const char *s)
{
    assert_true(write(f->to_srv[1], s, strlen(s)) == (ssize_t)strlen(s));
    assert_true(write(f->to_srv[1], "\n", 1) == 1);
}

#endif
