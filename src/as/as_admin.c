/* The authorization server's administration API: passwords and registered clients. */
#include "as/internal.h"

#include <string.h>

#define PASSWORD_LOG2N 15

mcp_status
mcp_as_user_set_password(mcp_store *store, const char *subject, const char *password,
                         size_t len, mcp_error *err)
{
    if (store == NULL || subject == NULL || password == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    if (len < 8 || len > 1024)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "a password has 8 to 1024 bytes");
    if (memchr(password, '\0', len) != NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "a password cannot contain NUL");
    char *h = mcp__as_password_hash(password, len, PASSWORD_LOG2N);
    if (h == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "cannot hash the password");
    mcp_status rc = mcp__store_as_password_set(store, subject, h, err);
    mcp_memzero(h, strlen(h));
    mcp__free(h);
    return rc;
}

static bool
id_ok(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool
name_ok(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return n <= 255;
}

bool
mcp__as_redirect_form_ok(const char *u)
{
    /* absolute, no fragment, no spaces (the list is space-separated) */
    size_t n = strlen(u);
    if (n == 0 || n > 2000 || strpbrk(u, " #\"<>\\") != NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
            return false;
    const char *colon = strchr(u, ':');
    return colon != NULL && colon > u && colon[1] != '\0';
}

mcp_status
mcp_as_client_add(mcp_store *store, const mcp_as_client_def *def, char **secret_out,
                  mcp_error *err)
{
    if (secret_out != NULL)
        *secret_out = NULL;
    if (store == NULL || def == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    if (!id_ok(def->id))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "client id: 1..128 of letters, digits and . _ : -");
    if (def->confidential && secret_out == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "a confidential client needs secret_out");
    if (def->owner != NULL && !def->confidential)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "an owner (client_credentials) needs a confidential client");
    if (def->name != NULL && !name_ok(def->name))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "client name: at most 255 printable bytes");
    mcp_buf uris;
    mcp__buf_init(&uris, 64u << 10);
    mcp_status rc = MCP_OK;
    for (size_t i = 0; rc == MCP_OK && def->redirect_uris && def->redirect_uris[i]; i++) {
        if (!mcp__as_redirect_form_ok(def->redirect_uris[i]))
            rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "redirect URI %zu is malformed", i + 1);
        else
            rc = mcp__buf_printf(&uris, "%s%s", uris.len ? " " : "", def->redirect_uris[i]);
    }
    if (rc == MCP_OK)
        rc = mcp__buf_append(&uris, "", 1);
    if (rc == MCP_OK && def->owner != NULL) {
        mcp_store_user_info info;
        mcp_store_user_info_init(&info);
        rc = mcp_store_user_lookup(store, def->owner, &info, err);
        if (rc == MCP_OK && !info.exists)
            rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "no such user: the owner");
        mcp_store_user_info_cleanup(&info);
    }
    char *secret = NULL;
    char hash[65] = "";
    if (rc == MCP_OK && def->confidential) {
        if ((secret = mcp__as_random_token()) == NULL ||
            !mcp__as_sha256_hex(secret, strlen(secret), hash))
            rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    if (rc == MCP_OK) {
        mcp__store_as_client c = {
            .id = (char *)def->id, .secret_hash = hash,
            .name = (char *)(def->name != NULL ? def->name : ""), .redirect_uris = uris.ptr,
            .scope = (char *)"", .owner = (char *)(def->owner != NULL ? def->owner : ""),
        };
        rc = mcp__store_as_client_add(store, &c, err);
    }
    mcp__buf_cleanup(&uris);
    if (rc == MCP_OK && secret != NULL) {
        *secret_out = secret;
        secret = NULL;
    }
    if (secret != NULL) {
        mcp_memzero(secret, strlen(secret));
        mcp__free(secret);
    }
    return rc;
}

mcp_status
mcp_as_client_remove(mcp_store *store, const char *id, mcp_error *err)
{
    return mcp__store_as_client_remove(store, id, err);
}

typedef struct list_ctx {
    bool (*fn)(void *ctx, const mcp_as_client_info *c);
    void *ctx;
} list_ctx;

static bool
list_one(void *vctx, const mcp__store_as_client *c)
{
    list_ctx *l = vctx;
    mcp_as_client_info i = {
        .id = c->id, .name = c->name, .redirect_uris = c->redirect_uris,
        .confidential = c->secret_hash[0] != '\0', .owner = c->owner, .created = c->created,
    };
    return l->fn(l->ctx, &i);
}

mcp_status
mcp_as_client_list(mcp_store *store, bool (*fn)(void *ctx, const mcp_as_client_info *c),
                   void *ctx, mcp_error *err)
{
    if (fn == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing callback");
    list_ctx l = { fn, ctx };
    return mcp__store_as_client_list(store, list_one, &l, err);
}
