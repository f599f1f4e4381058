#!/usr/bin/env bash
# Sourced by the optional setup steps (.ci/setup.d/30-attack-tools.sh, 40-podman.sh):
# `apt_optional WHO PACKAGE...` installs the Debian packages that are missing, or says why it could
# not and returns 0 anyway, so that setup goes on and WHO (the tests that need them) skips, saying
# why. Idempotent: nothing happens when every package is installed; `apt-get update` runs only
# when the package lists do not know one of them yet.
apt_optional() {
  local who=$1
  shift
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: $* already installed" >&2
    return 0
  fi
  if ! command -v apt-get >/dev/null; then
    echo "setup: no apt-get: ${missing[*]} not installed, $who will skip" >&2
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "setup: not root and no sudo: ${missing[*]} not installed, $who will skip" >&2
      return 0
    fi
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  local known=1
  for package in "${missing[@]}"; do
    apt-cache show "$package" >/dev/null 2>&1 || known=0
  done
  if [ "$known" -eq 0 ]; then
    echo "setup: apt-get update (package lists lack ${missing[*]})" >&2
    "${sudo[@]}" apt-get update -qq || true
  fi
  echo "setup: apt-get install ${missing[*]}" >&2
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "setup: installing ${missing[*]} failed: $who will skip" >&2
  fi
  return 0
}
