#!/usr/bin/env bash
# The README's main job: install Fashion-MNIST if it is missing (Debian's dataset-fashion-mnist), build in
# Release, and train + evaluate the default model. Extra arguments go to `cudann train` (see `cudann --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [ ! -d /usr/share/datasets/fashion-mnist ] && [[ " $* " != *" --data "* ]]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq dataset-fashion-mnist
fi
dotnet build src/Cli -c Release -v quiet -nologo
dotnet src/Cli/bin/Release/net10.0/cudann.dll info
dotnet src/Cli/bin/Release/net10.0/cudann.dll train "$@"
