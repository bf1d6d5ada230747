#!/usr/bin/env bash
# Make the payload encryption keys file for deploy/compose.yaml (RUNBOOK "Rotating codec keys"):
# one AES-256 key, `k<year>a:<base64 of 32 random bytes>`, in deploy/secrets/payload-keys (or
# the path given as the first argument). Compose mounts that file into the workers and the codec
# server as /run/secrets/payload_keys; they read it through CIVICFLOW_PAYLOAD_KEYS_FILE.
#
# Never overwrites: a lost key makes every payload written with it unreadable. To rotate, edit
# the file by hand (add the new key, keep the old one) as the RUNBOOK says.
#
# The file must be readable by uid 10001 (the image's user): as root the file is handed to
# 10001 with mode 0400; otherwise it gets mode 0444 inside a folder only you can enter (0700),
# which is what keeps other users of this machine out.
set -euo pipefail

target=${1:-$(dirname "$0")/../secrets/payload-keys}
if [ -e "$target" ]; then
  echo "new-payload-key: $target exists; not overwritten (edit it to rotate)" >&2
  exit 1
fi
folder=$(dirname "$target")
mkdir -p "$folder"
chmod 0700 "$folder"
key_id="k$(date -u +%Y)a"
umask 077
printf '%s:%s\n' "$key_id" "$(head -c 32 /dev/urandom | base64 -w0)" >"$target"
if [ "$(id -u)" = 0 ]; then
  chown 10001:10001 "$target"
  chmod 0400 "$target"
else
  chmod 0444 "$target"
fi
echo "new-payload-key: wrote key $key_id to $target"
