#!/usr/bin/env bash
# Install the real components the tests use (Debian packages, Python oracles) and build the cached
# fixtures that are slow to make (a debootstrap'ed bookworm rootfs). Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${PORTCULLIS_CACHE:-$PWD/.cache}
mkdir -p "$CACHE"

PKGS=(docker-registry skopeo umoci debootstrap apache2-utils rpm buildah zstd openssl python3-venv)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Independent validators used as oracles (SPDX 2.3 JSON); a venv keeps them off the system Python.
if [ ! -x "$CACHE/venv/bin/pyspdxtools" ]; then
  echo "setup: installing spdx-tools into $CACHE/venv"
  python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install -q 'spdx-tools==0.8.5'
fi

# A real Debian bookworm rootfs (about 30 s, cached): the dpkg oracle and the benchmark image.
ROOTFS="$CACHE/rootfs/bookworm"
if [ ! -f "$ROOTFS/.complete" ]; then
  echo "setup: debootstrap bookworm minbase into $ROOTFS"
  rm -rf "$ROOTFS"
  mkdir -p "$ROOTFS"
  debootstrap --variant=minbase bookworm "$ROOTFS" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log"; exit 1; }
  touch "$ROOTFS/.complete"
fi
echo "setup: ok"
