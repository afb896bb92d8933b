/* requestState sealing for input-required results (protocol 2026-07-28, SEP-2322).
 *
 * A 2026 client echoes requestState back verbatim on its retry, so the server keeps no table of
 * pending requests and any process holding the key can resume any other's request. The spec makes
 * requestState attacker-controlled input: it MUST be integrity-protected when it influences
 * anything, and SHOULD be bound to the principal, the originating request and a short expiry.
 *
 * Token:  "mrs1." B64URL(body) "." B64URL(HMAC-SHA256(mac_key, "mrs1." B64URL(body)))
 * body:   compact JSON {"kid":"...","iat":N,"exp":N,"bnd":"<b64url sha256 binding>","d":<payload>}
 *
 * The MAC is checked (constant time) before the body is parsed, so unauthenticated bytes never
 * reach jansson. Integrity only, not confidentiality: the client can read the payload (it is
 * base64url JSON), so handlers must not put secrets in it. The MAC key is derived from the
 * configured secret (HMAC-SHA256(secret, "libmcp requestState v1")), so the same secret file used
 * elsewhere cannot produce a valid MAC for another purpose. A keyring holds the current key plus
 * optionally the previous one (rotation: seal with current, open with either, matched by kid).
 */
#ifndef MCP_SRC_PROTOCOL_REQUEST_STATE_H
#define MCP_SRC_PROTOCOL_REQUEST_STATE_H

#include <jansson.h>
#include <stdint.h>

#include "common/common.h"

#define MCP__RSTATE_MIN_SECRET   32u          /* bytes; shorter secrets are refused */
#define MCP__RSTATE_MAX_SECRET   4096u
#define MCP__RSTATE_MAX_TOKEN    (64u * 1024u) /* longer tokens are refused before any work */
#define MCP__RSTATE_DEFAULT_TTL  600          /* seconds */
#define MCP__RSTATE_MAX_SKEW     60           /* seconds an iat may lie in the future */
#define MCP__RSTATE_KID_LEN      11           /* b64url of 8 bytes, plus NUL below */

typedef struct mcp__rstate_key {
    unsigned char mac[32];                    /* derived MAC key; wiped by _cleanup */
    char          kid[MCP__RSTATE_KID_LEN + 1];
    bool          set;
} mcp__rstate_key;

/* Current key (seals and opens) and an optional previous key (opens only). */
typedef struct mcp__rstate_keyring {
    mcp__rstate_key current;
    mcp__rstate_key previous;
} mcp__rstate_keyring;

/* What a state is bound to: the digest of method, target name, principal and arguments. */
typedef struct mcp__rstate_binding {
    unsigned char digest[32];
} mcp__rstate_binding;

/* Zero the keyring (no keys). Always succeeds. */
void mcp__rstate_keyring_init(mcp__rstate_keyring *kr);
/* Wipe both keys. NULL is allowed. */
void mcp__rstate_keyring_cleanup(mcp__rstate_keyring *kr);

/* Derive a key from secret (borrowed; MCP__RSTATE_MIN_SECRET..MAX bytes) into slot.
 * Returns MCP_OK or MCP_ERR_INVALID_ARG (secret too short/long). */
MCP_NODISCARD mcp_status mcp__rstate_key_derive(mcp__rstate_key *slot, const void *secret,
                                                size_t len, mcp_error *err);
/* A fresh random key (per-process default when no key file is configured: states then do not
 * survive a restart and are not shared between processes). */
MCP_NODISCARD mcp_status mcp__rstate_key_random(mcp__rstate_key *slot, mcp_error *err);

/* Compute the binding. Every string may be NULL (treated as absent, distinct from ""); args may
 * be NULL. The arguments are hashed as jansson's compact, key-sorted dump, so key order in the
 * client's JSON does not matter; inputResponses, requestState and _meta are NOT part of it (the
 * caller passes params.arguments, not params). */
MCP_NODISCARD mcp_status mcp__rstate_bind(mcp__rstate_binding *out, const char *method,
                                          const char *name, const char *principal_issuer,
                                          const char *principal_subject, const json_t *args,
                                          mcp_error *err);

/* Seal payload (borrowed, any JSON value) for ttl_s seconds from now_s.
 * @param[out] out NUL-terminated token, caller frees with mcp__free. Set only on MCP_OK.
 * @return MCP_OK, MCP_ERR_STATE (no current key), MCP_ERR_INVALID_ARG (ttl <= 0),
 *         MCP_ERR_TOO_LARGE (token would exceed MCP__RSTATE_MAX_TOKEN), MCP_ERR_NOMEM. */
MCP_NODISCARD mcp_status mcp__rstate_seal(const mcp__rstate_keyring *kr,
                                          const mcp__rstate_binding *bnd, const json_t *payload,
                                          int64_t ttl_s, int64_t now_s, char **out,
                                          mcp_error *err);

/* Verify and open token. Checks, in order: length cap, format, kid known, MAC (constant time),
 * body JSON, exp > now, iat not in the future beyond MCP__RSTATE_MAX_SKEW, binding (constant
 * time). Any failure returns MCP_ERR_INVALID_ARG with err->rpc_code -32602 and a message naming
 * the failed check (never the token or payload).
 * @param[out] payload New reference, caller json_decref. Set only on MCP_OK. */
MCP_NODISCARD mcp_status mcp__rstate_open(const mcp__rstate_keyring *kr,
                                          const mcp__rstate_binding *bnd, const char *token,
                                          size_t len, int64_t now_s, json_t **payload,
                                          mcp_error *err);

#endif
