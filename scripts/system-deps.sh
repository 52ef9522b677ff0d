#!/usr/bin/env bash
# Debian packages that some tests drive as real peers. Installed only when missing.
# (None are needed yet; later issues add Chromium and Prometheus here.)
set -euo pipefail
packages=()
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
