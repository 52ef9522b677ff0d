#!/usr/bin/env bash
# Debian packages that some tests drive as real peers. Installed only when missing.
# prometheus: the observability end-to-end test scrapes the stack with a real Prometheus, and
# its promtool checks the alert rules shipped with the chart.
# chromium: browser tests (EventSource, the demo page), driven by Playwright, never downloaded by it.
# nodejs: the browser client module's unit tests (node --test).
set -euo pipefail
packages=(prometheus chromium nodejs)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
