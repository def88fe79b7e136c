#!/usr/bin/env bash
# The CPU study of docs/results.md: the quickstart's model and environment (household-easy, the tiny Qwen2),
# 3 seeds x {grpo, grpo+empg, grpo+seal, dapo+empg+seal+pulse}, every run from one shared SFT warm-up, held-out
# success (200 eval_in tasks, T 0.4) after a fixed number of updates, entropy curves, eruption counts and
# degeneration metrics. About an hour on 2 cores (two runs at a time, one thread each); it writes docs/results.md
# and docs/figures/study_cpu_*.png with the commit it ran from. Finished runs are kept: rerunning resumes the study.
#   scripts/study_cpu.sh                              SEEDS="1 2 3" UPDATES=40
#   CONFIGS="grpo grpo_empg" SEEDS=1 UPDATES=10 OUT=runs/study_try RESULTS=/tmp/results.md scripts/study_cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"1 2 3"}
UPDATES=${UPDATES:-40}
CONFIGS=${CONFIGS:-"grpo grpo_empg grpo_seal dapo_empg_seal_pulse"}
PAGE_CONFIGS=${PAGE_CONFIGS:-$CONFIGS}  # the configurations the page reports (a study run in parts: all of them)
OUT=${OUT:-runs/study_cpu}
RESULTS=${RESULTS:-docs/results.md}
TITLE=${TITLE:-"Results: the CPU study"}  # the page title; COMMAND: how the page says it was run
PARALLEL=${PARALLEL:-2}  # runs at a time, one thread each
export OMP_NUM_THREADS=1

# The pulse controller of recipes/entropy/shift_pulse.yaml: fires on a collapse (step entropy < 0.02), an Echo-Trap
# loop (30% repeated actions) or 2 updates without any gradient signal; bonus 0.1 for up to 10 updates.
PULSE="--entropy_control pulse --pulse_threshold 0.02 --pulse_repeat_action_rate 0.3 --pulse_on_zero_signal 2 \
--pulse_base_coef 0.0 --pulse_peak_coef 0.1 --pulse_duration 10 --pulse_stop_entropy 0.5"
overrides() {  # the configuration's changes to recipes/quickstart.yaml (DAPO loss, clip-higher 0.28)
  case "$1" in
    grpo)                 echo "--loss_type grpo --epsilon_high 0.2" ;;
    grpo_empg)            echo "--loss_type grpo --epsilon_high 0.2 --empg true" ;;
    grpo_seal)            echo "--loss_type grpo --epsilon_high 0.2 --seal true" ;;
    grpo_seal_head_only)  echo "--loss_type grpo --epsilon_high 0.2 --seal true --seal_head_only true" ;;
    grpo_seal_coef0.2)    echo "--loss_type grpo --epsilon_high 0.2 --seal true --seal_coef 0.2" ;;
    grpo_seal_coef0.002)  echo "--loss_type grpo --epsilon_high 0.2 --seal true --seal_coef 0.002" ;;
    grpo_seal_layer0)     echo "--loss_type grpo --epsilon_high 0.2 --seal true --seal_layer 0" ;;  # the middle layer
    grpo_seal_step)       echo "--loss_type grpo --epsilon_high 0.2 --seal true --seal_pooling step" ;;
    grpo_seal_advantage)  echo "--loss_type grpo --epsilon_high 0.2 --seal true --seal_label advantage" ;;
    dapo_empg_seal_pulse) echo "--dynamic_sampling true --overlong_buffer_length 4 --empg true --seal true $PULSE" ;;
    *) echo "unknown configuration $1 (known: grpo grpo_empg grpo_seal grpo_seal_head_only grpo_seal_coef0.2" \
      "grpo_seal_coef0.002 grpo_seal_layer0 grpo_seal_step grpo_seal_advantage dapo_empg_seal_pulse)" >&2; exit 2 ;;
  esac
}
for config in $CONFIGS; do overrides "$config" > /dev/null; done

started=$(date +%s)
mkdir -p "$OUT"
# The quickstart's own warm-up (tiny model built from seed 42, 200 SFT steps), shared by every run.
model=$(scripts/sft_warmup.sh "$OUT/warmup" recipes/quickstart.yaml --max_steps 1 --eval_num_tasks 1)

jobs=()
for seed in $SEEDS; do
  for config in $CONFIGS; do
    run="$OUT/$config/seed$seed"
    [ -f "$run/eval.json" ] && continue
    mkdir -p "$OUT/$config"
    jobs+=("agentrl train --config recipes/quickstart.yaml --model_name_or_path $model \
--sft_warmup_steps 0 --output_dir $run --seed $seed --max_steps $UPDATES --progress_bar false \
--resume_from_checkpoint auto \
$(overrides "$config") > $run.log 2>&1 || echo 'FAILED: $run (see $run.log)'")
  done
done
scripts/run_jobs.sh "$PARALLEL" "${jobs[@]}"

python scripts/study_summary.py "$OUT" $PAGE_CONFIGS --output "$RESULTS" --title "$TITLE" --wall_time_s $(($(date +%s) - started)) \
  --command "${COMMAND:-SEEDS=\"$SEEDS\" UPDATES=$UPDATES scripts/study_cpu.sh}"
