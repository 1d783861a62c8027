# syntax=docker/dockerfile:1
# Loyalty points engine: build with dev dependencies, prune to production ones, run on a slim base.

# ---- build: native deps from source, TypeScript to dist/ ----
FROM node:20-bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
# librdkafka is compiled against the system's libraries (CKJS_LINKING=dynamic) rather than its bundled copies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 make g++ \
      zlib1g-dev libssl-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Compile @confluentinc/kafka-javascript rather than fetch its prebuilt, statically linked binary;
# node-gyp uses the image's own Node headers, so nothing else is downloaded.
ENV CKJS_LINKING=dynamic \
    npm_config_build_from_source=@confluentinc/kafka-javascript \
    npm_config_nodedir=/usr/local

# Dependencies first, so source edits reuse this (slow, native) layer. The postinstall patches the Kafka
# client's source and recompiles it (tools/kafka-binding.mjs).
COPY package.json package-lock.json ./
COPY patches/ ./patches/
COPY tools/kafka-binding.mjs ./tools/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY src/ ./src/
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- tools: the simulator for `docker compose --profile load`; kept out of the engine's image ----
FROM build AS tools
COPY tools/ ./tools/
USER node
ENTRYPOINT ["node_modules/.bin/tsx", "tools/simulator/cli.ts"]

# ---- runtime (the default target: the last stage) ----
FROM node:20-bookworm-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# Shared libraries the dynamically linked librdkafka loads at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates zlib1g libssl3 libzstd1 liblz4-1 libsasl2-2 libcurl4 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    RULES_FILE=/app/config/rules.yaml

# package.json is needed at run time: its "type": "module" makes dist/*.js ES modules.
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
# The console's static files are served from the sources (tsc copies no HTML, CSS or browser JS).
COPY --from=build --chown=root:root /app/src/console ./src/console
COPY --chown=root:root config/ ./config/
COPY --chown=root:root sql/ ./sql/

# Code and config stay root-owned and read-only to the process; it writes nothing to disk.
USER node

EXPOSE 8080
# No curl in the slim image: Node's fetch does the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.HTTP_PORT||8080}/healthz`,{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

CMD ["node", "--enable-source-maps", "dist/src/main.js"]
