#!/bin/sh
# Runs once, when the PostgreSQL container initialises an empty data directory: gives
# civicflow its own role and database, apart from Temporal's (which the superuser owns).
# The password comes from the environment, never from this file.
set -eu
: "${CIVICFLOW_DB_PASSWORD:?CIVICFLOW_DB_PASSWORD is required}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set=pw="$CIVICFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE civicflow LOGIN PASSWORD :'pw';
CREATE DATABASE civicflow OWNER civicflow;
SQL
