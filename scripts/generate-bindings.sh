#!/usr/bin/env bash
# Regenerates the checked-in bindings (src/Kernels/Cuda/Generated/*.g.cs) from the headers, or with --check only
# compares them. CUDA 11.8 headers come from scripts/fetch-cuda-headers.sh (downloaded on first use) unless
# CUDANN_CUDA_INCLUDE names a folder; cuDNN's spec runs where CUDANN_CUDNN_INCLUDE or a pip wheel provides cudnn.h.
#   scripts/generate-bindings.sh [--check] [SPEC.json...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CUDANN_CUDA_INCLUDE:-}" ]; then
  CUDANN_CUDA_INCLUDE=$(scripts/fetch-cuda-headers.sh)
  export CUDANN_CUDA_INCLUDE
fi
dotnet build tools/BindingGen -c Release -v quiet -nologo >/dev/null
dotnet tools/BindingGen/bin/Release/net10.0/bindgen.dll "$@"
