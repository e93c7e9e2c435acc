# syntax=docker/dockerfile:1
# Portcullis container image (docs/deploy.md):
#   docker build -t portcullis:0.1.0 .
#   docker run --rm -p 8080:8080 -v "$PWD/deploy/kubernetes/base/config:/etc/portcullis:ro" \
#     -e PORTCULLIS_ADMIN_TOKEN=... -e UPSTREAM_URL=http://host.docker.internal:3000 portcullis:0.1.0
#
# Portcullis runs its TypeScript sources directly on Node 24 (type stripping): there is no build step.
# The base image's Node is the runtime, so the pinned `node` npm package (a devDependency that exists to give
# npm/npx users Node 24 whatever their machine has) is not installed: `npm ci --omit=dev` leaves it out,
# with the compiler, the linter and the browser driver. Keep NODE_VERSION equal to devDependencies.node.
ARG NODE_VERSION=24.21.0

# Stage 1: production dependencies only, from the lockfile, without install scripts (no native addons).
FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /opt/portcullis
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# Stage 2: the runtime. Code owned by root and read-only to the service user; only /var/lib/portcullis
# (SQLite events) is the user's. npm, npx and corepack are removed: nothing installs at run time.
FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production \
    PORTCULLIS_ADMIN_PORT=9090
RUN groupadd --system --gid 10001 portcullis \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/portcullis --no-create-home \
      --shell /usr/sbin/nologin portcullis \
 && mkdir -p /var/lib/portcullis /etc/portcullis \
 && chown 10001:10001 /var/lib/portcullis \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
 && ln -s /opt/portcullis/bin/portcullis.js /usr/local/bin/portcullis
WORKDIR /opt/portcullis
COPY --from=deps /opt/portcullis/node_modules ./node_modules
COPY package.json package-lock.json README.md ./
COPY bin ./bin
COPY schema ./schema
COPY web ./web
COPY src ./src

# The working folder is the writable one (for what commands write to the current folder). A config's
# relative paths are read from the config's own folder, which is read-only: give monitor.events.sqlite.path
# as an absolute path on this volume, as deploy/kubernetes/base/config/portcullis.yaml does.
WORKDIR /var/lib/portcullis
VOLUME ["/var/lib/portcullis"]
USER 10001:10001

# 8080: the gateway (server.listen's default port); 9090: health, readiness, metrics, admin API
# (admin.port's default). The config must bind them on 0.0.0.0 to be reachable from outside the container.
EXPOSE 8080 9090

# Liveness from inside the container, on the loopback address the admin listener always answers to. Node's
# fetch: the slim image has no curl or wget.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORTCULLIS_ADMIN_PORT||9090)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]

# `docker run IMAGE` runs portcullis serve with the mounted config; `docker run IMAGE audit /specs/x.yaml`
# (or any other command) replaces CMD. Node is PID 1 and drains on SIGTERM (server.shutdownTimeoutMs).
ENTRYPOINT ["node", "/opt/portcullis/bin/portcullis.js"]
CMD ["serve", "--config", "/etc/portcullis/portcullis.yaml"]
