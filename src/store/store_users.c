/* Users, roles and revoked token ids in the store; the cached user lookup. */
#include "store/internal.h"

#include <stdalign.h>
#include <string.h>

/* ---- user snapshots --------------------------------------------------------------------- */

/*
 * What a user lookup returns, shared by the cache and every caller holding it: one allocation
 * holding the struct, the permission pointer array and all strings, immutable once built.
 */
typedef struct user_snap {
    mcp__store_ref ref;
    bool           exists, enabled;
    const char    *subject, *name;
    const char   **perms; /* NULL-terminated */
    size_t         nperms;
} user_snap;

static void
user_snap_destroy(mcp__store_ref *r)
{
    mcp__free((user_snap *)r); /* ref is the first member */
}

static user_snap *
user_snap_new(const char *subject, bool exists, bool enabled, const char *name,
              const mcp__store_strlist *perms)
{
    size_t head = (sizeof(user_snap) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    size_t arr = (perms->n + 1) * sizeof(char *);
    size_t sl = strlen(subject) + 1, nl = strlen(name) + 1;
    user_snap *u = mcp__alloc(head + arr + sl + nl + perms->bytes.len);
    if (u == NULL)
        return NULL;
    char *base = (char *)u;
    u->perms = (const char **)(void *)(base + head);
    char *p = base + head + arr;
    memcpy(p, subject, sl);
    u->subject = p;
    p += sl;
    memcpy(p, name, nl);
    u->name = p;
    p += nl;
    if (perms->bytes.len > 0)
        memcpy(p, perms->bytes.ptr, perms->bytes.len);
    for (size_t i = 0; i < perms->n; i++) {
        u->perms[i] = p;
        p += strlen(p) + 1;
    }
    u->perms[perms->n] = NULL;
    u->nperms = perms->n;
    u->exists = exists;
    u->enabled = exists && enabled;
    mcp__store_ref_init(&u->ref, user_snap_destroy);
    return u;
}

static mcp_status
load_user(mcp_store *s, const char *subject, user_snap **out, mcp_error *err)
{
    mcp__store_strlist perms;
    mcp__store_strlist_init(&perms);
    mcp_status rc = MCP_OK;
    bool exists = false, enabled = false;
    char *name = NULL;

    mcp__store_conn *c = mcp__store_reader_acquire(s);
    mcp__store_rows r;
    bool row = false;
    rc = mcp__store_query_stmt(c, &r, MCP__ST_USER_GET, subject, err);
    while (rc == MCP_OK && (rc = mcp__store_next(&r, &row, "read user", err)) == MCP_OK && row) {
        if (!exists) {
            exists = true;
            enabled = mcp__store_int(&r, 1) == 1;
            const char *n = mcp__store_text(&r, 0);
            name = mcp__strdup(n != NULL ? n : "");
            if (name == NULL) {
                rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
                break;
            }
        }
        const char *perm = mcp__store_text(&r, 2);
        if (perm != NULL && mcp__store_strlist_add(&perms, perm) != MCP_OK) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            break;
        }
    }
    mcp__store_rows_end(&r);
    mcp__store_conn_release(c);
    if (rc == MCP_OK) {
        *out = user_snap_new(subject, exists, enabled, name != NULL ? name : "", &perms);
        if (*out == NULL)
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    mcp__free(name);
    mcp__store_strlist_cleanup(&perms);
    return rc;
}

void
mcp_store_user_info_init(mcp_store_user_info *info)
{
    static const char *const empty[] = { NULL };
    if (info == NULL)
        return;
    memset(info, 0, sizeof *info);
    info->name = "";
    info->permissions = empty;
}

void
mcp_store_user_info_cleanup(mcp_store_user_info *info)
{
    if (info == NULL)
        return;
    if (info->snapshot_ != NULL)
        mcp__store_ref_drop((mcp__store_ref *)(uintptr_t)info->snapshot_);
    mcp_store_user_info_init(info);
}

mcp_status
mcp_store_user_lookup(mcp_store *s, const char *subject, mcp_store_user_info *out, mcp_error *err)
{
    if (out == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "user info is missing");
    mcp_store_user_info_init(out);
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store is missing");
    mcp_status rc = mcp__store_check_text("subject", subject, MCP_STORE_SUBJECT_MAX, false, err);
    if (rc != MCP_OK)
        return rc;
    rc = mcp__store_check_changes(s, err);
    if (rc != MCP_OK)
        return rc;

    size_t len = strlen(subject);
    uint64_t gen = atomic_load(&s->gen);
    user_snap *u = (user_snap *)mcp__store_cache_get(&s->users, subject, len, gen);
    if (u == NULL) {
        rc = load_user(s, subject, &u, err);
        if (rc != MCP_OK)
            return rc;
        mcp__store_cache_put(&s->users, subject, len, gen, &s->gen, &u->ref);
    }
    out->exists = u->exists;
    out->enabled = u->enabled;
    out->subject = u->subject;
    out->name = u->name;
    out->permissions = u->perms;
    out->n_permissions = u->nperms;
    out->snapshot_ = u; /* the reference from get() or from user_snap_new() */
    return MCP_OK;
}

/* ---- user administration ---------------------------------------------------------------- */

static mcp_status
user_exists(mcp__store_conn *c, const char *subject, mcp_error *err)
{
    bool found;
    mcp_status rc = mcp__store_exists(c, &found, err, "SELECT 1 FROM users WHERE subject = ?", "t",
                                      subject);
    if (rc == MCP_OK && !found)
        rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "no such user");
    return rc;
}

static mcp_status
role_exists(mcp__store_conn *c, const char *role, mcp_error *err)
{
    bool found;
    mcp_status rc = mcp__store_exists(c, &found, err, "SELECT 1 FROM roles WHERE name = ?", "t",
                                      role);
    if (rc == MCP_OK && !found)
        rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "no such role");
    return rc;
}

mcp_status
mcp_store_user_add_with_roles(mcp_store *s, const char *subject, const char *name,
                              const char *const *roles, mcp_error *err)
{
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store is missing");
    mcp_status rc = mcp__store_check_text("subject", subject, MCP_STORE_SUBJECT_MAX, false, err);
    if (rc == MCP_OK && name != NULL)
        rc = mcp__store_check_text("name", name, MCP_STORE_NAME_MAX, true, err);
    for (size_t i = 0; rc == MCP_OK && roles != NULL && roles[i] != NULL; i++)
        rc = mcp__store_check_role(roles[i], err);
    if (rc != MCP_OK)
        return rc;

    mcp__store_conn *c;
    rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        return rc;
    bool found;
    rc = mcp__store_exists(c, &found, err, "SELECT 1 FROM users WHERE subject = ?", "t", subject);
    if (rc == MCP_OK && found)
        rc = mcp_error_set(err, MCP_ERR_STATE, "user already exists");
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, NULL, err,
                             "INSERT INTO users(subject, name, enabled, created)"
                             " VALUES (?, ?, 1, ?)",
                             "tti", subject, name != NULL ? name : "", mcp__unix_now());
    for (size_t i = 0; rc == MCP_OK && roles != NULL && roles[i] != NULL; i++) {
        rc = role_exists(c, roles[i], err);
        if (rc == MCP_OK)
            rc = mcp__store_exec(c, NULL, err,
                                 "INSERT INTO user_roles(subject, role) VALUES (?, ?)"
                                 " ON CONFLICT DO NOTHING",
                                 "tt", subject, roles[i]);
    }
    return mcp__store_write_end(s, c, rc, err);
}

mcp_status
mcp_store_user_add(mcp_store *s, const char *subject, const char *name, mcp_error *err)
{
    return mcp_store_user_add_with_roles(s, subject, name, NULL, err);
}

mcp_status
mcp_store_user_remove(mcp_store *s, const char *subject, mcp_error *err)
{
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store is missing");
    mcp_status rc = mcp__store_check_text("subject", subject, MCP_STORE_SUBJECT_MAX, false, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        return rc;
    size_t n = 0;
    /* ON DELETE CASCADE removes the user's role grants and API keys with it. */
    rc = mcp__store_exec(c, &n, err, "DELETE FROM users WHERE subject = ?", "t", subject);
    if (rc == MCP_OK && n == 0)
        rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "no such user");
    return mcp__store_write_end(s, c, rc, err);
}

mcp_status
mcp_store_user_set_enabled(mcp_store *s, const char *subject, bool enabled, mcp_error *err)
{
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store is missing");
    mcp_status rc = mcp__store_check_text("subject", subject, MCP_STORE_SUBJECT_MAX, false, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        return rc;
    size_t n = 0;
    rc = mcp__store_exec(c, &n, err, "UPDATE users SET enabled = ? WHERE subject = ?", "it",
                         (int64_t)(enabled ? 1 : 0), subject);
    if (rc == MCP_OK && n == 0)
        rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "no such user");
    return mcp__store_write_end(s, c, rc, err);
}

/* ---- listing: rows are read first, then handed to the callback with no lock held ---------- */

typedef struct named_row {
    char              *name;  /* user subject or role name */
    char              *extra; /* user display name */
    bool               enabled;
    int64_t            created;
    mcp__store_strlist list;  /* user roles or role permissions */
} named_row;

typedef struct row_vec {
    named_row *rows;
    size_t     n, cap;
} row_vec;

static void
row_vec_cleanup(row_vec *v)
{
    for (size_t i = 0; i < v->n; i++) {
        mcp__free(v->rows[i].name);
        mcp__free(v->rows[i].extra);
        mcp__store_strlist_cleanup(&v->rows[i].list);
    }
    mcp__free(v->rows);
    memset(v, 0, sizeof *v);
}

static named_row *
row_vec_push(row_vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        named_row *r = mcp__realloc(v->rows, cap * sizeof *r);
        if (r == NULL)
            return NULL;
        v->rows = r;
        v->cap = cap;
    }
    named_row *r = &v->rows[v->n++];
    memset(r, 0, sizeof *r);
    mcp__store_strlist_init(&r->list);
    return r;
}

/*
 * Run sql (no parameters) whose rows are (name, item, [extra, enabled, created]) ordered by
 * name, grouping consecutive rows with the same name; item may be NULL (no entries).
 */
static mcp_status
read_grouped(mcp_store *s, const char *sql, bool with_user_cols, row_vec *v, mcp_error *err)
{
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    mcp__store_rows q;
    bool row = false;
    mcp_status rc = mcp__store_query(c, &q, err, sql, "");
    while (rc == MCP_OK && (rc = mcp__store_next(&q, &row, "list", err)) == MCP_OK && row) {
        const char *name = mcp__store_text(&q, 0);
        if (name == NULL)
            name = "";
        named_row *r = v->n > 0 ? &v->rows[v->n - 1] : NULL;
        if (r == NULL || strcmp(r->name, name) != 0) {
            r = row_vec_push(v);
            if (r == NULL || (r->name = mcp__strdup(name)) == NULL) {
                rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
                break;
            }
            if (with_user_cols) {
                const char *extra = mcp__store_text(&q, 2);
                r->extra = mcp__strdup(extra != NULL ? extra : "");
                r->enabled = mcp__store_int(&q, 3) == 1;
                r->created = mcp__store_int(&q, 4);
                if (r->extra == NULL) {
                    rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
                    break;
                }
            }
        }
        const char *item = mcp__store_text(&q, 1);
        if (item != NULL && mcp__store_strlist_add(&r->list, item) != MCP_OK) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            break;
        }
    }
    mcp__store_rows_end(&q);
    mcp__store_conn_release(c);
    return rc;
}

/* Called with each grouped row and its list as a NULL-terminated array (valid for the call);
 * false stops the listing. */
typedef bool (*emit_fn)(void *ctx, const named_row *r, const char **items);

/* read_grouped, then hand each row to emit: the shared body of the user and role listings. */
static mcp_status
list_grouped(mcp_store *s, const char *sql, bool with_user_cols, emit_fn emit, void *ctx,
             mcp_error *err)
{
    row_vec v = { 0 };
    mcp_status rc = read_grouped(s, sql, with_user_cols, &v, err);
    for (size_t i = 0; rc == MCP_OK && i < v.n; i++) {
        const char **items = mcp__store_strlist_array(&v.rows[i].list);
        if (items == NULL) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            break;
        }
        bool more = emit(ctx, &v.rows[i], items);
        mcp__free(items);
        if (!more)
            break;
    }
    row_vec_cleanup(&v);
    return rc;
}

typedef struct user_list_ctx {
    mcp_store_user_fn fn;
    void             *ctx;
} user_list_ctx;

static bool
emit_user(void *ctx, const named_row *r, const char **roles)
{
    const user_list_ctx *l = ctx;
    mcp_store_user u = {
        .subject = r->name,
        .name = r->extra,
        .enabled = r->enabled,
        .created = r->created,
        .roles = roles,
        .n_roles = r->list.n,
    };
    return l->fn(l->ctx, &u);
}

mcp_status
mcp_store_user_list(mcp_store *s, mcp_store_user_fn fn, void *ctx, mcp_error *err)
{
    if (s == NULL || fn == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store or callback is missing");
    user_list_ctx l = { fn, ctx };
    return list_grouped(s,
                        "SELECT u.subject, ur.role, u.name, u.enabled, u.created"
                        " FROM users u LEFT JOIN user_roles ur ON ur.subject = u.subject"
                        " ORDER BY u.subject, ur.role", true, emit_user, &l, err);
}

typedef struct role_list_ctx {
    mcp_store_role_fn fn;
    void             *ctx;
} role_list_ctx;

static bool
emit_role(void *ctx, const named_row *r, const char **perms)
{
    const role_list_ctx *l = ctx;
    mcp_store_role role = {
        .name = r->name,
        .permissions = perms,
        .n_permissions = r->list.n,
    };
    return l->fn(l->ctx, &role);
}

mcp_status
mcp_store_role_list(mcp_store *s, mcp_store_role_fn fn, void *ctx, mcp_error *err)
{
    if (s == NULL || fn == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store or callback is missing");
    role_list_ctx l = { fn, ctx };
    return list_grouped(s,
                        "SELECT r.name, rp.permission FROM roles r"
                        " LEFT JOIN role_permissions rp ON rp.role = r.name"
                        " ORDER BY r.name, rp.permission", false, emit_role, &l, err);
}

/* ---- roles ------------------------------------------------------------------------------ */

static mcp_status
check_subject_role(mcp_store *s, const char *subject, const char *role, mcp_error *err)
{
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store is missing");
    mcp_status rc = mcp__store_check_text("subject", subject, MCP_STORE_SUBJECT_MAX, false, err);
    if (rc == MCP_OK)
        rc = mcp__store_check_role(role, err);
    return rc;
}

mcp_status
mcp_store_role_grant(mcp_store *s, const char *subject, const char *role, mcp_error *err)
{
    mcp_status rc = check_subject_role(s, subject, role, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        return rc;
    rc = user_exists(c, subject, err);
    if (rc == MCP_OK)
        rc = role_exists(c, role, err);
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, NULL, err,
                             "INSERT INTO user_roles(subject, role) VALUES (?, ?)"
                             " ON CONFLICT DO NOTHING", "tt",
                             subject, role);
    return mcp__store_write_end(s, c, rc, err);
}

mcp_status
mcp_store_role_revoke(mcp_store *s, const char *subject, const char *role, mcp_error *err)
{
    mcp_status rc = check_subject_role(s, subject, role, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        return rc;
    rc = user_exists(c, subject, err);
    if (rc == MCP_OK)
        rc = role_exists(c, role, err);
    size_t n = 0;
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, &n, err, "DELETE FROM user_roles WHERE subject = ? AND role = ?",
                             "tt", subject, role);
    if (rc == MCP_OK && n == 0)
        rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "user does not have that role");
    return mcp__store_write_end(s, c, rc, err);
}

mcp_status
mcp_store_role_set_permissions(mcp_store *s, const char *role, const char *const *perms,
                               mcp_error *err)
{
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store is missing");
    mcp_status rc = mcp__store_check_role(role, err);
    for (size_t i = 0; rc == MCP_OK && perms != NULL && perms[i] != NULL; i++)
        rc = mcp__store_check_permission(perms[i], err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        return rc;
    rc = mcp__store_exec(c, NULL, err, "INSERT INTO roles(name) VALUES (?) ON CONFLICT DO NOTHING",
                         "t", role);
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, NULL, err, "DELETE FROM role_permissions WHERE role = ?", "t",
                             role);
    for (size_t i = 0; rc == MCP_OK && perms != NULL && perms[i] != NULL; i++)
        rc = mcp__store_exec(c, NULL, err,
                             "INSERT INTO role_permissions(role, permission) VALUES (?, ?)"
                             " ON CONFLICT DO NOTHING", "tt", role, perms[i]);
    return mcp__store_write_end(s, c, rc, err);
}

mcp_status
mcp_store_role_remove(mcp_store *s, const char *role, mcp_error *err)
{
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store is missing");
    mcp_status rc = mcp__store_check_role(role, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        return rc;
    size_t n = 0;
    rc = mcp__store_exec(c, &n, err, "DELETE FROM roles WHERE name = ?", "t", role);
    if (rc == MCP_OK && n == 0)
        rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "no such role");
    return mcp__store_write_end(s, c, rc, err);
}

/* ---- revoked tokens --------------------------------------------------------------------- */

/* Static cache values: their refcounts are never touched (destroy == NULL). */
static mcp__store_ref jti_revoked = { 0, NULL };
static mcp__store_ref jti_not_revoked = { 0, NULL };

mcp_status
mcp_store_token_revoke(mcp_store *s, const char *jti, int64_t expires, mcp_error *err)
{
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store is missing");
    mcp_status rc = mcp__store_check_text("jti", jti, MCP_STORE_JTI_MAX, false, err);
    if (rc != MCP_OK)
        return rc;
    if (expires < 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "expires is negative");
    mcp__store_conn *c;
    rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        return rc;
    /* NULLIF: 0 (keep forever) is stored as NULL, as purge expects. */
    rc = mcp__store_exec(c, NULL, err,
                         "INSERT INTO revoked_tokens(jti, expires) VALUES (?, NULLIF(?, 0))"
                         " ON CONFLICT (jti) DO UPDATE SET expires = excluded.expires",
                         "ti", jti, expires);
    return mcp__store_write_end(s, c, rc, err);
}

static mcp_status
load_jti(mcp_store *s, const char *jti, bool *revoked, mcp_error *err)
{
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    mcp__store_rows r;
    bool row = false;
    mcp_status rc = mcp__store_query_stmt(c, &r, MCP__ST_JTI_GET, jti, err);
    if (rc == MCP_OK)
        rc = mcp__store_next(&r, &row, "read revoked token", err);
    if (rc == MCP_OK)
        *revoked = row;
    mcp__store_rows_end(&r);
    mcp__store_conn_release(c);
    return rc;
}

mcp_status
mcp_store_token_is_revoked(mcp_store *s, const char *jti, bool *out, mcp_error *err)
{
    if (s == NULL || out == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store or output is missing");
    mcp_status rc = mcp__store_check_text("jti", jti, MCP_STORE_JTI_MAX, false, err);
    if (rc != MCP_OK)
        return rc;
    rc = mcp__store_check_changes(s, err);
    if (rc != MCP_OK)
        return rc;
    size_t len = strlen(jti);
    uint64_t gen = atomic_load(&s->gen);
    mcp__store_ref *v = mcp__store_cache_get(&s->jtis, jti, len, gen);
    if (v != NULL) {
        *out = v == &jti_revoked;
        return MCP_OK;
    }
    bool revoked = false;
    rc = load_jti(s, jti, &revoked, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_cache_put(&s->jtis, jti, len, gen, &s->gen,
                         revoked ? &jti_revoked : &jti_not_revoked);
    *out = revoked;
    return MCP_OK;
}

mcp_status
mcp_store_token_purge(mcp_store *s, int64_t now, size_t *n, mcp_error *err)
{
    if (n != NULL)
        *n = 0;
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store is missing");
    mcp__store_conn *c;
    mcp_status rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        return rc;
    rc = mcp__store_exec(c, n, err,
                         "DELETE FROM revoked_tokens WHERE expires IS NOT NULL AND expires < ?",
                         "i", now);
    return mcp__store_write_end(s, c, rc, err);
}
