#!/usr/bin/env bash
# Why SEAL raises rollout entropy on the CPU proxy (docs/algorithms.md, "SEAL's entropy rise"): the CPU study's
# grpo_seal configuration against the same with SEAL's gradient stopped before its head (seal_head_only: the
# backbone, and so the hidden states the LM head reads, get no gradient from SEAL), 3 seeds each, 40 updates, from
# the quickstart's warm-up. About 50 minutes on 2 cores (two runs at a time); writes docs/seal_ablation.md and its
# figures. Finished runs are kept: rerunning regenerates the page.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIGS="grpo_seal grpo_seal_head_only" SEEDS="${SEEDS:-1 2 3}" OUT=runs/seal_ablation RESULTS=docs/seal_ablation.md \
  TITLE="SEAL's entropy rise: the gradient into the backbone (ablation)" COMMAND="scripts/seal_ablation.sh" \
  scripts/study_cpu.sh
