#!/usr/bin/env bash
# Reproduce one paper table cell: recipes/paper/NAME.yaml with 3 seeds, each launched the way the recipe says
# (its accelerate_config and num_processes), then the mean and std over seeds of the held-out success after the
# recipe's last update (a fixed step, never the best one) in runs/paper/NAME/summary.md. A seed that finished is
# kept; one that was killed resumes from its last checkpoint (resume_from_checkpoint auto).
#   scripts/reproduce.sh empg/alfworld_qwen2.5_1.5b_dapo_empg
#   SEEDS="0 1 2 3 4" scripts/reproduce.sh gigpo/webshop_qwen2.5_7b_gigpo --eval_num_tasks 200
#   scripts/reproduce.sh empg/webshop_qwen2.5_1.5b_grpo --smoke     # the whole pipeline as dry runs, any machine
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/reproduce.sh NAME [--smoke] [--field value ...], NAME = a recipe under recipes/paper/ without
.yaml, e.g. empg/alfworld_qwen2.5_1.5b_dapo_empg (SEEDS=\"0 1 2\" and OUT=runs/paper/NAME by default)"
NAME=${1:?$usage}
shift
RECIPE=recipes/paper/$NAME.yaml
if [ ! -f "$RECIPE" ]; then
  echo "no recipe $RECIPE. The paper recipes:" >&2
  (cd recipes/paper && ls ./*/*.yaml | sed -e 's|^\./||' -e 's|\.yaml$||' | grep -v '^base/') >&2
  exit 2
fi
SEEDS=${SEEDS:-"0 1 2"}
OUT=${OUT:-runs/paper/$NAME}
read -r CONFIG PROCESSES < <(python -c "from agentrl.recipe import load_recipe
r = load_recipe('$RECIPE'); print(r.get('accelerate_config') or '-', r.get('num_processes') or 1)")
launch=(agentrl train)
if [[ " $* " != *" --smoke "* && "$CONFIG" != "-" ]]; then
  launch=(accelerate launch --config_file "$CONFIG" --num_processes "$PROCESSES" -m agentrl train)
fi

for seed in $SEEDS; do
  run=$OUT/seed$seed
  if [ -f "$run/eval.json" ]; then echo "seed $seed: finished earlier ($run/eval.json)"; continue; fi
  echo "seed $seed: ${launch[*]} --config $RECIPE --seed $seed --output_dir $run $*"
  "${launch[@]}" --config "$RECIPE" --seed "$seed" --output_dir "$run" --resume_from_checkpoint auto "$@"
done

python scripts/study_summary.py "$(dirname "$OUT")" "$(basename "$OUT")" --output "$OUT/summary.md" \
  --title "Reproduction: $NAME" --command "SEEDS=\"$SEEDS\" scripts/reproduce.sh $NAME $*"
