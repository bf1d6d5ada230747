#!/bin/sh
# Registers the civicflow namespace and the search attributes the Procedure workflow keeps
# current (workflows/visibility.py). Idempotent: an existing namespace or attribute is left
# alone. The same commands are in deploy/RUNBOOK.md for clusters that compose did not build.
set -eu

address="${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS (host:port of the frontend) is required}"
namespace="${CIVICFLOW_TEMPORAL_NAMESPACE:-default}"
retention="${NAMESPACE_RETENTION:-30d}"

# retry WHAT COMMAND...: run COMMAND until it succeeds, up to 60 times 2 s apart.
retry() {
  what="$1"
  shift
  attempt=0
  until "$@"; do
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 60 ]; then
      echo "gave up waiting for $what" >&2
      exit 1
    fi
    sleep 2
  done
}

retry "Temporal at $address to become healthy" \
  temporal operator cluster health --address "$address"

if ! temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
  temporal operator namespace create --address "$address" --namespace "$namespace" \
    --retention "$retention" --description "civicflow procedures"
fi

# A new namespace reaches every frontend's cache a few seconds after it is registered.
retry "namespace $namespace to become usable" \
  temporal operator search-attribute list --address "$address" --namespace "$namespace" \
  --output json >/dev/null 2>&1
existing="$(temporal operator search-attribute list --address "$address" --namespace "$namespace")"
create() {
  # $1: type, then names; creates only those that are missing.
  type="$1"
  shift
  for name in "$@"; do
    if printf '%s\n' "$existing" | grep -qw "$name"; then
      echo "search attribute $name exists"
    else
      temporal operator search-attribute create --address "$address" \
        --namespace "$namespace" --name "$name" --type "$type"
    fi
  done
}
create Keyword ProcedureKind Municipality Phase ProcedureState
create Datetime NextDeadline
echo "namespace $namespace is ready for civicflow"
