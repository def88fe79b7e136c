"""The oracle: the optimal next action from any state.

The oracle knows where the target lies (the search variants hide it from the agent), so it is
a teacher for warm-up and a baseline, not a fair player. It replans from the state on every
call, so it stays optimal after the agent's own detours.

Why the plan is optimal: every solution must (1) stand at the target's receptacle, open it if
closed, have empty hands and take the target; (2) for a two-stage goal, stand at the tool
holding the target and use it; (3) stand at the goal, open it if closed, and move the target
there. Each "go to" costs one step wherever it starts, so doing the stages in order with no
other action is shortest. The one extra cost is an object already in hand: any way to drop it
costs at least one "move", and dropping it at the target's receptacle (open by then) costs
exactly one.
"""

from __future__ import annotations

from agentrl.envs.household.state import State
from agentrl.envs.household.world import Task


def expert_action(state: State, task: Task) -> str | None:
    """The next action of a shortest plan to the goal; None once it is reached."""
    if state.goal_reached(task):
        return None
    target = task.target
    if state.holding != target:
        return _fetch(state, target)
    treatment = task.treatment
    if treatment is not None and treatment.adjective not in state.properties[target]:
        if state.location != treatment.tool:
            return f"go to {treatment.tool}"
        return f"{treatment.verb} {target} with {treatment.tool}"
    if state.location != task.goal:
        return f"go to {task.goal}"
    if not state.is_accessible(task.goal):
        return f"open {task.goal}"
    return f"move {target} to {task.goal}"


def _fetch(state: State, target: str) -> str:
    """Next step towards holding `target`: go to it, open its receptacle, free the hands, take it."""
    source = state.where[target]
    if state.location != source:
        return f"go to {source}"
    if not state.is_accessible(source):
        return f"open {source}"
    if state.holding is not None:
        return f"move {state.holding} to {source}"
    return f"take {target} from {source}"
