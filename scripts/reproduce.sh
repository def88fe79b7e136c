#!/usr/bin/env bash
# Reproduce one paper table cell: recipes/paper/NAME.yaml with 3 seeds, each launched the way the recipe says
# (its accelerate_config and num_processes), then the mean and std over seeds of the held-out success after the
# recipe's last update (a fixed step, never the best one) in runs/paper/NAME/summary.md. A seed that finished is
# kept; one that was killed resumes from its last checkpoint (resume_from_checkpoint auto).
#   scripts/reproduce.sh empg/alfworld_qwen2.5_1.5b_dapo_empg
#   SEEDS="0 1 2 3 4" scripts/reproduce.sh gigpo/webshop_qwen2.5_7b_gigpo --eval_num_tasks 200
#   scripts/reproduce.sh empg/webshop_qwen2.5_1.5b_grpo --smoke     # the whole pipeline as dry runs, any machine
# A WebShop cell needs WebShop's original data (env_kwargs data_path or $WEBSHOP_DATA, docs/webshop.md): on agentrl's
# generated catalogue its number is not a WebShop result, so the script refuses unless told --allow-generated
# (dry runs with --smoke are never refused).
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/reproduce.sh NAME [--smoke] [--allow-generated] [--field value ...], NAME = a recipe under
recipes/paper/ without .yaml, e.g. empg/alfworld_qwen2.5_1.5b_dapo_empg (SEEDS=\"0 1 2\" and OUT=runs/paper/NAME by
default)"
NAME=${1:?$usage}
shift
ALLOW_GENERATED=0
passed=()  # the arguments for agentrl train: all but --allow-generated
for arg in "$@"; do
  if [ "$arg" = "--allow-generated" ]; then ALLOW_GENERATED=1; else passed+=("$arg"); fi
done
set -- ${passed[@]+"${passed[@]}"}
RECIPE=recipes/paper/$NAME.yaml
if [ ! -f "$RECIPE" ]; then
  echo "no recipe $RECIPE. The paper recipes:" >&2
  (cd recipes/paper && ls ./*/*.yaml | sed -e 's|^\./||' -e 's|\.yaml$||' | grep -v '^base/') >&2
  exit 2
fi
SEEDS=${SEEDS:-"0 1 2"}
OUT=${OUT:-runs/paper/$NAME}
# The launch config and process count of the recipe, and the WebShop catalogue its env_kwargs (or the last
# --env_kwargs given here, a YAML/JSON mapping as agentrl train reads it) would use.
IFS=$'\t' read -r CONFIG PROCESSES CATALOGUE < <(python - "$RECIPE" "$@" <<'PY'
import sys
import yaml
from agentrl.envs.webshop.original_data import catalogue_in_use
from agentrl.recipe import load_recipe
recipe = load_recipe(sys.argv[1])
kwargs = recipe.get("env_kwargs") or {}
args = sys.argv[2:]
for at, arg in enumerate(args):
    if arg == "--env_kwargs" and at + 1 < len(args):
        kwargs = yaml.safe_load(args[at + 1]) or {}
    elif arg.startswith("--env_kwargs="):
        kwargs = yaml.safe_load(arg.split("=", 1)[1]) or {}
try:
    catalogue = catalogue_in_use(kwargs) if recipe.get("env_id") == "webshop" else "-"
except ValueError as error:
    sys.exit(f"reproduce.sh: {error}")
print(recipe.get("accelerate_config") or "-", recipe.get("num_processes") or 1, catalogue, sep="\t")
PY
)
if [[ "$(basename "$NAME")" == webshop* && " $* " != *" --smoke "* && "$ALLOW_GENERATED" = 0 ]]; then
  if [ "$CATALOGUE" = "generated catalogue" ]; then
    echo "refusing to run $NAME on agentrl's generated WebShop catalogue: its number would not be a WebShop result.
Point \$WEBSHOP_DATA (or env_kwargs data_path) at WebShop's original data (docs/webshop.md says how to get it), or
pass --allow-generated to run it on the generated catalogue anyway (and never report it as a WebShop number)." >&2
    exit 2
  fi
  echo "WebShop catalogue: $CATALOGUE"
fi
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

FLAGS=$*
if [ "$ALLOW_GENERATED" = 1 ]; then FLAGS="$FLAGS --allow-generated"; fi
python scripts/study_summary.py "$(dirname "$OUT")" "$(basename "$OUT")" --output "$OUT/summary.md" \
  --title "Reproduction: $NAME" --command "SEEDS=\"$SEEDS\" scripts/reproduce.sh $NAME $FLAGS"
