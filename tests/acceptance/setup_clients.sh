#!/usr/bin/env bash
# Installs each third-party Close client into its own venv OUTSIDE the repo (they cannot share
# one: tap-closeio and the Airbyte source pin incompatible pendulum/requests versions).
# Idempotent: a venv whose stamp matches its requirement list is left alone, so a warm run
# costs no pip call at all.  Usage: tests/acceptance/setup_clients.sh [name...]
set -euo pipefail

D=${CRMAPI_ACCEPT_DIR:-/tmp/crmapi-accept}
PY=${CRMAPI_ACCEPT_PYTHON:-python3}
mkdir -p "$D"

declare -A REQS=(
  [closeio]="closeio==2.1 python-dateutil"
  [tap]="tap-closeio==1.6.6"
  [airbyte]="airbyte-source-close-com==0.5.30"
  [cli]="agent-tool-close-crm-cli==0.2.1"
)

install_one() {
  local name=$1 reqs=${REQS[$1]} venv="$D/$1"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.crmapi-stamp" 2>/dev/null)" = "$reqs" ]; then
    echo "$name: cached ($reqs)"
    return 0
  fi
  rm -rf "$venv"
  "$PY" -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $reqs
  echo "$reqs" > "$venv/.crmapi-stamp"
  echo "$name: installed ($reqs)"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(closeio tap airbyte cli)
for name in "${names[@]}"; do
  [ -n "${REQS[$name]:-}" ] || { echo "unknown client: $name" >&2; exit 2; }
done
# Install in parallel: each is mostly network and unpacking; the whole cold run stays in CI time.
pids=()
for name in "${names[@]}"; do
  install_one "$name" > "$D/$name.install.log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then
    cat "$D/${names[$i]}.install.log"
  else
    status=1
    echo "${names[$i]}: FAILED to install; log follows" >&2
    cat "$D/${names[$i]}.install.log" >&2
  fi
done
exit $status
