#!/bin/sh
# Writes a random value into each secret file of docker-compose.yml that does not exist yet (deploy/compose/secrets/,
# ignored by git). Put real values there instead where they come from elsewhere (an SMS provider's token).
set -eu
cd "$(dirname "$0")/secrets"
umask 077
random() { python3 -c 'import secrets; print(secrets.token_urlsafe(32), end="")'; }
for name in CITYLINE_STAFF_TOKEN CITYLINE_CONSOLE_SESSION_SECRET CITYLINE_DISPATCHER_OPERATOR_TOKEN \
            CITYLINE_NOTIFIER_SMS_GATEWAY_TOKEN; do
  [ -s "$name" ] || { random > "$name"; echo "wrote $name"; }
done
# The app channels' webhook signing secrets, one per channel, as JSON.
[ -s CITYLINE_NOTIFIER_WEBHOOK_SECRETS ] || {
  printf '{"mobile": "%s", "superapp": "%s"}' "$(random)" "$(random)" > CITYLINE_NOTIFIER_WEBHOOK_SECRETS
  echo "wrote CITYLINE_NOTIFIER_WEBHOOK_SECRETS"
}
