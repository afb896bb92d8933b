# Container image of the example server mcp-products (docs/cli/mcp-products.md), on Debian 12.
#   docker build -t mcp-products .
#   docker run -p 8080:8080 -v mcp-data:/data mcp-products
# The first start creates the store in /data and prints an admin API key once (docker logs).
# tests/integration/dockerfile.sh checks this file against the tree and runs its entry point
# and command outside a container (no image is built by the tests).

# --- build: the same steps as on a Debian 12 machine (scripts/deps.sh, cmake) ---------------
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN MCP_DEPS_TEST=0 scripts/deps.sh \
 && cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DMCP_BUILD_TESTS=OFF \
          -DCMAKE_INSTALL_PREFIX=/usr \
 && cmake --build /build -j"$(nproc)" \
 && DESTDIR=/out cmake --install /build

# --- run: the programs and the shared libraries they need, nothing else ---------------------
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libgnutls30 libjansson4 libssl3 libcurl4 libsqlite3-0 libpq5 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /data --shell /usr/sbin/nologin mcp \
 && mkdir -p /data && chown mcp /data
COPY --from=build /out/usr/bin/ /usr/bin/
COPY examples/docker/entrypoint.sh /usr/local/bin/mcp-products-entrypoint
COPY examples/mcp-products/policy.json /etc/mcp-products/policy.json
USER mcp
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/mcp-products-entrypoint"]
CMD ["--listen", "0.0.0.0:8080", "--resource-url", "http://localhost:8080/mcp", "--auth", "apikey", "--db", "/data/mcp.db", "--catalog", "/data/products.db", "--seed", "--policy", "/etc/mcp-products/policy.json"]
