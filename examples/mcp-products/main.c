/*
 * mcp-products: a product-catalog MCP server with authentication and per-tool authorization.
 * See docs/cli/mcp-products.md; the authorization model is docs/design/authorization.md.
 *
 * Who may do what (registration rules; a --policy file may override any of them):
 *   list_products, get_product, products://{id}, summarize_catalog   User.Read or Guest.Read
 *   create_product, update_product                                   User.Write or Admin.Write
 *   delete_product                                                   Admin.Write
 * The handlers never check permissions: that happens before them, in the authorization phase
 * (mcp_rbac_attach). They only read the caller (mcp_ctx_principal) to record who changed what.
 */
#include <mcp/app.h>
#include <mcp/mcp.h>
#include <mcp/policy.h>
#include <mcp/store.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

static const char *const READ_PERMS[] = { "User.Read", "Guest.Read", NULL };
static const char *const WRITE_PERMS[] = { "User.Write", "Admin.Write", NULL };
static const char *const ADMIN_PERMS[] = { "Admin.Write", NULL };

/* ---- helpers ----------------------------------------------------------------------------- */

/* Who is calling, for created_by / updated_by: the principal's subject, or "anonymous" when
 * the server runs without authentication. */
static const char *
caller(const mcp_ctx *ctx)
{
    const mcp_principal *p = mcp_ctx_principal(ctx);
    const char *s = p != NULL ? mcp_principal_subject(p) : NULL;
    return s != NULL ? s : "anonymous";
}

/* Optional integer argument: *present says whether it was given; bad type is INVALID_ARG. */
static mcp_status
opt_int(const mcp_ctx *ctx, const char *name, int64_t lo, int64_t hi, int64_t *out,
        bool *present, mcp_error *err)
{
    *present = json_object_get(mcp_ctx_args(ctx), name) != NULL;
    if (!*present)
        return MCP_OK;
    mcp_status rc = mcp_ctx_arg_int(ctx, name, out, err);
    if (rc != MCP_OK)
        return rc;
    if (*out < lo || *out > hi)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s must be between %lld and %lld", name,
                             (long long)lo, (long long)hi);
    return MCP_OK;
}

static mcp_status
check_text(const char *name, const char *v, size_t max, bool required, mcp_error *err)
{
    if (v == NULL)
        return required ? mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s is required", name)
                        : MCP_OK;
    size_t n = strlen(v);
    if ((required && n == 0) || n > max)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s must be 1 to %zu bytes", name, max);
    return MCP_OK;
}

/* Structured result plus a one-line text summary for clients that show text only, then the
 * structured content as JSON text (serialized once by the server, for both). */
static mcp_status
reply(mcp_ctx *ctx, const char *summary, json_t *value, mcp_error *err)
{
    mcp_status rc = mcp_ctx_add_text(ctx, summary, err);
    if (rc == MCP_OK)
        rc = mcp_ctx_add_structured_text(ctx, err);
    if (rc == MCP_OK)
        return mcp_ctx_set_structured_take(ctx, value, err);
    json_decref(value);
    return rc;
}

/* A catalog failure: "not found" goes to the model as a tool error; anything else is an
 * internal error (logged by the server, not sent). */
static mcp_status
tool_failure(mcp_ctx *ctx, mcp_status rc, mcp_error *err)
{
    if (rc == MCP_ERR_NOT_FOUND) {
        char msg[MCP_ERROR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->message);
        mcp_error_clear(err);
        return mcp_ctx_set_error_result(ctx, msg, err);
    }
    return rc;
}

/* ---- tools ------------------------------------------------------------------------------- */

static mcp_status
list_products(mcp_ctx *ctx, void *udata, mcp_error *err)
{
    catalog *cat = udata;
    int64_t limit = 50, offset = 0;
    bool has;
    const char *query = mcp_ctx_arg_str(ctx, "query");
    mcp_status rc = opt_int(ctx, "limit", 1, CATALOG_LIST_MAX, &limit, &has, err);
    if (rc == MCP_OK)
        rc = opt_int(ctx, "offset", 0, INT32_MAX, &offset, &has, err);
    if (rc == MCP_OK)
        rc = check_text("query", query, CATALOG_NAME_MAX, false, err);
    if (rc != MCP_OK)
        return rc;
    json_t *out = NULL;
    if ((rc = catalog_list(cat, query, limit, offset, &out, err)) != MCP_OK)
        return rc;
    char summary[128];
    snprintf(summary, sizeof summary, "%zu of %lld products",
             json_array_size(json_object_get(out, "products")),
             (long long)json_integer_value(json_object_get(out, "total")));
    return reply(ctx, summary, out, err);
}

static mcp_status
get_product(mcp_ctx *ctx, void *udata, mcp_error *err)
{
    int64_t id;
    mcp_status rc = mcp_ctx_arg_int(ctx, "id", &id, err);
    if (rc != MCP_OK)
        return rc;
    json_t *p = NULL;
    if ((rc = catalog_get(udata, id, &p, err)) != MCP_OK)
        return tool_failure(ctx, rc, err);
    char summary[CATALOG_NAME_MAX + 64];
    snprintf(summary, sizeof summary, "product %lld: %s", (long long)id,
             json_string_value(json_object_get(p, "name")));
    return reply(ctx, summary, p, err);
}

static mcp_status
create_product(mcp_ctx *ctx, void *udata, mcp_error *err)
{
    const char *name = mcp_ctx_arg_str(ctx, "name");
    const char *desc = mcp_ctx_arg_str(ctx, "description");
    int64_t price = 0, stock = 0;
    bool has_price, has;
    mcp_status rc = check_text("name", name, CATALOG_NAME_MAX, true, err);
    if (rc == MCP_OK)
        rc = check_text("description", desc, CATALOG_DESC_MAX, false, err);
    if (rc == MCP_OK)
        rc = opt_int(ctx, "price_cents", 0, CATALOG_PRICE_MAX, &price, &has_price, err);
    if (rc == MCP_OK && !has_price)
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "price_cents is required");
    if (rc == MCP_OK)
        rc = opt_int(ctx, "stock", 0, CATALOG_STOCK_MAX, &stock, &has, err);
    if (rc != MCP_OK)
        return rc;
    json_t *p = NULL;
    if ((rc = catalog_create(udata, name, desc, price, stock, caller(ctx), &p, err)) != MCP_OK)
        return rc;
    char summary[64];
    snprintf(summary, sizeof summary, "created product %lld",
             (long long)json_integer_value(json_object_get(p, "id")));
    return reply(ctx, summary, p, err);
}

static mcp_status
update_product(mcp_ctx *ctx, void *udata, mcp_error *err)
{
    int64_t id, price = -1, stock = -1;
    bool has_price, has_stock;
    const char *name = mcp_ctx_arg_str(ctx, "name");
    const char *desc = mcp_ctx_arg_str(ctx, "description");
    mcp_status rc = mcp_ctx_arg_int(ctx, "id", &id, err);
    if (rc == MCP_OK && name != NULL)
        rc = check_text("name", name, CATALOG_NAME_MAX, true, err);
    if (rc == MCP_OK)
        rc = check_text("description", desc, CATALOG_DESC_MAX, false, err);
    if (rc == MCP_OK)
        rc = opt_int(ctx, "price_cents", 0, CATALOG_PRICE_MAX, &price, &has_price, err);
    if (rc == MCP_OK)
        rc = opt_int(ctx, "stock", 0, CATALOG_STOCK_MAX, &stock, &has_stock, err);
    if (rc == MCP_OK && name == NULL && desc == NULL && !has_price && !has_stock)
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG,
                           "nothing to update: give name, description, price_cents or stock");
    if (rc != MCP_OK)
        return rc;
    json_t *p = NULL;
    rc = catalog_update(udata, id, name, desc, has_price ? price : -1, has_stock ? stock : -1,
                        caller(ctx), &p, err);
    if (rc != MCP_OK)
        return tool_failure(ctx, rc, err);
    char summary[64];
    snprintf(summary, sizeof summary, "updated product %lld", (long long)id);
    return reply(ctx, summary, p, err);
}

static mcp_status
delete_product(mcp_ctx *ctx, void *udata, mcp_error *err)
{
    int64_t id;
    mcp_status rc = mcp_ctx_arg_int(ctx, "id", &id, err);
    if (rc != MCP_OK)
        return rc;
    if ((rc = catalog_delete(udata, id, err)) != MCP_OK)
        return tool_failure(ctx, rc, err);
    char summary[64];
    snprintf(summary, sizeof summary, "deleted product %lld", (long long)id);
    return reply(ctx, summary, json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1),
                 err);
}

/* ---- resource and prompt ----------------------------------------------------------------- */

static mcp_status
read_product(mcp_ctx *ctx, const char *uri, void *udata, mcp_error *err)
{
    const char *v = mcp_ctx_uri_var(ctx, "id");
    char *end = NULL;
    long long id = v != NULL ? strtoll(v, &end, 10) : 0;
    if (v == NULL || *v == '\0' || *end != '\0' || id <= 0)
        return mcp_error_set(err, MCP_ERR_NOT_FOUND, "no product at %.100s", uri);
    json_t *p = NULL;
    mcp_status rc = catalog_get(udata, id, &p, err);
    if (rc != MCP_OK)
        return rc;
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (text == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    rc = mcp_ctx_add_resource_text(ctx, uri, "application/json", text, err);
    free(text);
    return rc;
}

static mcp_status
summarize_catalog(mcp_ctx *ctx, void *udata, mcp_error *err)
{
    const char *focus = mcp_ctx_arg_str(ctx, "focus");
    if (focus != NULL && strlen(focus) > 500)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "focus must be at most 500 bytes");
    json_t *list = NULL;
    mcp_status rc = catalog_list(udata, NULL, CATALOG_LIST_MAX, 0, &list, err);
    if (rc != MCP_OK)
        return rc;
    size_t cap = 256 + 300 * CATALOG_LIST_MAX + (focus ? strlen(focus) : 0), off = 0;
    char *text = malloc(cap);
    if (text == NULL) {
        json_decref(list);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    json_t *products = json_object_get(list, "products");
    off += (size_t)snprintf(text, cap,
                            "Summarize this product catalog (%lld products) in a few sentences "
                            "for a customer: the range, the price span, and what is low in "
                            "stock.%s%s\n\n",
                            (long long)json_integer_value(json_object_get(list, "total")),
                            focus ? " Focus on: " : "", focus ? focus : "");
    size_t i;
    json_t *p;
    json_array_foreach(products, i, p) {
        json_int_t cents = json_integer_value(json_object_get(p, "price_cents"));
        int n = snprintf(text + off, cap - off, "- #%lld %.100s: %lld.%02lld, %lld in stock\n",
                         (long long)json_integer_value(json_object_get(p, "id")),
                         json_string_value(json_object_get(p, "name")),
                         (long long)(cents / 100), (long long)(cents % 100),
                         (long long)json_integer_value(json_object_get(p, "stock")));
        if (n < 0 || (size_t)n >= cap - off)
            break;
        off += (size_t)n;
    }
    json_decref(list);
    rc = mcp_ctx_add_prompt_message_take(ctx, "user",
                                         json_pack("{s:s, s:s}", "type", "text", "text", text),
                                         err);
    free(text);
    return rc;
}

/* ---- definitions ------------------------------------------------------------------------- */

static const mcp_tool_def tools[] = {
    { .name = "list_products",
      .title = "List products",
      .description = "List catalog products, optionally filtered by a name substring.",
      .input_schema = "{\"type\":\"object\",\"properties\":{"
                      "\"query\":{\"type\":\"string\",\"description\":\"name contains\"},"
                      "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
                      "\"offset\":{\"type\":\"integer\",\"minimum\":0}}}",
      .annotations = "{\"readOnlyHint\":true}",
      .access = { .any_of_perms = READ_PERMS },
      .handler = list_products },
    { .name = "get_product",
      .title = "Get a product",
      .description = "Get one product by id.",
      .input_schema = "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}},"
                      "\"required\":[\"id\"]}",
      .annotations = "{\"readOnlyHint\":true}",
      .access = { .any_of_perms = READ_PERMS },
      .handler = get_product },
    { .name = "create_product",
      .title = "Create a product",
      .description = "Add a product to the catalog; the caller is recorded as created_by.",
      .input_schema = "{\"type\":\"object\",\"properties\":{"
                      "\"name\":{\"type\":\"string\"},\"description\":{\"type\":\"string\"},"
                      "\"price_cents\":{\"type\":\"integer\",\"minimum\":0},"
                      "\"stock\":{\"type\":\"integer\",\"minimum\":0}},"
                      "\"required\":[\"name\",\"price_cents\"]}",
      .access = { .any_of_perms = WRITE_PERMS },
      .handler = create_product },
    { .name = "update_product",
      .title = "Update a product",
      .description = "Change a product's name, description, price or stock.",
      .input_schema = "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
                      "\"name\":{\"type\":\"string\"},\"description\":{\"type\":\"string\"},"
                      "\"price_cents\":{\"type\":\"integer\",\"minimum\":0},"
                      "\"stock\":{\"type\":\"integer\",\"minimum\":0}},\"required\":[\"id\"]}",
      .access = { .any_of_perms = WRITE_PERMS },
      .handler = update_product },
    { .name = "delete_product",
      .title = "Delete a product",
      .description = "Delete a product by id.",
      .input_schema = "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}},"
                      "\"required\":[\"id\"]}",
      .annotations = "{\"destructiveHint\":true}",
      .access = { .any_of_perms = ADMIN_PERMS },
      .handler = delete_product },
};

static const mcp_resource_def product_resource = {
    .uri_template = "products://{id}",
    .name = "product",
    .title = "Product",
    .description = "One catalog product as JSON.",
    .mime_type = "application/json",
    .access = { .any_of_perms = READ_PERMS },
    .handler = read_product,
};

static const mcp_prompt_arg summarize_args[] = {
    { .name = "focus", .description = "what the summary should emphasise", .required = false },
    { .name = NULL },
};

static const mcp_prompt_def summarize_prompt = {
    .name = "summarize_catalog",
    .title = "Summarize the catalog",
    .description = "A prompt asking for a short customer-facing summary of the catalog.",
    .args = summarize_args,
    .access = { .any_of_perms = READ_PERMS },
    .handler = summarize_catalog,
};

/* ---- bootstrap ---------------------------------------------------------------------------- */

static bool
count_user(void *ctx, const mcp_store_user *u)
{
    (void)u;
    (*(size_t *)ctx)++;
    return false;                          /* one is enough */
}

/*
 * --bootstrap-admin SUBJECT: on a store without users, create SUBJECT with role admin and an
 * API key, and print the key once. Refuses when the store already has a user, so it cannot be
 * used to mint keys on a running deployment (that is what mcp-admin is for, with access to the
 * file).
 */
static int
bootstrap_admin(const mcp_app_config *cfg, const char *subject)
{
    if (cfg->db == NULL) {
        fprintf(stderr, "mcp-products: --bootstrap-admin needs --db FILE\n");
        return 2;
    }
    mcp_store *st = NULL;
    mcp_error err;
    mcp_error_clear(&err);
    char *key = NULL;
    int rc = 1;
    size_t users = 0;
    char shown[512]; /* a PostgreSQL URI without its password */
    mcp_store_display_name(cfg->db, shown, sizeof shown);
    if (mcp_store_open(cfg->db, NULL, &st, &err) != MCP_OK ||
        mcp_store_user_list(st, count_user, &users, &err) != MCP_OK) {
        fprintf(stderr, "mcp-products: %s: %s\n", shown, err.message);
        goto out;
    }
    if (users > 0) {
        fprintf(stderr, "mcp-products: %s already has users; --bootstrap-admin only works on an "
                        "empty store (use mcp-admin to add users and keys)\n", shown);
        goto out;
    }
    const char *const roles[] = { "admin", NULL };
    if (mcp_store_user_add_with_roles(st, subject, "Administrator", roles, &err) != MCP_OK ||
        mcp_store_key_create(st, subject, "bootstrap", 0, &key, NULL, &err) != MCP_OK) {
        fprintf(stderr, "mcp-products: %s\n", err.message);
        goto out;
    }
    printf("Created user '%s' with role admin (Admin.Write, User.Write, User.Read).\n"
           "Its API key is shown only this once; keep it somewhere safe:\n\n"
           "API key: %s\n\n"
           "Start the server:\n"
           "  mcp-products --db %s --auth apikey --seed\n"
           "Then call it:\n"
           "  curl -s http://%s:%u/mcp -H 'Authorization: Bearer %s' \\\n"
           "    -H 'Content-Type: application/json' -H 'Accept: application/json, "
           "text/event-stream' \\\n"
           "    -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
           "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":"
           "{\"name\":\"curl\",\"version\":\"1\"}}}'\n",
           subject, key, shown, cfg->listen_host, (unsigned)cfg->listen_port, key);
    fflush(stdout);
    rc = 0;
out:
    if (key != NULL) {
        mcp_memzero(key, strlen(key));
        mcp_free(key);
    }
    mcp_store_close(st);
    return rc;
}

/* ---- main -------------------------------------------------------------------------------- */

static const char extra_help[] =
    "\nmcp-products options:\n"
    "  --catalog FILE          product catalog (SQLite; default ./products.db)\n"
    "  --seed                  add sample products when the catalog is empty\n"
    "  --policy FILE           authorization policy (JSON); reloaded on SIGHUP\n"
    "  --audit-log FILE        one JSON line per authn/authz decision (\"-\" = stderr)\n"
    "  --allow-unknown-users   let credentials whose subject is not in --db through, with\n"
    "                          their token's permissions only (default: 403 \"user unknown\")\n"
    "  --bootstrap-admin SUBJ  on an empty --db: create SUBJ (role admin) and an API key,\n"
    "                          print the key once, and exit\n";

int
main(int argc, char **argv)
{
    static const char *const extra[] = { "--catalog", "--policy", "--audit-log",
                                         "--bootstrap-admin", NULL };
    bool seed = false, allow_unknown = false;
    /* flags without a value are ours to take out before the shared parser sees them */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (args == NULL)
        return 1;
    int nargs = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--seed") == 0)
            seed = true;
        else if (i > 0 && strcmp(argv[i], "--allow-unknown-users") == 0)
            allow_unknown = true;
        else
            args[nargs++] = argv[i];
    }
    mcp_app_config cfg;
    int rc = mcp_app_config_parse(&cfg, nargs, args, "mcp-products",
                                  "A product-catalog MCP server with per-tool authorization.",
                                  extra, extra_help);
    free(args);
    if (rc >= 0) {
        mcp_app_config_cleanup(&cfg);
        return rc;
    }
    const char *boot = mcp_app_config_extra(&cfg, "--bootstrap-admin");
    if (boot != NULL) {
        rc = bootstrap_admin(&cfg, boot);
        mcp_app_config_cleanup(&cfg);
        return rc;
    }

    mcp_error err;
    mcp_error_clear(&err);
    catalog *cat = NULL;
    mcp_server *srv = NULL;
    mcp_audit *audit = NULL;
    mcp_rbac *rbac = NULL;
    rc = 1;
    const char *catalog_path = mcp_app_config_extra(&cfg, "--catalog");
    if (catalog_open(catalog_path ? catalog_path : "products.db", &cat, &err) != MCP_OK)
        goto fail;
    if (seed) {
        int added = 0;
        if (catalog_seed(cat, &added, &err) != MCP_OK)
            goto fail;
        if (added > 0)
            fprintf(stderr, "mcp-products: added %d sample products\n", added);
    }

    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.name = "mcp-products";
    so.title = "Product catalog";
    mcp_app_server_opts(&cfg, &so);     /* --stateless and the session/authn limits */
    so.instructions = "A product catalog. list_products and get_product read it; "
                      "create_product, update_product and delete_product change it, if the "
                      "caller's role allows. products://{id} reads one product.";
    if (mcp_server_new(&so, &srv, &err) != MCP_OK)
        goto fail;
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        if (mcp_server_add_tool(srv, &tools[i], cat, &err) != MCP_OK)
            goto fail;
    if (mcp_server_add_resource(srv, &product_resource, cat, &err) != MCP_OK ||
        mcp_server_add_prompt(srv, &summarize_prompt, cat, &err) != MCP_OK)
        goto fail;

    /* authentication (--auth, --db, JWT keys, ...) */
    if (mcp_app_setup(&cfg, srv, &err) != MCP_OK)
        goto fail;

    /* audit log, then authorization: the AUTHZ item runs after the AUTHN item */
    const char *audit_path = mcp_app_config_extra(&cfg, "--audit-log");
    if (audit_path != NULL) {
        mcp_audit_opts ao;
        mcp_audit_opts_default(&ao);
        ao.path = audit_path;
        if (mcp_audit_open(&ao, &audit, &err) != MCP_OK)
            goto fail;
        mcp_audit_attach(audit, srv);
    }
    mcp_rbac_opts ro;
    mcp_rbac_opts_default(&ro);
    ro.store = mcp_app_store(&cfg);
    ro.require_known_user = !allow_unknown;
    ro.permission_rule = cfg.permission_rule;     /* --permission-rule (default store) */
    ro.store_subjects = cfg.store_subjects;       /* --store-subjects (default bare) */
    ro.shared_rate_limits = cfg.shared_rate_limits; /* --rate-limits (default local) */
    /* the authentication item already refuses revoked JWT ids when it has the store */
    ro.check_revoked_jti = false;
    ro.policy_path = mcp_app_config_extra(&cfg, "--policy");
    ro.audit = audit;
    if (mcp_rbac_new(&ro, &rbac, &err) != MCP_OK || mcp_rbac_attach(rbac, srv, &err) != MCP_OK ||
        mcp_rbac_watch_sighup(rbac, &err) != MCP_OK)
        goto fail;

    rc = mcp_app_run(&cfg, srv, &err);
    goto out;
fail:
    fprintf(stderr, "mcp-products: %s\n", err.message[0] ? err.message
                                                         : mcp_status_str(err.code));
out:
    mcp_server_free(srv);                 /* stops serving before what it uses goes away */
    mcp_rbac_free(rbac);
    mcp_audit_close(audit);
    catalog_close(cat);
    mcp_app_config_cleanup(&cfg);          /* closes the store */
    return rc;
}
