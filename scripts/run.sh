#!/usr/bin/env bash
# The README's main job: build in Release and run it. Extra arguments go to the command.
# Until `cudann train` exists (training issue), the main job is `cudann demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/Cli -c Release -v quiet -nologo
dotnet src/Cli/bin/Release/net10.0/cudann.dll info
dotnet src/Cli/bin/Release/net10.0/cudann.dll demo "$@"
