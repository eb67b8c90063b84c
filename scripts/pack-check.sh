#!/usr/bin/env bash
# Packs bfpo as `npm pack` does for a release, installs the tarball into an empty folder without network (npm's
# cache supplies the dependencies, pinned by a lockfile made from bfpo's; the addon is compiled there from the
# packed sources), then runs
# `npx bfpo --version` and `npx bfpo demo --tiny` from that folder. Also checks what the package carries.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { echo "[pack-check] $*" >&2; }
fail() { echo "[pack-check] FAILED: $*" >&2; exit 1; }

say "npm pack"
tgz="$work/$(npm pack --silent --pack-destination "$work" | tail -n 1)"
[ -f "$tgz" ] || fail "npm pack wrote no tarball"
tar -tzf "$tgz" > "$work/files"
say "$(wc -l < "$work/files") files, $(du -k "$tgz" | cut -f1) KiB packed"
if grep -q '^package/test/' "$work/files"; then fail "the package carries test files: $(grep '^package/test/' "$work/files" | head -3)"; fi
fonts=$(grep -c '\.ttf$' "$work/files" || true)
[ "$fonts" = "1" ] || fail "the package carries $fonts font files, expected exactly one"
for f in package/dist/cli/main.js package/bin/bfpo.js package/scripts/build-native.mjs package/native/core.cc package/assets/fonts/DejaVuSans.ttf; do
  grep -qx "$f" "$work/files" || fail "the package lacks $f"
done

say "npm install into an empty folder (offline; compiles the addon)"
mkdir "$work/app"
cd "$work/app"
cp "$tgz" .
node "$root/scripts/pack-check-lock.mjs" "$tgz" .
npm ci --offline --no-audit --no-fund --loglevel=error >&2 || fail "npm ci of the packed tarball failed"
[ -f node_modules/bfpo/build/Release/bfpo.node ] || fail "the install did not build the native addon"

version=$(npx --offline bfpo --version)
expected=$(node -p "require('$root/package.json').version")
[ "$version" = "$expected" ] || fail "npx bfpo --version printed '$version', expected '$expected'"
say "npx bfpo --version: $version"

say "npx bfpo demo --tiny"
npx --offline bfpo demo --tiny --out "$work/demo" >&2 || fail "npx bfpo demo --tiny failed"
ls "$work/demo" >&2
say "ok"
