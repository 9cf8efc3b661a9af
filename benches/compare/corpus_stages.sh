# Sourced by the corpus scripts: `corpus_model NAME ONNX DATA` takes one model through `zkinfer
# compile` (DATA as calibration), `setup --dev-srs`, `prove` (DATA as the input) and `verify`, in
# a work directory it removes, and prints one line: the stage it reached and `k`, prove seconds
# and argmax agreement with tract's float run, or the first line of the error.
# `corpus_absent NAME WHY` counts a directory without a model; `corpus_summary` prints the counts.
# Needs ZK (benches/compare/zkinfer_bin.sh) and WORK (a scratch directory).
declare -A COUNT=()

# The first line of a failed command's message, without log lines or the model's directory.
corpus_reason() { grep -v -e ' WARN ' -e '^  WARNING' "$1" | grep -m1 . | sed -e 's/^error: //' -e "s|^$2/||" | cut -c1-160; }

corpus_line() {
  COUNT[$2]=$((${COUNT[$2]:-0} + 1))
  printf "%-44s %-8s %s\n" "$1" "$2" "$3"
}

corpus_absent() { corpus_line "$1" absent "$2"; }

corpus_model() {
  local name="$1" onnx="$2" data="$3" d="$WORK/model" stage detail src
  src="$(dirname "$onnx")"
  stage=compile
  if ! timeout 600 "$ZK" compile "$onnx" --calibration "$data" -o "$d" >/dev/null 2>"$WORK/err"; then
    detail="$(corpus_reason "$WORK/err" "$src")"
  elif stage=setup && ! timeout 600 "$ZK" setup "$d" --dev-srs >/dev/null 2>"$WORK/err"; then
    detail="$(corpus_reason "$WORK/err" "$src")"
  elif stage=prove && ! /usr/bin/time -f %e -o "$WORK/time" timeout 600 "$ZK" prove "$d" --input "$data" --request-id 1 -o "$d/out" >/dev/null 2>"$WORK/err"; then
    detail="$(corpus_reason "$WORK/err" "$src")"
  elif stage=verify && ! "$ZK" verify "$d" "$d/out/proof-0.json" >/dev/null 2>"$WORK/err"; then
    detail="$(corpus_reason "$WORK/err" "$src")"
  else
    stage=proven
    detail="$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); a=json.load(open(sys.argv[2])); print("k=%s prove %ss argmax agreement %.0f%%" % (s["k"], open(sys.argv[3]).read().strip(), 100 * a["argmax_agreement"]))' "$d/settings.json" "$d/accuracy.json" "$WORK/time")"
  fi
  rm -rf "$d"
  corpus_line "$name" "$stage" "$detail"
}

corpus_summary() {
  echo
  for s in proven compile setup prove verify absent; do
    n="${COUNT[$s]:-0}"
    case "$s" in
      proven) echo "proven and verified: $n" ;;
      absent) echo "no model or no numeric input: $n" ;;
      *) echo "stopped at $s: $n" ;;
    esac
  done
}
