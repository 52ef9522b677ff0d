#!/usr/bin/env bash
# Debian packages that some tests drive as real peers. Installed only when missing.
# prometheus: the observability end-to-end test scrapes the stack with a real Prometheus, and
# its promtool checks the alert rules shipped with the chart.
# chromium: the browser EventSource in tests/e2e (driven by playwright, never downloaded by it).
set -euo pipefail
packages=(prometheus chromium)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
