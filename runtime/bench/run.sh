#!/bin/sh
# The runtime's load benchmark (issue 5): builds the release `seam` binary and the bench, then
# runs the runtime (its own process) and the bare relay side by side against the sandbox.
#   runtime/bench/run.sh [EVENTS] [CASES] [WINDOW] [OPEN_SECS] [ROUNDS]   (defaults 20000 2000 256 10 3)
# SEAM_BENCH_WORKERS=N passes --workers N to `seam run`.
set -eu
cd "$(dirname "$0")/../.."
cargo build --release --bin seam
target_dir=$(cargo metadata --format-version 1 --no-deps | sed 's/.*"target_directory":"\([^"]*\)".*/\1/')
SEAM_BIN="${SEAM_BIN:-$target_dir/release/seam}" \
  cargo run --release -p seam-runtime --example load -- "$@"
