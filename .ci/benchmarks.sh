#!/usr/bin/env bash
# Every script in benchmarks/ for a few seconds at tiny sizes, so that a
# change of defaults or of an interface cannot break one unseen. A script
# without a line here fails the run: each new benchmark gets its smoke run.
# The figures printed mean nothing at these sizes; only the exit codes count.
set -euo pipefail
cd "$(dirname "$0")/../benchmarks"
declare -A SMOKE=(
  [fit_fingerprints.py]="--quick"
  [frontier.py]="--minutes 0.05 --points gru:2x16:0,auto --eval-chars 2000 --logs /tmp/frontier-smoke"
  [hostile_checkpoints.py]="--cases num_layers=100000 --timeout 60"
  [kill_during_save.py]="--rounds 2"
  [js_sample_speed.py]="--smoke"
  [learning_spread.py]="--seeds 1"
  [memory.py]="--sizes 1 --kinds ascii,non-ascii --in-memory"
  [quality.py]="--preset writeup --hidden-size 16 --minutes 0.05 --eval-every 1 --eval-chars 2000 --torch"
  [sample_speed.py]="--configs write-up --chars 20 --seconds 0.2 --slices 1 --threads 1 --num-samples 2 --train-iterations 5"
  [train_loss.py]="--seconds 3"
  [train_speed.py]="--configs write-up,gru-b1 --seconds 0.2 --slices 1 --threads 1"
  [writeup_chaos.py]=""
)
status=0
for script in *.py; do
  [ "$script" = common.py ] && continue
  if [ -z "${SMOKE[$script]+set}" ]; then
    echo "benchmarks/$script has no smoke run in .ci/benchmarks.sh"; status=1; continue
  fi
  start=$SECONDS
  # A hang is a failure too.
  if timeout 300 python "$script" ${SMOKE[$script]} > "/tmp/smoke-$script.log" 2>&1; then
    echo "benchmarks/$script: ran in $((SECONDS - start)) s"
  else
    echo "benchmarks/$script ${SMOKE[$script]}: FAILED"; tail -20 "/tmp/smoke-$script.log"; status=1
  fi
done
exit $status
