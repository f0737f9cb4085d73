#!/usr/bin/env bash
# Client-library tests: simple-salesforce, pysnow, slack_sdk against `seam sandbox --tls`.
# Usage: sandbox/clients/run.sh [path/to/seam]   (CI: after `cargo build`)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seam="${1:-$root/target/debug/seam}"
python3 -m pip install -q simple-salesforce pysnow slack_sdk requests >/dev/null 2>&1 || true
tmp="$(mktemp -d)"
ports=(18701 18702 18703)
"$seam" sandbox --tls --cert-out "$tmp/cert.pem" --schema "$here/schema.json" \
  --sf-port "${ports[0]}" --snow-port "${ports[1]}" --slack-port "${ports[2]}" >"$tmp/sandbox.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -s "$tmp/cert.pem" ] && grep -q running "$tmp/sandbox.log" && break; sleep 0.1; done
REQUESTS_CA_BUNDLE="$tmp/cert.pem" SANDBOX_CERT="$tmp/cert.pem" SANDBOX_SF="https://127.0.0.1:${ports[0]}" \
SANDBOX_SN="https://127.0.0.1:${ports[1]}" SANDBOX_SLACK="https://127.0.0.1:${ports[2]}" \
  python3 "$here/test_clients.py"
