#!/usr/bin/env bash
# Client-library tests: simple-salesforce, pysnow, slack_sdk against `seam sandbox --tls`.
# Usage: sandbox/clients/run.sh [path/to/seam]   (CI: after `cargo build`)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seam="${1:-$root/target/debug/seam}"
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore simple-salesforce pysnow slack_sdk requests
tmp="$(mktemp -d)"
# Ephemeral ports (never a fixed one): the sandbox prints where each emulator listens.
"$seam" sandbox --tls --cert-out "$tmp/cert.pem" --schema "$here/schema.json" \
  --sf-port 0 --snow-port 0 --slack-port 0 >"$tmp/sandbox.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/cert.pem" ] && grep -q running "$tmp/sandbox.log" && break; sleep 0.1; done
url_of() { sed -n "s|^$1 *\(https://127\.0\.0\.1:[0-9]*\).*|\1|p" "$tmp/sandbox.log" | head -n 1; }
sf="$(url_of Salesforce)"; sn="$(url_of ServiceNow)"; slack="$(url_of Slack)"
if [ -z "$sf" ] || [ -z "$sn" ] || [ -z "$slack" ]; then
  echo "the sandbox did not start:" >&2; cat "$tmp/sandbox.log" >&2; exit 1
fi
REQUESTS_CA_BUNDLE="$tmp/cert.pem" SANDBOX_CERT="$tmp/cert.pem" SANDBOX_SF="$sf" \
SANDBOX_SN="$sn" SANDBOX_SLACK="$slack" \
  python3 "$here/test_clients.py"
