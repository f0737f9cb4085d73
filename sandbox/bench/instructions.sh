#!/usr/bin/env bash
# Instructions per request of each kind the runtime's load benchmark makes of the sandbox
# (`sandbox/examples/per_event.rs`), counted by callgrind: the run with 2N requests minus the
# run with N, divided by N, so the setup cancels out. Stable on a shared machine.
# Usage: sandbox/bench/instructions.sh [N] [kinds...]   (default 400; all kinds)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
n="${1:-400}"; shift || true
kinds=("$@"); [ ${#kinds[@]} -gt 0 ] || kinds=(sf_patch sf_get sf_query snow_patch snow_get)
command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 1; }
(cd "$root" && cargo build --release -p seam-sandbox --example per_event >/dev/null 2>&1)
bin="$(cd "$root" && cargo metadata --format-version 1 --no-deps | sed 's/.*"target_directory":"\([^"]*\)".*/\1/')/release/examples/per_event"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
ir() { # kind, count -> total instructions
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$1" "$2" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  awk '/^summary:/ {print $2}' "$tmp/out"
}
for k in "${kinds[@]}"; do
  a=$(ir "$k" "$n"); b=$(ir "$k" $((2 * n)))
  printf '%-11s %9d instructions per request\n' "$k" $(( (b - a) / n ))
done
