"""The parts of one RL update, each in the module named for its job (docs/architecture.md draws how they connect).

- ranks.py          the one way the update talks across processes (gathers, sums, means, extremes)
- group_rounds.py   group ids, DAPO dynamic sampling rounds, StarPO-S group filtering
- credit.py         per-step advantages: the estimator, overlong penalties, EMPG, equal episode weight
- seal_units.py     SEAL's units, labels and groups per training row
- policy_logps.py   scoring rollouts (vLLM), old / reference log-probs, the importance-sampling ratio
- micro_batches.py  rows -> weighted micro-batches whose sum is TRL's loss over the whole batch
- metrics.py        rollout, entropy and conversation metrics

agentrl/trainer.py strings them together; agentrl/trl_seam.py holds every private TRL member they need.
"""
