#!/usr/bin/env bash
# Writes Fashion-MNIST as a class-per-folder photo tree (train/ and test/, RGB, half PNG and half JPEG, 64 px), the
# shape of a user's own data set, for trying and testing the photo workflow:
#   scripts/make_fashion_tree.sh OUT_DIR [TRAIN_IMAGES=3000] [TEST_IMAGES=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/make_fashion_tree.sh OUT_DIR [TRAIN_IMAGES] [TEST_IMAGES]}
dotnet build src/Cli -c Release -v q -nologo >/dev/null
dotnet src/Cli/bin/Release/net10.0/cudann.dll images --out "$out" --size 64 --train-limit "${2:-3000}" --test-limit "${3:-1000}"
