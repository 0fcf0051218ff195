#!/usr/bin/env bash
# Rebuild the bundled example image (examples/debian-app/layout) from examples/debian-app/src with umoci,
# an independent OCI tool. The layout is committed; rerun this only when the sources change, and review the diff.
set -euo pipefail
cd "$(dirname "$0")/../examples/debian-app"
command -v umoci >/dev/null || { echo "needs umoci (apt-get install umoci)" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
rm -rf layout
umoci init --layout layout
umoci new --image layout:latest
for layer in base app; do
  tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner --format=pax \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C "src/$layer" -cf "$tmp/$layer.tar" .
  umoci raw add-layer --image layout:latest --history.created_by "example: add $layer layer" "$tmp/$layer.tar"
done
umoci config --image layout:latest --config.user 1000:1000 --config.cmd node --config.cmd /srv/app/index.js \
  --config.workingdir /srv/app --os linux --architecture amd64 --created 2023-11-14T22:13:20Z \
  --config.label org.opencontainers.image.title=portcullis-example
umoci gc --layout layout
