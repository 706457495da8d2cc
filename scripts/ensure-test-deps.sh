#!/usr/bin/env bash
# Makes sure the system packages the tests drive are on this machine, and installs
# the missing ones with apt-get when it can: Debian's chromium (the browser tests)
# and redis-server (tests of the Redis store start their own on a free port).
# Used by `npm test` (pretest) and by .ci/run, so both set a fresh machine up the same way.
# Silent when everything is there; progress goes to stderr.
#
#   GATEHOUSE_DEPS_CHECK_ONLY=1  report what is missing, install nothing (exit 1 if anything is)
#   GATEHOUSE_DEPS_CHROMIUM=PATH / GATEHOUSE_DEPS_REDIS=NAME  what to look for (tests of this script)
set -uo pipefail

chromium=${GATEHOUSE_DEPS_CHROMIUM:-/usr/bin/chromium}
redis=${GATEHOUSE_DEPS_REDIS:-redis-server}

missing_now() {
  local missing=()
  [ -x "$chromium" ] || missing+=(chromium)
  command -v "$redis" >/dev/null 2>&1 || missing+=(redis-server)
  echo "${missing[*]}"
}

read -r -a missing <<<"$(missing_now)"
[ ${#missing[@]} -eq 0 ] && exit 0

say() { echo "ensure-test-deps: $*" >&2; }

if [ "${GATEHOUSE_DEPS_CHECK_ONLY:-}" = "1" ]; then
  say "missing: ${missing[*]} (install with: apt-get install ${missing[*]})"
  exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    say "the tests need ${missing[*]}: run as root, or install them yourself: sudo apt-get install ${missing[*]}"
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "the tests need ${missing[*]} and this machine has no apt-get: install them with your package manager (Chromium at $chromium)"
  exit 1
fi

# Through env, not a variable assignment before the command: sudo resets the environment.
privileged() { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive "$@"; }

say "installing ${missing[*]} with apt-get (about a minute)…"
if ! privileged apt-get update -q >/dev/null; then
  say "apt-get update failed: install ${missing[*]} yourself, then run the tests again"
  exit 1
fi
if ! privileged apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
  say "apt-get install ${missing[*]} failed: install them yourself, then run the tests again"
  exit 1
fi
# A package can install without giving what the tests look for (another distribution's layout).
read -r -a still <<<"$(missing_now)"
if [ ${#still[@]} -gt 0 ]; then
  say "apt-get installed ${missing[*]}, yet ${still[*]} is still not there (Chromium is expected at $chromium): install it yourself, then run the tests again"
  exit 1
fi
say "installed ${missing[*]}"
