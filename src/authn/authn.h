/*
 * src/authn: the API of the AUTHN items (API keys, JWT bearer, introspection) for other
 * folders: the items plug into the server through <mcp/authn.h> and <mcp/introspect.h>
 * (STYLE.md section 8). Also the one helper the items share (authn.c).
 */
#ifndef MCP_SRC_AUTHN_AUTHN_H
#define MCP_SRC_AUTHN_AUTHN_H

#include <mcp/authn.h>
#include <mcp/introspect.h>
#include <mcp/pipeline.h>

/*
 * Name the presented credential for the failed-authentication limiter
 * (mcp_request_note_credential): "sha256:" and the first 16 hex digits of the SHA-256 of the
 * credential's bytes. The whole credential, not a part an attacker can copy (an API key id, a
 * JWT kid or sub): only someone who holds a credential can make it fail, so nobody can lock
 * another caller's key or a whole identity provider's kid out; a bad or revoked credential
 * replayed from many addresses is refused before any verification once it reached the limit.
 * @return MCP_OK, or MCP_ERR_RATE_LIMITED (err filled, Retry-After set).
 */
mcp_status mcp__authn_note_credential(mcp_request *req, const char *cred, size_t len,
                                      mcp_error *err);
/* The same from the credential's SHA-256 (h: 32 bytes, or NULL: no name). */
mcp_status mcp__authn_note_digest(mcp_request *req, const unsigned char *h, mcp_error *err);
/* For a JWT: the note made from the digest mcp_jwt_verify_ex() computes for its cache (one hash
 * per token, not two). ctx is an mcp__authn_note; limited tells a refusal of the limiter from the
 * verifier's own statuses. */
typedef struct mcp__authn_note {
    mcp_request *req;
    bool         limited;
} mcp__authn_note;
mcp_status mcp__authn_note_jwt_digest(void *ctx, const unsigned char *sha256, mcp_error *err);

#endif
