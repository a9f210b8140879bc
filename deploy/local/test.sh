#!/usr/bin/env bash
# The whole test suite on a fresh machine, in one command:
#   install (a venv in .venv) -> lint and type checks -> start real Kafka and
#   Elasticsearch -> every test, the contract suites on both adapters -> stop the servers.
# Extra arguments go to pytest (e.g. `bash deploy/local/test.sh -k bus -x`).
# Tests that need a server fail, never skip, because CI=true is set here unless given.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

step() { printf '\n== %s\n' "$*"; }

step "install (.venv, editable, with the dev and transformers extras)"
PY=${STORMWATCH_PYTHON_BIN:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,transformers]'

step "lint: ruff, formatting, mypy --strict, import layers"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports

step "real servers: Kafka and Elasticsearch on 127.0.0.1"
if [[ ${STORMWATCH_KEEP_SERVERS:-0} != 1 ]]; then
  trap 'bash deploy/local/servers.sh stop all || true' EXIT
fi
bash deploy/local/servers.sh start all
eval "$(bash deploy/local/servers.sh env)"

step "tests"
export CI=${CI:-true}
.venv/bin/python -m pytest "$@"
