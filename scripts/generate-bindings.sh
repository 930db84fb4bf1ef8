#!/usr/bin/env bash
# Regenerates the checked-in bindings (src/Kernels/Cuda/Generated/*.g.cs) from the headers, or with --check only
# compares them. CUDA 11.8 headers come from scripts/fetch-cuda-headers.sh (downloaded on first use) unless
# CUDANN_CUDA_INCLUDE names a folder; cuDNN's spec runs where CUDANN_CUDNN_INCLUDE or a pip wheel provides cudnn.h.
#   scripts/generate-bindings.sh [--check] [SPEC.json...]   (no SPEC: every tools/BindingGen/specs/*.json and the test fixture)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CUDANN_CUDA_INCLUDE:-}" ]; then
  CUDANN_CUDA_INCLUDE=$(scripts/fetch-cuda-headers.sh)
  export CUDANN_CUDA_INCLUDE
fi
dotnet build tools/BindingGen -c Release -v quiet -nologo >/dev/null
bindgen=tools/BindingGen/bin/Release/net10.0/bindgen.dll
dotnet "$bindgen" "$@"
# Without spec arguments, also the generator's own test fixture (its header lives in the tests, not in a spec set).
if ! printf '%s\n' "$@" | grep -q '\.json$'; then
  opts=()
  for a in "$@"; do [ "$a" = --check ] && opts+=(--check); done
  dotnet "$bindgen" "${opts[@]}" tests/Cuda.Nn.Tests/Bindings/fixture/fixture.json
fi
