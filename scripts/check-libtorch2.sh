#!/usr/bin/env bash
# Compiles the addon's C++ sources against libtorch 2.x (Debian trixie's libtorch-dev), without installing it: the
# packages are fetched with `apt-get download` into a cache folder and unpacked there, then every source is compiled
# (not linked: trixie's libraries need a newer C library than this machine's) with the same flags as the real build.
# This catches code that only builds on Debian 12's libtorch 1.13 (the build machines of PyTorch 2.x users, CUDA ones
# included, compile the same sources against their libtorch).
#
#   bash scripts/check-libtorch2.sh [CACHE_DIR]     (default: ${XDG_CACHE_HOME:-~/.cache}/bfpo/libtorch2-check)
#
# Needs apt-get and network access to deb.debian.org (Debian's package archive); exits non-zero on any compile error.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/bfpo/libtorch2-check}"
suite="${BFPO_LIBTORCH2_SUITE:-trixie}"
mkdir -p "$cache/lists/partial" "$cache/archives/partial" "$cache/debs"
printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian %s main\n' "$suite" > "$cache/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$cache/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$cache/lists" -o "Dir::Cache=$cache" -o "Dir::Cache::archives=$cache/archives"
  -o APT::Sandbox::User=root -o Debug::NoLocking=1)

root="$cache/root"
if [ ! -f "$root/usr/include/ATen/ATen.h" ]; then
  echo "[libtorch2 check] fetching libtorch-dev from Debian $suite into $cache"
  apt-get "${apt_opts[@]}" -qq update
  version="$(apt-cache "${apt_opts[@]}" show libtorch-dev | sed -n 's/^Version: //p' | head -1)"
  lib="$(apt-cache "${apt_opts[@]}" depends libtorch-dev | sed -n 's/^ *Depends: \(libtorch[0-9][0-9.]*\)$/\1/p' | head -1)"
  if [ -z "$version" ] || [ -z "$lib" ]; then
    echo "[libtorch2 check] Debian $suite lists no libtorch-dev with a libtorchN.M dependency" >&2
    exit 1
  fi
  (cd "$cache/debs" && apt-get "${apt_opts[@]}" -qq download libtorch-dev "$lib")
  rm -rf "$root.tmp" && mkdir -p "$root.tmp"
  for deb in "$cache"/debs/*.deb; do dpkg-deb -x "$deb" "$root.tmp"; done
  rm -rf "$root" && mv "$root.tmp" "$root"
fi
# The unpacked tree keeps Debian's layout (usr/include, usr/lib/<multiarch>); point LIBTORCH at a folder with
# include/ and lib/ as a libtorch archive has them.
view="$cache/libtorch"
mkdir -p "$view"
ln -sfn "$root/usr/include" "$view/include"
ln -sfn "$root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)" "$view/lib"
LIBTORCH="$view" node scripts/build-native.mjs --compile-only
