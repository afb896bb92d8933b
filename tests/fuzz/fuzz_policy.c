/*
 * libFuzzer target: the policy file (src/authz/policy.c, format in
 * docs/design/authorization.md) through mcp_policy_parse(), then lookups of the names the
 * seeds use (exact and template resources) on an accepted policy. Must never crash or leak;
 * an accepted policy must answer lookups.
 */
#include <mcp/policy.h>

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcp_policy *pol = NULL;
    mcp_error err;
    if (mcp_policy_parse((const char *)data, size, "fuzz.json", &pol, &err) != MCP_OK) {
        if (pol != NULL)
            abort();
        return 0;
    }
    static const char *const kinds[] = { "tool", "resource", "prompt" };
    static const char *const names[] = { "delete_product", "x", "products://1/detail",
                                         "products://", "" };
    for (size_t k = 0; k < 3; k++) {
        for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
            mcp_access a;
            bool deny;
            (void)mcp_policy_lookup(pol, kinds[k], names[n], &a, &deny);
        }
    }
    (void)mcp_policy_entry_count(pol);
    (void)mcp_policy_inherits_registration(pol);
    mcp_policy_unref(pol);
    return 0;
}
