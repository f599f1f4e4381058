#!/usr/bin/env bash
# Installs the real attack tools that test/e2e/scanners.test.ts points at the try-it gateway:
# Debian's `sqlmap` and `wfuzz` (with its wordlists under /usr/share/wfuzz/wordlist). Idempotent:
# nothing happens when both are installed; `apt-get update` runs only when the package lists do
# not know them yet. The scanner test fails (it does not skip) when they are missing.
set -euo pipefail

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

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
known=1
for package in "${missing[@]}"; do
  apt-cache show "$package" >/dev/null 2>&1 || known=0
done
if [ "$known" -eq 0 ]; then
  echo "setup: apt-get update (package lists lack ${missing[*]})" >&2
  "${sudo[@]}" apt-get update -qq
fi
echo "setup: apt-get install ${missing[*]}" >&2
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
