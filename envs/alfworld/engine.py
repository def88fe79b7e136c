"""ALFWorld's own text engine, built the way ALFWorld builds it, plus the lazy import of the package.

`AlfredTWEnv.init_env` registers the games with `textworld.gym` and wraps TextWorld's PDDL environment
(`textworld.envs.PddlEnv`, which plays a `game.tw-pddl` file with the Fast Downward state machine and the
ALFRED grammar) in ALFWorld's wrappers: AlfredDemangler (AI2-THOR ids -> "apple 1"), AlfredInfos
(`extra.gamefile`) and AlfredExpert (the handcoded expert, `extra.expert_plan`). We build the same
wrapper stack directly, one game at a time, because textworld.gym's batch env loads games in its own
order and spawns its own processes; agentrl chooses the game per episode and parallelises with EnvPool.

The engine is deterministic except for Python's global `random`, which ALFWorld's handcoded expert uses
(to pick among equal objects) and `alfworld-generate` uses (to pick the goal's text template).
`own_random` lends those calls a private, seeded random state, so the expert's choices are a function of
the task and the actions, and the caller's global random state is left untouched.
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections.abc import Iterator
from typing import Any

INSTALL_HINT = 'pip install -e ".[alfworld]"'


def require_alfworld() -> None:
    """Import ALFWorld's text-engine stack or raise ImportError saying how to install it."""
    try:
        import alfworld.agents.environment.alfred_tw_env  # noqa: F401
        import textworld.envs  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"the `alfworld` environment needs the ALFWorld package (alfworld==0.4.2 with textworld[pddl] and "
            f"the Fast Downward planner); install it with: {INSTALL_HINT}  (missing: {error.name or error})"
        ) from error


def legacy_command(command: str) -> str:
    """ "move X to Y" in the pre-0.4 spelling "put X in/on Y"; other commands unchanged."""
    if command.startswith("move ") and " to " in command:
        thing, _, receptacle = command[len("move ") :].partition(" to ")
        return f"put {thing} in/on {receptacle}"
    return command


_EXPERT_CLASS: Any = None


def move_aware_expert_class() -> Any:
    """ALFWorld's AlfredExpert wrapper with one compatibility fix for its handcoded expert.

    ALFWorld 0.4.0 renamed the command "put {o} in/on {r}" to "move {o} to {r}" (alfworld PR #94), but
    the handcoded expert's state tracking (HandCodedAgent.update_state_tracking) still recognises a
    placement by the word "put". After a "move" it believes it still holds the object, so in
    pick_two_obj_and_place (and after any placement of the agent's) it walks back and forth and only its
    random fallback ever finishes the task. This subclass shows the expert the old spelling of the last
    command; the game itself receives the command unchanged.
    """
    global _EXPERT_CLASS
    if _EXPERT_CLASS is None:
        from alfworld.agents.environment.alfred_tw_env import AlfredExpert

        class MoveAwareAlfredExpert(AlfredExpert):
            def _gather_infos(self) -> None:
                command = self.prev_command
                self.prev_command = legacy_command(command)
                try:
                    super()._gather_infos()
                finally:
                    self.prev_command = command

        _EXPERT_CLASS = MoveAwareAlfredExpert
    return _EXPERT_CLASS


# Distinct (domain, problem, optimize) translations kept per process: a training batch resets each of its tasks'
# game once per group member (16 games x 8 members), and the eval panels replay the same games every evaluation.
TRANSLATIONS_KEPT = 64


def share_translations() -> None:
    """Translate each PDDL problem to SAS once per process instead of at every load and reset.

    TextWorld's PddlState runs Fast Downward's PDDL->SAS translation (`fast_downward.pddl2sas`, pure Python,
    about 0.13 s) twice per state, and PddlEnv builds a state at `load` and again at every `reset`: four
    translations of the same text per episode, most of the cost of starting one. The translation is a pure
    function of its text arguments and PddlState only reads what it returns (the task's actions, types,
    objects and initial atoms, and the SAS text it passes to the planner), so one result serves every state of
    the same game. Wrapped once; idempotent.
    """
    import fast_downward

    if getattr(fast_downward.pddl2sas, "agentrl_shared", False):
        return
    translate = functools.lru_cache(maxsize=TRANSLATIONS_KEPT)(fast_downward.pddl2sas)

    @functools.wraps(fast_downward.pddl2sas)
    def shared_pddl2sas(domain: str, problem: str, verbose: bool = False, optimize: bool = False) -> Any:
        return translate(domain, problem, verbose, optimize)

    shared_pddl2sas.agentrl_shared = True  # type: ignore[attr-defined]
    fast_downward.pddl2sas = shared_pddl2sas  # textworld.envs.pddl.logic calls it through the module


def make_engine() -> Any:
    """An unloaded PddlEnv wrapped like AlfredTWEnv does (expert: handcoded); call .load(game) next."""
    require_alfworld()
    share_translations()
    import textworld
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredExpertType, AlfredInfos
    from textworld.envs import PddlEnv

    request_infos = textworld.EnvInfos(won=True, admissible_commands=True, facts=True, extras=["gamefile"])
    engine = PddlEnv(request_infos)
    for wrapper in (
        AlfredDemangler(shuffle=False),
        AlfredInfos,
        move_aware_expert_class()(expert_type=AlfredExpertType.HANDCODED),
    ):
        engine = wrapper(engine)
    return engine


@contextlib.contextmanager
def own_random(state: list) -> Iterator[None]:
    """Run the body with `state[0]` (a random.getstate() tuple) as the global random state; store it back."""
    outer = random.getstate()
    random.setstate(state[0])
    try:
        yield
    finally:
        state[0] = random.getstate()
        random.setstate(outer)


def seeded_state(seed: str) -> list:
    """A mutable holder for `own_random` with the global-random state that random.seed(seed) gives."""
    return [random.Random(seed).getstate()]
