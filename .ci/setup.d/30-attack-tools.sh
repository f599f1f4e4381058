#!/usr/bin/env bash
# Installs the real attack tools that test/e2e/scanners.test.ts points at the try-it gateway:
# Debian's `sqlmap` and `wfuzz` (with its wordlists under /usr/share/wfuzz/wordlist). Optional:
# where they cannot be installed, setup goes on and the scanner tests skip, saying why.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/apt-optional.sh"
apt_optional "the scanner tests" sqlmap wfuzz
