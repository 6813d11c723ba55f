# mnist-cnn's HTTP server (`mnist-cnn serve`) in a container.
#
#   podman build --format docker --network host -t mnist-cnn .                   # model mounted at /models
#   podman run -p 3000:3000 -v "$PWD/runs/latest:/models:ro" mnist-cnn
#
#   podman build --format docker --network host --target baked \
#     --build-context model=runs/latest -t mnist-cnn:baked .                      # model baked in
#
# `--format docker`: the OCI image format has no HEALTHCHECK, and podman drops it without it
# (docker build always writes this format). Behind a TLS-inspecting proxy, hand the proxy's CA
# bundle to the npm steps with `--secret id=extra_ca,src=/etc/ssl/certs/ca-certificates.crt`:
# a secret mount is never written into a layer. scripts/container-smoke.sh builds, runs and
# checks all of this. (No `# syntax=` line: it would make BuildKit pull its frontend from a
# registry; the features used here, RUN --mount and --build-context, are built into current
# docker and podman.)
#
# BASE: any image with Node.js 20 (or later) and npm or corepack. No registry can be
# pulled from where this was written, so the default is the local image that
# scripts/container-smoke.sh makes with mmdebstrap from Debian's packages alone: Debian 13
# (trixie) minbase with Debian's own `nodejs` 20 (Debian 12's is 18, too old for this package).
# With a registry, the official image is a drop-in: --build-arg BASE=node:20-bookworm-slim
ARG BASE=localhost/debian-nodejs:trixie

# ---- npm and the lockfile: shared by the two install stages --------------------------------
FROM ${BASE} AS npm
# The official node images carry npm. Debian's nodejs does not, but depends on corepack, which
# fetches a pinned npm from the npm registry in seconds (Debian's own npm package is ~300
# packages and 270 MB, and took 30-60 s here). Only the build stages have npm: the final image is
# built from BASE again and never runs it.
ARG NPM_VERSION=10.9.9
RUN --mount=type=secret,id=extra_ca \
    command -v npm >/dev/null 2>&1 || { \
      if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi; \
      COREPACK_ENABLE_DOWNLOAD_PROMPT=0 corepack install --global "npm@${NPM_VERSION}" \
      && corepack enable npm; }
WORKDIR /app
# The lockfile alone first, so that the dependency layers are reused while only sources change.
# The npm cache is a cache mount, shared by the two install stages and kept between builds.
COPY package.json package-lock.json ./
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# ---- build: all dependencies, then tsc and the page bundle into dist/ ------------------------
FROM npm AS build
# --ignore-scripts: `npm ci` would run `prepare` (the build) before the sources are copied in;
# the build runs explicitly below. No dependency needs its install script (esbuild finds its
# binary through its @esbuild/linux-x64 optional dependency).
RUN --mount=type=secret,id=extra_ca --mount=type=cache,id=mnist-cnn-npm,target=/root/.npm \
    if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi \
 && npm ci --ignore-scripts
COPY tsconfig.json ./
COPY scripts/bundle.mjs scripts/build-page.mjs scripts/build-browser.mjs scripts/
COPY src/ src/
RUN npm run build

# ---- production dependencies only ----------------------------------------------------------
FROM npm AS prod-deps
# sharp's native code comes prebuilt inside its npm packages (@img/sharp-linux-x64 and
# @img/sharp-libvips-linux-x64) and the wasm backend's .wasm files inside
# @tensorflow/tfjs-backend-wasm, so no install script is needed here either (the ones in the
# tree print a banner or fetch optional extras that their package does not bundle). Source maps
# are a quarter of node_modules (224 of 794 MB) and only debuggers and --enable-source-maps read
# them.
RUN --mount=type=secret,id=extra_ca --mount=type=cache,id=mnist-cnn-npm,target=/root/.npm \
    if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi \
 && npm ci --omit=dev --ignore-scripts \
 && find node_modules -type f -name '*.map' -delete

# ---- the server, model mounted at /models -------------------------------------------------
FROM ${BASE} AS runtime
# MALLOC_MMAP_THRESHOLD_: glibc keeps what libvips' decode threads free in per-thread arenas, so
# a burst of large pictures left the server's memory high long after; a fixed mmap threshold
# hands every block of 128 KiB or more back to the system when it is freed (docs/limits.md).
ENV NODE_ENV=production MALLOC_MMAP_THRESHOLD_=131072
# A numeric user, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
# The official node images already have uid 1000 ("node"); a plain Debian base gets one here,
# because os.homedir() and friends expect the user to exist.
RUN getent passwd 1000 >/dev/null \
 || useradd --uid 1000 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mnist \
 && mkdir -p /models
WORKDIR /app
# Owned by root and read-only to the server's user: the server writes nothing, and a
# compromised process cannot change the code it runs.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin/ ./bin/
USER 1000:1000
EXPOSE 3000
# Liveness only: the server listens at once, and /healthz answers while it lives (/readyz says
# 503 until the model is loaded and warmed). Readiness (/readyz) is the orchestrator's business (deploy/kubernetes/).
# No curl in the image: Node's own fetch does the request.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/healthz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The CLI binds 127.0.0.1 unless told; inside the container it must take connections from
# outside its network namespace, hence --host 0.0.0.0 here and only here. Node runs as PID 1: the
# server handles SIGTERM itself (stops accepting, finishes in-flight requests, exits 0) and
# waits for its own cluster workers, so no init process is needed.
# Arguments after the image name replace CMD: another run folder, or more flags (`/models
# --workers 2`). The port stays 3000: the HEALTHCHECK and deploy/kubernetes/ use it.
ENTRYPOINT ["node", "/app/bin/mnist-cnn.js", "serve", "--host", "0.0.0.0", "--port", "3000"]
CMD ["/models"]

# ---- the server with a model baked in ------------------------------------------------------
# The run folder comes in as the named build context "model" (--build-context model=RUN_DIR),
# so runs/ never has to be part of the main context. Only the files that serving reads.
FROM runtime AS baked
COPY --from=model model.json weights.bin metadata.json /models/

# ---- the default target: the model mounted at /models ----------------------------------------
# Last, so that a plain `build` makes it; `--target baked` for the other.
FROM runtime
