"""alfworld: ALFWorld's text games on ALFWorld's own engine (alfworld==0.4.2: TextWorld PDDL + Fast Downward).

The env plays `game.tw-pddl` files with the wrapper stack of ALFWorld's AlfredTWEnv (PddlEnv, AlfredDemangler,
AlfredInfos, AlfredExpert with the handcoded expert), so observations, the command grammar ("go to {r}",
"open {r}", "take {o} from {r}", "move {o} to {r}", "heat/cool/clean {o} with {r}", "use {o}", "examine
{x}", "look", "inventory"), admissible commands and the win check are ALFWorld's. Per step, `info` has
the contract keys (envs/base.py) plus task_type (one of the six ALFRED types: evaluation summaries break success
down by it, `by_task_type`), task_id and unknown_entity
(the command names an object or receptacle that is not in the game). `valid` is False exactly when the
engine answers "Nothing happens.". `anchor` is the sorted tuple of the state's dynamic PDDL facts
(location, hands, containment, open/clean/hot/cool/on). `expert_action` is ALFWorld's handcoded
expert's next command, on every split (engine.py: one compatibility fix for 0.4's "move" command).
The reset observation drops the "-= Welcome to TextWorld, ALFRED! =-" banner.

Games (games.py):
- official ALFWorld data, when `data_path` / $ALFWORLD_DATA (default ~/.cache/alfworld) holds
  json_2.1.1/{train, valid_seen, valid_unseen} (3553 / 140 / 134 games; `alfworld-download` fetches them,
  which needs internet): splits train / eval_in / eval_out, as the papers report them (eval_in = valid_seen,
  eval_out = valid_unseen), each in a fixed order that does not depend on the machine (games.py: panel_order);
  a warning says when valid_seen / valid_unseen do not hold 140 / 134 loadable games;
- otherwise agentrl's generated games (rooms.py, problems.py, build.py): ALFRED-style problems written
  from ALFWorld's constants and goal library, turned into games by ALFWorld's own generator and kept only
  when the expert wins within 50 steps. eval_out uses ALFRED's unseen scenes. The repository ships
  train 120 / eval_in 48 / eval_out 48 games, each split balanced over the six task types
  (data/generated-v1.tar.xz, 0.29 MB, about 18 MB once unpacked into ~/.cache/agentrl/alfworld on first
  use); larger `num_*_games` are generated on demand (scripts/generate_alfworld_games.py does it with
  several workers). Generated rooms are not AI2-THOR's: success rates are not comparable to papers.

Factory kwargs: max_steps (50), reward_on_win (1.0; some papers report 10 * won), source ("auto": official
data if found else generated; "official"; "generated"), data_path, cache_dir, num_train_games,
num_eval_in_games, num_eval_out_games (None: all official games / the shipped generated count).

Measured on the shipped generated set, max_steps 50, on 2 CPU cores shared with other jobs:
- handcoded expert: 216/216 games won (each game is verified at build; mean 15.9 steps, max 44);
- uniform random over the admissible commands (random.Random(0)): 0/120 train, 0/48 eval_in, 0/48
  eval_out; a uniform policy does not solve ALFWorld, so start RL from a policy warmed up on
  `expert_action`;
- one step 50 ms (20 steps/s) on a lightly loaded core, 135 ms under a load of 7-8 on 2 cores (TextWorld
  derives the text of every admissible command each step); reset 0.6 s when the game file must be
  loaded (1.6 s under load), 0.3 s for the game already loaded; building one game 4-7 s. Run several
  envs in EnvPool worker processes (env_workers).
"""

from __future__ import annotations

import os
from typing import Any

from agentrl.envs.registry import register_env


@register_env("alfworld", "ALFWorld text games on ALFWorld's engine (official data, else generated games)")
def alfworld(
    max_steps: int = 50,
    reward_on_win: float = 1.0,
    source: str = "auto",
    data_path: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    num_train_games: int | None = None,
    num_eval_in_games: int | None = None,
    num_eval_out_games: int | None = None,
) -> Any:
    """ALFWorld text games on ALFWorld's engine (official data, else generated games)."""
    from agentrl.envs.alfworld.engine import require_alfworld

    require_alfworld()  # a clear ImportError naming `pip install -e ".[alfworld]"` when it is missing
    from agentrl.envs.alfworld.env import AlfworldEnv
    from agentrl.envs.alfworld.games import load_games

    counts = {"train": num_train_games, "eval_in": num_eval_in_games, "eval_out": num_eval_out_games}
    games = load_games(source=source, data_path=data_path, cache_dir=cache_dir, counts=counts)
    return AlfworldEnv(games, max_steps=max_steps, reward_on_win=reward_on_win)


__all__ = ["alfworld"]
