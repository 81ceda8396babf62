#!/usr/bin/env bash
# The CUDA checks in one script, for a machine with an NVIDIA GPU (about 5 minutes on an H200):
# tests/test_cuda.py, `sepprof calibrate --device cuda`, `sepprof compare --device cuda` in fp32,
# fp16 and channels_last, MobileNetV2's and EfficientNet-B0's per-layer times on CUDA (`profile
# --model torchvision.models:NAME`: depthwise share of MACs vs of time, the seed's GPU claim), and
# `sepprof report --device all --quick --out reports/gpu-<name>`.
#
#   bash benchmarks/gpu.sh             run it (from the repository root)
#   bash benchmarks/gpu.sh --dry-run   check it is well-formed, here, on CPU: print every step,
#                                      check that sepprof imports, run nothing
#
# Packages the GPU machine lacks (fvcore, iopath, yacs, termcolor, pydantic and its parts) are
# installed from wheels in .whl/ when that folder exists (see README "How timing works").
# Outputs go to /tmp/sepprof-gpu-out/ (or $OUT when set): the log, the calibration, three compare
# JSON files, two per-layer profiles and the report as a .tar.gz. Exit status: 0 when every step
# passed, else the number of failed steps.
set -uo pipefail

DRY_RUN=0
case "${1:-}" in
  --dry-run) DRY_RUN=1 ;;
  -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "gpu.sh: unknown argument '$1' (use --dry-run or --help)" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.." || exit 2
PY="${PYTHON:-python3}"
DEST="${OUT:-/tmp/sepprof-gpu-out}"
STEP_LIMIT=300 # seconds any one step may take
FAILED=0

gpu_name() {
  local name
  name="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)"
  [ -n "$name" ] || name="$("$PY" -c 'import torch; print(torch.cuda.get_device_name(0))' 2>/dev/null)"
  name="$(echo "${name:-cuda}" | tr 'A-Z' 'a-z' | sed -e 's/nvidia//g' -e 's/[^a-z0-9]\{1,\}/-/g' -e 's/^-//' -e 's/-$//')"
  echo "${name:-cuda}"
}

# Each step: a name, the file its stdout goes to ("-" for the log), then the command.
STEPS=(
  "cuda tests|-|$PY -m pytest -q -p no:randomly -p no:cacheprovider tests/test_cuda.py"
  "calibrate cuda|calibrate-cuda.json|$PY -m sepprof calibrate --device cuda --json"
  "compare fp32|compare-fp32.json|$PY -m sepprof compare --k 3 --cout 256 --size 56 --device cuda --dtype fp32 --json"
  "compare fp16|compare-fp16.json|$PY -m sepprof compare --k 3 --cout 256 --size 56 --device cuda --dtype fp16 --json"
  "compare channels_last|compare-channels_last.json|$PY -m sepprof compare --k 3 --cout 256 --size 56 --device cuda --memory-format channels_last --json"
  "layer times mobilenet_v2|layers-mobilenet_v2.json|$PY -m sepprof profile --model torchvision.models:mobilenet_v2 --input 1,3,224,224 --device cuda --json"
  "layer times efficientnet_b0|layers-efficientnet_b0.json|$PY -m sepprof profile --model torchvision.models:efficientnet_b0 --input 1,3,224,224 --device cuda --json"
  "report|-|$PY -m sepprof report --device all --quick --force --out reports/gpu-NAME"
)

plan() {
  local step
  for step in "${STEPS[@]}"; do
    IFS='|' read -r name file cmd <<<"$step"
    echo "step: $name -> ${file/#-/log}: $cmd"
  done
}

dry_run() {
  bash -n "$0" || exit 2
  plan
  "$PY" -c 'import sepprof.cli, sepprof.timing.timer' || { echo "gpu.sh: sepprof does not import" >&2; exit 2; }
  if [ -d .whl ]; then echo "wheels: $(ls .whl | wc -l) in .whl/"; else echo "wheels: none in .whl/ (fine where fvcore and pydantic are installed)"; fi
  echo "dry run: well-formed; outputs would go to $DEST"
}

install_wheels() {
  [ -d .whl ] || return 0
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || return 1
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
}

run_step() {
  local name="$1" file="$2" cmd="$3" start rc
  start=$(date +%s)
  echo "=== $name: $cmd"
  if [ "$file" = "-" ]; then
    timeout "$STEP_LIMIT" $cmd
  else
    timeout "$STEP_LIMIT" $cmd >"$DEST/$file"
  fi
  rc=$?
  echo "=== $name: exit $rc in $(($(date +%s) - start)) s"
  [ "$rc" -eq 0 ] || FAILED=$((FAILED + 1))
}

main() {
  mkdir -p "$DEST" reports
  export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1 NO_COLOR=1
  export SEPPROF_CACHE_DIR="${SEPPROF_CACHE_DIR:-$(mktemp -d)}"
  install_wheels || { echo "gpu.sh: installing .whl/ failed" >&2; exit 2; }
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'
  local name step
  name="$(gpu_name)"
  for step in "${STEPS[@]}"; do
    IFS='|' read -r sname file cmd <<<"$step"
    run_step "$sname" "$file" "${cmd//NAME/$name}"
  done
  tar -czf "$DEST/report-gpu-$name.tar.gz" "reports/gpu-$name" 2>/dev/null || FAILED=$((FAILED + 1))
  echo "=== $FAILED step(s) failed; outputs in $DEST"
  return "$FAILED"
}

if [ "$DRY_RUN" -eq 1 ]; then
  dry_run
  exit 0
fi
mkdir -p "$DEST"
main 2>&1 | tee "$DEST/gpu.log"
exit "${PIPESTATUS[0]}"
