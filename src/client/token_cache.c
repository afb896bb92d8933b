/*
 * The token cache: one JSON file holding access/refresh tokens and dynamic registrations.
 *
 * It holds secrets, so it is never created readable by others: the new content goes to a
 * temporary file opened with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600, fchmod'ed to 0600 (umask
 * can only remove bits, but a pre-set ACL default or an odd umask must not matter), fsync'ed and
 * renamed over the old file. rename keeps readers from ever seeing a half-written file. Reading
 * refuses a file other users could read or write, the way ssh treats its private keys.
 */
#include "client/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

mcp_status
mcp__token_cache_load(const char *path, json_t **doc, mcp_error *err)
{
    *doc = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            *doc = json_object();
            return *doc ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        }
        return mcp_error_set(err, MCP_ERR_IO, "cannot open token cache %s: %s", path,
                             strerror(errno));
    }
    struct stat st;
    mcp_status rc = MCP_OK;
    char *buf = NULL;
    size_t n = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = mcp_error_set(err, MCP_ERR_STATE, "token cache %s is not a regular file", path);
        goto out;
    }
    if (st.st_uid != geteuid()) {
        rc = mcp_error_set(err, MCP_ERR_STATE, "token cache %s is owned by another user", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        rc = mcp_error_set(err, MCP_ERR_STATE,
                           "token cache %s is accessible by other users (chmod 600 it)", path);
        goto out;
    }
    if (st.st_size < 0 || (size_t)st.st_size > MCP__TOKEN_CACHE_MAX) {
        rc = mcp_error_set(err, MCP_ERR_TOO_LARGE, "token cache %s is too large", path);
        goto out;
    }
    n = (size_t)st.st_size;
    buf = mcp__alloc(n + 1);
    if (buf == NULL) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    json_error_t je;
    json_t *j = got == 0 ? json_object() : json_loadb(buf, got, 0, &je);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        rc = mcp_error_set(err, MCP_ERR_PARSE, "token cache %s is not a JSON object", path);
        goto out;
    }
    *doc = j;
out:
    if (buf != NULL) {
        mcp_memzero(buf, n);
        mcp__free(buf);
    }
    close(fd);
    return rc;
}

mcp_status
mcp__token_cache_save(const char *path, const json_t *doc, mcp_error *err)
{
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (text == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    size_t tlen = strlen(text);
    char *tmp = NULL;
    int fd = -1;
    mcp_status rc = MCP_OK;
    for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
        char *rnd = mcp__random_token(6);
        mcp__free(tmp);
        tmp = rnd ? mcp__aprintf("%s.tmp.%ld.%s", path, (long)getpid(), rnd) : NULL;
        mcp__free(rnd);
        if (tmp == NULL) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            goto out;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) {
            rc = mcp_error_set(err, MCP_ERR_IO, "cannot create token cache %s: %s", tmp,
                               strerror(errno));
            goto out;
        }
    }
    if (fd < 0) {
        rc = mcp_error_set(err, MCP_ERR_IO, "cannot create a temporary token cache file");
        goto out;
    }
    if (fchmod(fd, 0600) != 0 || mcp__write_all(fd, text, tlen) != MCP_OK ||
        mcp__write_all(fd, "\n", 1) != MCP_OK || fsync(fd) != 0) {
        rc = mcp_error_set(err, MCP_ERR_IO, "cannot write token cache %s: %s", tmp,
                           strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = mcp_error_set(err, MCP_ERR_IO, "cannot write token cache %s", tmp);
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = mcp_error_set(err, MCP_ERR_IO, "cannot replace token cache %s: %s", path,
                           strerror(errno));
        goto out;
    }
out:
    if (fd >= 0)
        close(fd);
    if (rc != MCP_OK && tmp != NULL)
        unlink(tmp);
    mcp__free(tmp);
    mcp_memzero(text, tlen);
    mcp__free(text);
    return rc;
}
