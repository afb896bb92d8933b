/*
 * Address classes for the SSRF rule (mcp__net_req.addr_rule): which IP addresses a URL that a
 * peer told us about may make us connect to. The check runs on the address libcurl is about to
 * connect to (fetch.c's open-socket callback), so a DNS name that resolves to an internal
 * address, a CURLOPT_RESOLVE mapping and a redirect target are all judged the same way as an
 * address literal in the URL.
 *
 * Internal, for this rule: loopback (127.0.0.0/8, ::1), unspecified / "this network"
 * (0.0.0.0/8, ::), private (RFC 1918, RFC 6598 shared 100.64.0.0/10, fc00::/7 unique local,
 * the deprecated fec0::/10 site-local, the NAT64 local-use 64:ff9b:1::/48), link-local
 * (169.254.0.0/16, fe80::/10), and reserved (192.0.0.0/24 IETF protocol assignments,
 * 198.18.0.0/15 benchmarking, 224.0.0.0/4 multicast, 240.0.0.0/4 incl. the broadcast address,
 * ff00::/8 multicast). IPv6 addresses that carry an IPv4 address (v4-mapped ::ffff:0:0/96, the
 * deprecated v4-compatible ::/96, NAT64 64:ff9b::/96) are judged by that IPv4 address.
 */
#include "net/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static mcp__net_addr_class
v4_class(const unsigned char a[4])
{
    if (a[0] == 127)
        return MCP__NET_ADDR_LOOPBACK;
    if (a[0] == 0)
        return MCP__NET_ADDR_UNSPECIFIED;
    if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
        (a[0] == 100 && (a[1] & 0xc0) == 64))
        return MCP__NET_ADDR_PRIVATE;
    if (a[0] == 169 && a[1] == 254)
        return MCP__NET_ADDR_LINK_LOCAL;
    if ((a[0] == 192 && a[1] == 0 && a[2] == 0) || (a[0] == 198 && (a[1] & 0xfe) == 18) ||
        a[0] >= 224)
        return MCP__NET_ADDR_RESERVED;
    return MCP__NET_ADDR_PUBLIC;
}

static bool
all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static mcp__net_addr_class
v6_class(const unsigned char a[16])
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
    if (all_zero(a, 15) && a[15] == 1)
        return MCP__NET_ADDR_LOOPBACK;
    if (all_zero(a, 16))
        return MCP__NET_ADDR_UNSPECIFIED;
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0 || all_zero(a, 12))
        return v4_class(a + 12);
    if (a[0] == 0 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 && a[5] == 1)
        return MCP__NET_ADDR_PRIVATE;                      /* 64:ff9b:1::/48, RFC 8215 */
    if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0))
        return MCP__NET_ADDR_PRIVATE;                      /* fc00::/7, fec0::/10 */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return MCP__NET_ADDR_LINK_LOCAL;                   /* fe80::/10 */
    if (a[0] == 0xff)
        return MCP__NET_ADDR_RESERVED;                     /* multicast */
    return MCP__NET_ADDR_PUBLIC;
}

mcp__net_addr_class
mcp__net_sockaddr_class(const struct sockaddr *sa, size_t len)
{
    if (sa == NULL)
        return MCP__NET_ADDR_INVALID;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        return v4_class((const unsigned char *)&s4->sin_addr);
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        return v6_class((const unsigned char *)&s6->sin6_addr);
    }
    return MCP__NET_ADDR_INVALID;      /* AF_UNIX and the like: never for a learned URL */
}

mcp__net_addr_class
mcp__net_ip_class(const char *ip)
{
    unsigned char b[16];
    if (ip == NULL)
        return MCP__NET_ADDR_INVALID;
    if (inet_pton(AF_INET, ip, b) == 1)
        return v4_class(b);
    size_t n = strlen(ip);
    char tmp[64];
    if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']' && n - 2 < sizeof tmp) {
        memcpy(tmp, ip + 1, n - 2);
        tmp[n - 2] = '\0';
        ip = tmp;
    }
    if (inet_pton(AF_INET6, ip, b) == 1)
        return v6_class(b);
    return MCP__NET_ADDR_INVALID;
}

const char *
mcp__net_addr_class_name(mcp__net_addr_class c)
{
    switch (c) {
    case MCP__NET_ADDR_PUBLIC: return "public";
    case MCP__NET_ADDR_LOOPBACK: return "loopback";
    case MCP__NET_ADDR_PRIVATE: return "private";
    case MCP__NET_ADDR_LINK_LOCAL: return "link-local";
    case MCP__NET_ADDR_UNSPECIFIED: return "unspecified";
    case MCP__NET_ADDR_RESERVED: return "reserved";
    case MCP__NET_ADDR_INVALID: break;
    }
    return "non-IP";
}
