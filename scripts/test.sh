#!/usr/bin/env bash
# Runs the whole test suite in Release (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet test --project tests/Cuda.Nn.Tests -c Release "$@"
