#!/usr/bin/env bash
# Installs the real attack tools that test/e2e/scanners.test.ts points at the try-it gateway:
# Debian's `sqlmap` and `wfuzz` (with its wordlists under /usr/share/wfuzz/wordlist). Idempotent:
# nothing happens when both are installed; `apt-get update` runs only when the package lists do
# not know them yet. Optional: where they cannot be installed (no apt-get, not root, no package),
# setup goes on and the scanner tests skip, saying why.
set -uo pipefail

packages=(sqlmap wfuzz)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: ${packages[*]} already installed" >&2
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "setup: no apt-get: ${missing[*]} not installed, the scanner tests will skip" >&2
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "setup: not root and no sudo: ${missing[*]} not installed, the scanner tests will skip" >&2
    exit 0
  fi
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
known=1
for package in "${missing[@]}"; do
  apt-cache show "$package" >/dev/null 2>&1 || known=0
done
if [ "$known" -eq 0 ]; then
  echo "setup: apt-get update (package lists lack ${missing[*]})" >&2
  "${sudo[@]}" apt-get update -qq || true
fi
echo "setup: apt-get install ${missing[*]}" >&2
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "setup: installing ${missing[*]} failed: the scanner tests will skip" >&2
fi
exit 0
