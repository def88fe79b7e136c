#!/usr/bin/env bash
# The studies' shared SFT warm-up: trains RECIPE into FOLDER (with OVERRIDES) unless FOLDER/sft_warmup is already
# there, and prints the warm-up's model folder, which every run of the study starts from. Two threads: it runs
# before the study's runs, alone. Its log is FOLDER.log.
#   model=$(scripts/sft_warmup.sh runs/study/warmup recipes/quickstart.yaml --max_steps 1 --eval_num_tasks 1)
set -euo pipefail
folder=$1 recipe=$2
shift 2
[ -f "$folder/sft_warmup/config.json" ] || OMP_NUM_THREADS=2 agentrl train --config "$recipe" --output_dir "$folder" \
  --progress_bar false --resume_from_checkpoint auto "$@" > "$folder.log" 2>&1
echo "$folder/sft_warmup"
