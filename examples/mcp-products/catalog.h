/*
 * mcp-products: the product catalog (SQLite). Its own file (--catalog), not the user store:
 * every commit to the store's file makes the server drop its user/key cache, and catalog
 * writes should not do that.
 */
#ifndef MCP_PRODUCTS_CATALOG_H
#define MCP_PRODUCTS_CATALOG_H

#include <jansson.h>
#include <mcp/common.h>

typedef struct catalog catalog;

#define CATALOG_NAME_MAX  200
#define CATALOG_DESC_MAX  2000
#define CATALOG_PRICE_MAX 1000000000000LL  /* cents */
#define CATALOG_STOCK_MAX 1000000000LL
#define CATALOG_LIST_MAX  100

/* Open (creating the file and table when missing). */
mcp_status catalog_open(const char *path, catalog **out, mcp_error *err);
void catalog_close(catalog *c);

/* Insert the sample products when the catalog is empty; *added gets how many. */
mcp_status catalog_seed(catalog *c, int *added, mcp_error *err);

/* A new product; returns it as a JSON object in *out (caller owns). */
mcp_status catalog_create(catalog *c, const char *name, const char *description,
                          int64_t price_cents, int64_t stock, const char *by, json_t **out,
                          mcp_error *err);
/* Product by id (JSON object) or MCP_ERR_NOT_FOUND. */
mcp_status catalog_get(catalog *c, int64_t id, json_t **out, mcp_error *err);
/* Change the fields that are non-NULL / >= 0; MCP_ERR_NOT_FOUND when there is no such id. */
mcp_status catalog_update(catalog *c, int64_t id, const char *name, const char *description,
                          int64_t price_cents, int64_t stock, const char *by, json_t **out,
                          mcp_error *err);
mcp_status catalog_delete(catalog *c, int64_t id, mcp_error *err);
/* Products ordered by id; query (may be NULL) matches a substring of the name, case-insensitive.
 * *out = {"products": [...], "total": N, "offset": O}. */
mcp_status catalog_list(catalog *c, const char *query, int64_t limit, int64_t offset,
                        json_t **out, mcp_error *err);

#endif
