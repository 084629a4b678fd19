#!/bin/sh
# A tiny exec credential plugin for tests; its behaviour comes from the environment:
#   PLUGIN_MODE         token (default) | cert | fail | garbage | empty
#   PLUGIN_API_VERSION  the apiVersion it prints (default client.authentication.k8s.io/v1)
#   PLUGIN_COUNTER      a file it appends one line to per run; the token is token-<runs>
#   PLUGIN_INFO         a file it copies KUBERNETES_EXEC_INFO into
#   PLUGIN_EXPIRES      the status.expirationTimestamp it prints
set -eu
runs=1
if [ -n "${PLUGIN_COUNTER:-}" ]; then
  echo run >>"$PLUGIN_COUNTER"
  runs=$(wc -l <"$PLUGIN_COUNTER" | tr -d ' ')
fi
if [ -n "${PLUGIN_INFO:-}" ]; then
  printf '%s' "${KUBERNETES_EXEC_INFO:-}" >"$PLUGIN_INFO"
fi
api=${PLUGIN_API_VERSION:-client.authentication.k8s.io/v1}
expiry=""
if [ -n "${PLUGIN_EXPIRES:-}" ]; then
  expiry=",\"expirationTimestamp\":\"$PLUGIN_EXPIRES\""
fi
case "${PLUGIN_MODE:-token}" in
token)
  printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"token-%s"%s}}\n' "$api" "$runs" "$expiry"
  ;;
cert)
  printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"clientCertificateData":"%s","clientKeyData":"%s"%s}}\n' \
    "$api" "-----BEGIN CERTIFICATE-----\\nZXhlYw==\\n-----END CERTIFICATE-----\\n" \
    "-----BEGIN PRIVATE KEY-----\\nZXhlYw==\\n-----END PRIVATE KEY-----\\n" "$expiry"
  ;;
fail)
  echo "opening the browser for login" >&2
  echo "error: the refresh token has expired" >&2
  echo "run \"vendor login\" and try again" >&2
  exit 3
  ;;
garbage)
  echo "token-secret-123 is not JSON"
  ;;
empty)
  printf '{"apiVersion":"%s","kind":"ExecCredential","status":{}}\n' "$api"
  ;;
esac
