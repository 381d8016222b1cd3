#!/bin/sh
# The image's entrypoint: secrets mounted as files (docker compose `secrets:`, Kubernetes secret volumes) become
# environment variables named after the file (/run/secrets/CITYLINE_STAFF_TOKEN -> $CITYLINE_STAFF_TOKEN), since
# the services read their settings from the environment. A variable already set wins. Then the command runs.
set -eu
if [ -d /run/secrets ]; then
  for secret in /run/secrets/*; do
    [ -f "$secret" ] || continue
    name=$(basename "$secret")
    case "$name" in
      *[!A-Za-z0-9_]* | [0-9]*) continue ;;  # not a variable name
    esac
    if eval "[ -z \"\${$name+set}\" ]"; then
      value=$(cat "$secret")
      export "$name=$value"
    fi
  done
fi
exec "$@"
