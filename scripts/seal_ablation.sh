#!/usr/bin/env bash
# Why SEAL raises rollout entropy on the CPU proxy (docs/algorithms.md, "SEAL's entropy rise"): the CPU study's
# grpo_seal configuration against the same with one thing changed each: SEAL's gradient stopped before its head
# (seal_head_only: the backbone, and so the hidden states the LM head reads, get no gradient from SEAL), the
# coefficient (0.2, 0.002 against the release's 0.02), the hooked layer (decoder layer 0's output, the middle of the
# 2-layer model, instead of the final normed state the LM head reads), step pooling, and the advantage label rule.
# 3 seeds each, 40 updates, from the quickstart's warm-up; 13.5-17 minutes per run on one core, two runs at a time
# (21 runs: about 2.5 hours on 2 cores). Writes docs/seal_ablation.md and its figures, the per-seed table of
# docs/algorithms.md and the eruption section of docs/entropy.md. Finished runs are kept: rerunning resumes the study
# and regenerates the pages (from every configuration's finished runs, whichever subset ran).
#   CONFIGS="grpo_seal grpo_seal_coef0.2" scripts/seal_ablation.sh      runs a subset
set -euo pipefail
cd "$(dirname "$0")/.."
ALL="grpo_seal grpo_seal_head_only grpo_seal_coef0.2 grpo_seal_coef0.002 grpo_seal_layer0 grpo_seal_step grpo_seal_advantage"
CONFIGS="${CONFIGS:-$ALL}" PAGE_CONFIGS="$ALL" SEEDS="${SEEDS:-1 2 3}" OUT=runs/seal_ablation \
  RESULTS=docs/seal_ablation.md TITLE="SEAL's entropy rise: what causes it (ablation)" \
  COMMAND="scripts/seal_ablation.sh" scripts/study_cpu.sh
# every page reads every configuration's finished runs, whichever subset this invocation ran
python scripts/seal_ablation_table.py runs/seal_ablation $ALL --page docs/algorithms.md
# every eruption cycle of the ablation's runs: do the degenerations it brings persist? (docs/entropy.md)
python scripts/eruption_summary.py runs/seal_ablation $ALL --page docs/entropy.md \
  --section "eruptions in the SEAL ablation" --figure eruptions_seal_ablation --command scripts/seal_ablation.sh
