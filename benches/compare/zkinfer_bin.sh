# Sourced by the comparison scripts: sets ZK to the zkinfer binary they time. By default the
# release CLI, built here (dependencies cached in CARGO_TARGET_DIR); ZKINFER=path/to/zkinfer runs
# another build (a test-profile one, where no release build is at hand).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer-target}"
export CARGO_INCREMENTAL=0
if [ -n "${ZKINFER:-}" ]; then
  ZK="$(realpath "$ZKINFER")"
else
  cargo build -q --release -p zkinfer
  ZK="$CARGO_TARGET_DIR/release/zkinfer"
fi
