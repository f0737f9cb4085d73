#!/usr/bin/env bash
# Load benchmark of the sandbox: simple reads and writes per system with wrk
# (apt-get install wrk). Loopback only, bounded in time.
# Usage: sandbox/bench/run.sh [path/to/seam] [seconds]   (build with --release first)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seam="${1:-$root/target/release/seam}"
secs="${2:-5}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
tmp="$(mktemp -d)"
"$seam" sandbox --sf-port 28701 --snow-port 28702 --slack-port 28703 --sf-api-limit 1000000000 >"$tmp/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 1
SF=http://127.0.0.1:28701; SN=http://127.0.0.1:28702; SL=http://127.0.0.1:28703
tok=$(curl -s -X POST "$SF/services/oauth2/token" -d "grant_type=client_credentials&client_id=seam-sandbox-client-id&client_secret=seam-sandbox-client-secret" | python3 -c "import json,sys;print(json.load(sys.stdin)['access_token'])")
id=$(curl -s -X POST "$SF/services/data/v62.0/sobjects/Case/" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' -d '{"Subject":"bench"}' | python3 -c "import json,sys;print(json.load(sys.stdin)['id'])")
sys_id=$(curl -s -u admin:sandbox-password -X POST "$SN/api/now/table/incident" -d '{"short_description":"bench"}' | python3 -c "import json,sys;print(json.load(sys.stdin)['result']['sys_id'])")
basic=$(printf 'admin:sandbox-password' | base64)
cat >"$tmp/post.lua" <<'LUA'
wrk.method = os.getenv("M") or "POST"
wrk.body = os.getenv("B")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("A")
LUA
run() { # name, url, method, body, auth
  local out
  out=$(M="$3" B="$4" A="$5" wrk -t2 -c32 -d"${secs}s" -s "$tmp/post.lua" "$2" 2>&1)
  printf '%-34s %12s req/s  (non-2xx: %s)\n' "$1" "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" "$(echo "$out" | awk '/Non-2xx/ {print $4}' | grep . || echo 0)"
}
echo "wrk -t2 -c32 -d${secs}s on $(nproc) cores (wrk shares the cores with the sandbox)"
run "salesforce read  GET sobject"   "$SF/services/data/v62.0/sobjects/Case/$id" GET "" "Bearer $tok"
run "salesforce write PATCH sobject" "$SF/services/data/v62.0/sobjects/Case/$id" PATCH '{"Subject":"bench update"}' "Bearer $tok"
run "salesforce write POST sobject"  "$SF/services/data/v62.0/sobjects/Case/" POST '{"Subject":"bench create"}' "Bearer $tok"
run "servicenow read  GET record"    "$SN/api/now/table/incident/$sys_id" GET "" "Basic $basic"
run "servicenow write PATCH record"  "$SN/api/now/table/incident/$sys_id" PATCH '{"short_description":"bench update"}' "Basic $basic"
run "servicenow write POST record"   "$SN/api/now/table/incident" POST '{"short_description":"bench create"}' "Basic $basic"
run "slack read  conversations.info" "$SL/api/conversations.info?channel=general" GET "" "Bearer xoxb-seam-sandbox-token"
run "slack write chat.postMessage"   "$SL/api/chat.postMessage" POST '{"channel":"general","text":"bench"}' "Bearer xoxb-seam-sandbox-token"
