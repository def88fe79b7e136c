"""textworld: games from TextWorld's own generator (textworld==1.7.0), played by TextWorld's engine.

Registered names, one per generator (all take the same keyword arguments):
    textworld-custom    tw-make custom --world-size 5 --nb-objects 10 --quest-length 5
    textworld-simple    tw-simple --rewards dense --goal detailed (eval_out: --test objects)
    textworld-cooking   tw-cooking --recipe 2 --take 2 --go 6 --open --cook --cut (eval_out: --split test)
    textworld-coin      tw-coin_collector --level 5

Games are generated offline on first use and cached (games.py): task id
"textworld-cooking/eval_in/00007" is the game of seed 1_000_007 with the variant's settings.
Splits use disjoint seed ranges; eval_out also switches to the generator's held-out distribution
where it has one (tw-simple, tw-cooking). The observation is the game's text (banner, prompt and
status line removed), `task` is the game's objective, `admissible_actions` TextWorld's admissible
commands, `expert_action` the first of TextWorld's policy commands (the shortest winning plan from
the current state, so it recovers after any detour), `task_type` the variant name, `anchor` a digest
of the world's true facts, and `unknown_entity` is set when an invalid command fits one of the game's
command templates with a slot filler that is none of the game's entity names.

Keyword arguments: max_steps (50), reward_on_win (1.0), intermediate_rewards (False; True adds
progress_reward * TextWorld's intermediate reward, progress_reward=0.1, see env.py),
num_train_tasks (100), num_eval_in_tasks (20), num_eval_out_tasks (20), cache_dir
($AGENTRL_CACHE/textworld or ~/.cache/agentrl/textworld) and settings (generator settings that
replace the variant's, e.g. {"level": 20} for textworld-coin; they get their own cache folder).

Measured on 2 shared (busy) CPU cores, first 5 eval_in games of each variant, max_steps 50:
    variant   generation  reset   steps/s   expert wins   random admissible-command wins
    custom    1.7 s/game  56 ms   275       5/5           0/5
    simple    2.7 s/game  39 ms   120       5/5           0/5
    cooking   2.8 s/game  35 ms   168       5/5           0/5
    coin      1.7 s/game  16 ms   428       5/5           1/5
(generation ran 2-7 s per game while other jobs loaded the machine). Generation happens once per game;
a reset of a cached game only restarts the Z-machine. A uniform random policy almost never wins: warm
the policy up on `expert_action` before RL.
Needs `pip install -e ".[textworld]"`; `import agentrl.envs` works without it, building the env raises.
"""

from __future__ import annotations

from typing import Any

from agentrl.envs.registry import register_env
from agentrl.envs.textworld.games import VARIANTS


def _factory(variant_name: str):
    variant = VARIANTS[variant_name]

    def make(**kwargs: Any):
        from agentrl.envs.textworld.env import TextWorldEnv

        return TextWorldEnv(variant, **kwargs)

    make.__name__ = f"textworld_{variant_name}"
    make.__doc__ = f"TextWorld generated games: {variant.description}"
    return make


for _name in VARIANTS:
    register_env(f"textworld-{_name}", f"TextWorld (real engine), {VARIANTS[_name].description}")(_factory(_name))

__all__ = ["VARIANTS"]
