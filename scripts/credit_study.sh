#!/usr/bin/env bash
# The credit-assignment comparison of docs/algorithms.md: 6 configurations x 3 seeds on household-lookup,
# every run from one shared SFT warm-up, held-out success (100 eval_in tasks, T 0.4) after a fixed number
# of updates. Two runs at a time, one thread each.
#   scripts/credit_study.sh                  SEEDS="1 2 3" UPDATES=30 by default
#   CONFIGS="grpo gigpo" SEEDS=1 scripts/credit_study.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"1 2 3"}
UPDATES=${UPDATES:-30}
CONFIGS=${CONFIGS:-"grpo grpo_empg dapo dapo_empg gigpo gigpo_empg"}
OUT=${OUT:-runs/credit}
export OMP_NUM_THREADS=1

overrides() {  # the configuration's changes to recipes/algorithms/lookup_grpo.yaml
  case "$1" in
    grpo)       echo "" ;;
    grpo_empg)  echo "--empg true" ;;
    dapo)       echo "--loss_type dapo --epsilon_high 0.28 --dynamic_sampling true --overlong_buffer_length 4" ;;
    dapo_empg)  echo "--loss_type dapo --epsilon_high 0.28 --dynamic_sampling true --overlong_buffer_length 4 --empg true" ;;
    gigpo)      echo "--advantage_estimator gigpo" ;;
    gigpo_empg) echo "--advantage_estimator gigpo --empg true" ;;
    *) echo "unknown configuration $1" >&2; exit 2 ;;
  esac
}

mkdir -p "$OUT"
model=$(scripts/sft_warmup.sh "$OUT/warmup" recipes/algorithms/lookup_warmup.yaml)

jobs=()
for seed in $SEEDS; do
  for config in $CONFIGS; do
    run="$OUT/$config/seed$seed"
    [ -f "$run/eval.json" ] && continue
    jobs+=("agentrl train --config recipes/algorithms/lookup_grpo.yaml --model_name_or_path $model \
--output_dir $run --seed $seed --max_steps $UPDATES --progress_bar false --resume_from_checkpoint auto \
$(overrides "$config") > $run.log 2>&1")
    mkdir -p "$OUT/$config"
  done
done
scripts/run_jobs.sh 2 "${jobs[@]}"

python scripts/study_summary.py "$OUT" $CONFIGS --title "Credit-assignment study" \
  --command "SEEDS=\"$SEEDS\" UPDATES=$UPDATES CONFIGS=\"$CONFIGS\" scripts/credit_study.sh"
