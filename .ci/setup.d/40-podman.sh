#!/usr/bin/env bash
# Installs Debian's podman and runc for the image test (test/image/image.test.ts builds
# processor/Dockerfile and runs the image; there is no Docker engine on the CI machines). Optional:
# where they cannot be installed, setup goes on and the image test skips, saying why.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/apt-optional.sh"
apt_optional "the image test" podman runc
