#!/usr/bin/env bash
# Downloads Debian 12's nvidia-cuda-dev (CUDA 11.8, non-free) without installing it, unpacks only its
# /usr/include into a cache folder, and prints that folder: the headers tools/BindingGen reads and the
# drift test (GeneratedBindingsTests) regenerates from. Safe to rerun: a complete unpack is reused.
#   scripts/fetch-cuda-headers.sh          # prints e.g. /root/.cache/cudann/headers/nvidia-cuda-dev_11.8.89~11.8.0-5~deb12u1/include
#   CUDANN_HEADER_CACHE=/some/dir scripts/fetch-cuda-headers.sh
# The .deb is about 740 MiB; set CUDANN_KEEP_DEB=1 to keep it after unpacking (it is deleted by default).
# apt-get download needs the non-free component in the apt sources (.ci/run adds it the same way).
set -euo pipefail

package=nvidia-cuda-dev
version=11.8.89~11.8.0-5~deb12u1   # pinned: the checked-in bindings were generated from this version
cache=${CUDANN_HEADER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cudann/headers}
dest="$cache/${package}_${version}"
stamp="$dest/.complete"

if [ -f "$stamp" ]; then
  echo "$dest/include"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "fetch-cuda-headers: needs apt-get and dpkg-deb (Debian 12); or point CUDANN_CUDA_INCLUDE at a folder holding cuda.h" >&2
  exit 1
fi
if ! apt-cache show "$package=$version" >/dev/null 2>&1; then
  echo "fetch-cuda-headers: apt knows no $package $version; add Debian's non-free component to the apt sources" \
       "(see .ci/run) and run apt-get update" >&2
  exit 1
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt-get download writes into the current folder; as root it would drop to the _apt user, who cannot reach ~/.cache.
(cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$package=$version" >&2)
deb=$(ls "$work"/*.deb)
echo "fetch-cuda-headers: $(basename "$deb") $(du -h "$deb" | cut -f1), sha256 $(sha256sum "$deb" | cut -c1-64)" >&2
mkdir -p "$work/root"
# Only the headers: the libraries inside are most of the 2.8 GB an install would take.
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" --wildcards './usr/include/*'
rm -rf "$dest"
mkdir -p "$dest"
mv "$work/root/usr/include" "$dest/include"
if [ "${CUDANN_KEEP_DEB:-0}" = 1 ]; then mv "$deb" "$dest/"; fi
touch "$stamp"
echo "fetch-cuda-headers: unpacked $(du -sh "$dest/include" | cut -f1) of headers" >&2
echo "$dest/include"
