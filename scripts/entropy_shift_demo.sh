#!/usr/bin/env bash
# The Entropulse demonstration of docs/entropy.md: the same run with and without the pulse controller,
# through an environment change at update 8, then one overlaid entropy plot.
#   scripts/entropy_shift_demo.sh            (about 12 minutes on 2 idle CPU cores, both runs in parallel,
#                                           plus 8 minutes for the quickstart if it has not run)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/entropy_shift
# both runs start from the quickstart's SFT warm-up (seed 42): train the quickstart once if it is not there
[ -f runs/quickstart/sft_warmup/config.json ] || agentrl train --config recipes/quickstart.yaml --progress_bar false
agentrl train --config recipes/entropy/shift_none.yaml --progress_bar false > runs/entropy_shift/none.log 2>&1 &
agentrl train --config recipes/entropy/shift_pulse.yaml --progress_bar false > runs/entropy_shift/pulse.log 2>&1 &
wait
agentrl plot runs/entropy_shift/pulse runs/entropy_shift/none --output runs/entropy_shift
python - <<'PY'
import json
for name in ("none", "pulse"):
    result = json.load(open(f"runs/entropy_shift/{name}/eval.json"))
    print(name, "held-out success before RL", result["before"]["success_rate"], "after (shifted env)", result["after"]["success_rate"])
PY
