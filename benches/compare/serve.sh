#!/usr/bin/env bash
# The provider's service under load, one run on this machine: `zkinfer demo --serve` with N MLP
# clients at once against 1 and then 2 proving workers (requests settled a minute, latency, peak
# memory of the whole process: service and clients), and the latency of one tiny-GPT request
# (16 + 16 tokens) through the service. The README's service figures come from here.
#
#   benches/compare/serve.sh [ZKINFER] [N]     (defaults: the workspace's debug build, 16)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/verifier-contracts/node_modules/.bin:$PATH"
ZKINFER="${1:-${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer-target}/debug/zkinfer}"
N="${2:-16}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

run() {
  local name="$1"
  shift
  /usr/bin/time -f "%M" -o "$WORK/$name.mem" "$ZKINFER" demo --serve --json "$@" >"$WORK/$name.json" 2>"$WORK/$name.log" \
    || { cat "$WORK/$name.log" >&2; exit 1; }
  python3 - "$WORK/$name.json" "$WORK/$name.mem" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
mem = int(open(sys.argv[2]).read().split()[-1]) / 1024
print(f"{sys.argv[3]:<16} requests {r['requests']:>3}  settled {r['settled']:>3}  "
      f"{r['throughput_per_min']:6.1f}/min  latency mean {r['latency_seconds_mean']:6.1f} s "
      f"max {r['latency_seconds_max']:6.1f} s  peak {mem:7.0f} MiB")
PY
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $("$ZKINFER" --version)"
run mlp-1-worker --requests "$N" --workers 1
run mlp-2-workers --requests "$N" --workers 2
run tiny-gpt --model tiny-gpt --requests 1
