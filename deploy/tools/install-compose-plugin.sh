#!/usr/bin/env bash
# Install the Docker Compose v2 CLI plugin (`docker compose`) from Debian's own archive, so
# tests/deploy/test_compose.py can run `docker compose config` on deploy/compose.yaml.
#
# Why this way: Debian 12 (bookworm) only packages Compose v1 (1.29, Python); Debian 13
# (trixie) packages Compose v2 (`docker-compose`, a Go binary needing only libc6 >= 2.34,
# which bookworm has). The package is fetched with apt from trixie's index, verified against
# the Debian archive keyring like any apt download, using an apt state of its own in a
# temporary folder: the machine's sources, lists and dpkg database stay untouched. Only the
# plugin binary is copied out of the .deb, to /usr/local/lib/docker/cli-plugins (a folder
# the docker client searches). Nothing is started: validating a compose file needs no engine.
#
# Does nothing when `docker compose` already works or there is no docker client; exits 1
# (with the reason) when it cannot install, so callers can warn and let the tests skip.
set -euo pipefail

PLUGIN_DIR=${COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
SUITE=${COMPOSE_DEBIAN_SUITE:-trixie}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

if ! command -v docker >/dev/null 2>&1; then
  echo "install-compose-plugin: no docker client here; nothing to do"
  exit 0
fi
if docker compose version >/dev/null 2>&1; then
  echo "install-compose-plugin: $(docker compose version)"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || [ ! -f "$KEYRING" ]; then
  echo "install-compose-plugin: needs root, apt-get and $KEYRING" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/deb"
echo "deb [signed-by=$KEYRING] http://deb.debian.org/debian $SUITE main" >"$work/sources.list"
apt_options=(
  -o "Dir::Etc::SourceList=$work/sources.list"
  -o "Dir::Etc::SourceParts=$work/none"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache"
  -o "APT::Sandbox::User=root"
)
apt-get "${apt_options[@]}" -qq update
(cd "$work/deb" && apt-get "${apt_options[@]}" -qq download docker-compose)
deb=$(ls "$work"/deb/docker-compose_2.*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  echo "install-compose-plugin: $SUITE has no Compose v2 package (docker-compose_2.*)" >&2
  exit 1
fi
dpkg-deb -x "$deb" "$work/root"
install -D -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" \
  "$PLUGIN_DIR/docker-compose"
echo "install-compose-plugin: $(docker compose version) from $(basename "$deb")"
