#!/usr/bin/env bash
# The Airflow UI on this machine (README: "The UI on your machine"): the bundled API emulator and
# `airflow standalone` on the embedded default (SQLite metadata DB, LocalExecutor, DuckDB file).
# Ports and home can be moved: UI_PORT (8081), EMULATOR_PORT (8089), AIRFLOW_HOME (./.ui).
set -euo pipefail
cd "$(dirname "$0")/.."
ui_port=${UI_PORT:-8081}
emulator_port=${EMULATOR_PORT:-8089}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$PWD/.ui}
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__PORT=$ui_port
# tasks report to the api-server: on any port but 8080 they must be told which, or every task
# fails with only "Connection refused" in the scheduler's log
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$ui_port/execution/
export AIRFLOW__CORE__TEST_CONNECTION=${AIRFLOW__CORE__TEST_CONNECTION:-Enabled}
export PROVIDERS__ENABLE_AIRFLOW_SECRETS=false RUNTIME__DLTHUB_TELEMETRY=false
export AIRFLOW_CONN_ANALYTICS_API_DEFAULT="{\"conn_type\": \"analytics_api\", \"host\": \"http://127.0.0.1:$emulator_port\", \"password\": \"demo-key\"}"
mkdir -p "$AIRFLOW_HOME"
.venv/bin/python -m analytics_provider.testing.emulator --port "$emulator_port" --api-key demo-key \
  > "$AIRFLOW_HOME/emulator.log" 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true' EXIT
export PATH=$PWD/.venv/bin:$PATH   # `standalone` starts its processes as `airflow` from PATH
airflow db migrate > "$AIRFLOW_HOME/migrate.log"
# the load tasks run in this pool: without it the scheduler never starts them
airflow pools set "${ANALYTICS_POOL:-analytics_api}" 4 "analytics API" > /dev/null
airflow standalone
