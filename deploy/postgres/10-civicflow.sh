#!/bin/sh
# Runs once, when the PostgreSQL container initialises an empty data directory: gives
# civicflow its own role and database, apart from Temporal's (which the superuser owns).
# The password comes from the environment, never from this file; psql quotes it (:'pw')
# and the names (:"name"), so no value is pasted into SQL text.
set -eu
: "${CIVICFLOW_DB_PASSWORD:?CIVICFLOW_DB_PASSWORD is required}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set=pw="$CIVICFLOW_DB_PASSWORD" \
  --set=role="${CIVICFLOW_DB_USER:-civicflow}" \
  --set=db="${CIVICFLOW_DB_NAME:-civicflow}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"role";
SQL
