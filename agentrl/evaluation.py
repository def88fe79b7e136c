"""Held-out evaluation: success rate and score of a policy, or of a baseline, on an environment split.

Baselines need no model: `random` plays a uniformly random admissible action (seeded per episode; in a
tool environment, a random tool with arguments drawn from the words of the current observation),
`expert` plays the environment's oracle (`info["expert_action"]`). They bracket what a policy can do:
the random rate is the floor RL must beat, the expert rate the ceiling of the task set.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
from collections.abc import Callable, Sequence

import torch

from agentrl.rollout import HFGenerator, PromptBuilder, RolloutCollector
from agentrl.rollout.episode import Episode, Step, tool_call_counts
from agentrl.envs.base import TextEnv
from agentrl.rollout.pool import EnvPool, make_env_pool

BASELINES = ("random", "expert")


def _by_task_type(episodes: Sequence[Episode]) -> dict[str, dict[str, float]]:
    """{task_type: success_rate, score, num_episodes} over the episodes whose env reported info['task_type']."""
    groups: dict[str, list[Episode]] = {}
    for episode in episodes:
        task_type = episode.info.get("task_type")
        if task_type is not None:
            groups.setdefault(str(task_type), []).append(episode)
    return {
        task_type: {
            "success_rate": sum(e.won for e in group) / len(group),
            "score": sum(e.score for e in group) / len(group),
            "num_episodes": len(group),
        }
        for task_type, group in sorted(groups.items())
    }


def panel_tasks(episodes: Sequence[Episode]) -> list[tuple[str, str]]:
    """The task panel the episodes were played on: (task id, goal text) in play order, each pair once (several seeds
    play the same panel again)."""
    return list(dict.fromkeys((episode.task_id, episode.task) for episode in episodes))


def panel_fingerprint(tasks: Sequence[tuple[str, str]]) -> str:
    """Short sha256 of a task panel: of its compact UTF-8 JSON [[task_id, goal], ...], first 16 hex digits. Two runs
    with the same fingerprint evaluated the same tasks, in the same order, with the same goals (docs/reproduce.md)."""
    text = json.dumps([list(task) for task in tasks], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def success_ci95(success: float, count: int) -> list[float]:
    """95% normal-approximation interval of a success rate measured on `count` episodes:
    p +- 1.96 sqrt(p (1 - p) / n), clipped to [0, 1]."""
    half_width = 1.96 * math.sqrt(success * (1 - success) / count)
    return [max(0.0, success - half_width), min(1.0, success + half_width)]


def summarize(episodes: Sequence[Episode]) -> dict[str, float]:
    """Success rate (with a 95% normal-approximation interval over tasks), score, length, validity, the success per
    task type (`by_task_type`, empty when the environment reports no task types) and the task panel's fingerprint
    (`panel_fingerprint` over `panel_tasks` tasks)."""
    count = len(episodes)
    panel = panel_tasks(episodes)
    identity = {"panel_fingerprint": panel_fingerprint(panel), "panel_tasks": len(panel)}
    if count == 0:
        return {"success_rate": 0.0, "score": 0.0, "num_episodes": 0, "by_task_type": {}} | identity
    success = sum(e.won for e in episodes) / count
    steps = [s for e in episodes for s in e.steps]
    return {
        "success_rate": success,
        "success_ci95": success_ci95(success, count),
        "score": sum(e.score for e in episodes) / count,
        "episode_length": sum(e.length for e in episodes) / count,
        "valid_action_ratio": sum(s.action_valid for s in steps) / max(len(steps), 1),
        "invalid_action_rate": sum(not s.action_valid for s in steps) / max(len(steps), 1),
        "format_valid_ratio": sum(s.format_valid for s in steps) / max(len(steps), 1),
        "env_errors": sum(e.error is not None for e in episodes),
        "num_episodes": count,
        "by_task_type": _by_task_type(episodes),
    } | identity | tool_use_summary(episodes)


def summarize_seeds(episodes_by_seed: dict[int, Sequence[Episode]]) -> dict:
    """`summarize` over the episodes of every seed pooled (the interval is over tasks x seeds), plus each seed's
    success rate and their standard deviation (the spread papers report as mean +- std over seeds)."""
    pooled = summarize([episode for episodes in episodes_by_seed.values() for episode in episodes])
    rates = [summarize(episodes)["success_rate"] for episodes in episodes_by_seed.values()]
    mean = sum(rates) / len(rates)
    std = math.sqrt(sum((rate - mean) ** 2 for rate in rates) / (len(rates) - 1)) if len(rates) > 1 else 0.0
    return pooled | {"seeds": list(episodes_by_seed), "success_by_seed": rates, "success_std_over_seeds": std}


def summary_table(summary: dict, title: str) -> str:
    """The summary as a text table (rich): the headline figures, then success per task type."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    low, high = summary.get("success_ci95", [0.0, 0.0])
    rows = [("success", f"{summary['success_rate']:.1%}  [{low:.1%}, {high:.1%}]")]
    if len(summary.get("seeds", [])) > 1:
        by_seed = ", ".join(f"{rate:.1%}" for rate in summary["success_by_seed"])
        rows.append(("success per seed (std)", f"{by_seed} ({summary['success_std_over_seeds']:.1%})"))
    for key in ("score", "episode_length", "invalid_action_rate", "format_valid_ratio", "tool_calls_per_episode"):
        if key in summary:
            rows.append((key.replace("_", " "), f"{summary[key]:.3g}"))
    rows.append(("episodes", str(summary["num_episodes"])))
    if "panel_fingerprint" in summary:
        rows.append(("task panel", f"{summary['panel_fingerprint']} ({summary['panel_tasks']} tasks)"))
    for task_type, figures in summary.get("by_task_type", {}).items():
        rows.append((f"  {task_type}", f"{figures['success_rate']:.1%} of {figures['num_episodes']}"))
    for row in rows:
        table.add_row(*row)
    console = Console(width=100, record=True, file=io.StringIO())  # rendered to text only
    console.print(table)
    return console.export_text()


def tool_use_summary(episodes: Sequence[Episode]) -> dict[str, float]:
    """Tool environments: calls per episode, and the share of calls (a malformed output counts as one) that failed."""
    steps = [s for e in episodes for s in e.steps]
    if not any(e.tools for e in episodes):
        return {}
    calls, failures, attempts = tool_call_counts(steps)
    return {
        "tool_calls_per_episode": calls / max(len(episodes), 1),
        "tool_failure_rate": failures / max(attempts, 1),
        "malformed_call_rate": sum(not s.format_valid for s in steps) / max(len(steps), 1),
    }


@torch.no_grad()
def evaluate_policy(
    model,
    tokenizer,
    env_factory: Callable[[], TextEnv],
    task_ids: Sequence[str],
    max_new_tokens: int,
    temperature: float = 0.0,
    history_length: int = 2,
    batch_size: int = 128,
    seed: int = 0,
    env_workers: int = 0,
    env_step_timeout_s: float = 60.0,
    trajectory_format: str = "per_step",
    max_episode_tokens: int = 4096,
    prompt_template: str = "generic",
) -> tuple[dict[str, float], list[Episode]]:
    """Play one episode per task (batched) and summarise. temperature 0 = greedy.

    Sampling is seeded (without touching the caller's RNG state), so the same model, tasks, temperature
    and seed give the same numbers: `agentrl eval` reproduces a run's eval.json. `env_workers` > 0 runs
    the environments in worker processes (same numbers, see agentrl/rollout/pool.py).
    """
    was_training = model.training
    model.eval()
    collector = RolloutCollector(
        env_factory,
        PromptBuilder(tokenizer, history_length, prompt_template),
        invalid_format_penalty=0.0,
        env_workers=env_workers,
        env_step_timeout_s=env_step_timeout_s,
        trajectory_format=trajectory_format,
        max_episode_tokens=max_episode_tokens,
        max_turn_tokens=max_new_tokens,
    )
    generator = HFGenerator(model, tokenizer, max_new_tokens=max_new_tokens, temperature=temperature)
    episodes: list[Episode] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, len(task_ids), batch_size):
            chunk = list(task_ids[start : start + batch_size])
            episodes += collector.collect(generator, chunk, list(range(start, start + len(chunk))))
    collector.close()
    model.train(was_training)
    return summarize(episodes), episodes


def _baseline_action(agent: str, info: dict, tools: list | None, observation: str, rng: random.Random) -> str | None:
    if agent == "expert":
        return info.get("expert_action")
    if tools:  # a tool environment (declared at reset)
        return _random_tool_call(tools, observation, rng)
    actions = info.get("admissible_actions") or []
    return rng.choice(actions) if actions else None


def _random_tool_call(tools: list[dict], observation: str, rng: random.Random) -> str:
    """A random tool; each parameter a random value of its JSON type, text parameters two words of the observation."""
    function = rng.choice(tools)["function"]
    words = observation.split() or ["none"]
    arguments = {}
    for name, spec in function.get("parameters", {}).get("properties", {}).items():
        kind = spec.get("type")
        if kind == "integer":
            arguments[name] = rng.randint(0, 9)
        elif kind == "number":
            arguments[name] = round(rng.uniform(0, 10), 2)
        elif kind == "boolean":
            arguments[name] = rng.random() < 0.5
        else:
            arguments[name] = " ".join(rng.choice(words) for _ in range(2))
    return json.dumps({"tool_calls": [{"name": function["name"], "arguments": arguments}]})


def play_baseline(
    pool: EnvPool, agent: str, task_ids: Sequence[str], seed: int = 0, first_index: int = 0
) -> list[Episode]:
    """One episode per task id with the `random` or `expert` agent, in lockstep: one batched pool step per turn.

    Episode i (counting from `first_index`, which is also its group id) draws its random actions from
    random.Random(f"{seed}/{i}"), so results depend neither on the batch size nor on the env workers.
    Steps carry the action and the environment's answer; their token fields are empty (no model).
    """
    if agent not in BASELINES:
        raise ValueError(f"unknown baseline agent {agent!r}; use one of {BASELINES}")
    pool.ensure_slots(len(task_ids))
    indices = range(first_index, first_index + len(task_ids))
    episodes = [Episode(task_id=task_id, group_id=index) for index, task_id in zip(indices, task_ids, strict=True)]
    rngs = [random.Random(f"{seed}/{index}") for index in indices]
    observations: dict[int, str] = {}
    infos: dict[int, dict] = {}
    tools: dict[int, list] = {}
    for slot, result in enumerate(pool.reset_many(list(enumerate(task_ids)))):
        if result.ok:
            observations[slot], infos[slot] = result.observation, result.info
            tools[slot] = episodes[slot].tools = result.info.get("tools")
            episodes[slot].task, episodes[slot].info = result.info.get("task", ""), result.info
        else:
            episodes[slot].error = f"reset: {result.error}"
    live = sorted(observations)
    while live:
        actions = {}
        for slot in live:
            action = _baseline_action(agent, infos[slot], tools.get(slot), observations[slot], rngs[slot])
            if action is None:
                missing = "expert_action" if agent == "expert" else "admissible_actions"
                episodes[slot].error = f"{agent} agent: the environment gives no {missing} here"
            else:
                actions[slot] = action
        results = pool.step_many(list(actions.items()))
        live = []
        for result in results:
            slot, episode, info = result.slot, episodes[result.slot], result.info
            episode.steps.append(
                Step(
                    prompt_ids=[],
                    response_ids=[],
                    logprobs=[],
                    entropies=[],
                    response=actions[slot],
                    action=actions[slot],
                    format_valid=True,
                    action_valid=bool(info.get("valid", False)),
                    env_reward=result.reward,
                    reward=result.reward,
                    observation=observations[slot],
                    anchor=infos[slot].get("anchor"),
                    truncated=False,
                    unknown_entity=bool(info.get("unknown_entity", False)),
                    tool_calls=int(info.get("tool_calls", 0)),
                    tool_failures=int(info.get("tool_failures", 0)),
                )
            )
            if not result.ok:
                episode.error = f"step: {result.error}"
                episode.won = False
                continue
            observations[slot], infos[slot] = result.observation, info
            episode.info, episode.won = info, bool(info.get("won", False))
            if not result.done and episode.length < pool.max_steps(slot):
                live.append(slot)
    return episodes


def evaluate_baseline(
    agent: str,
    env_factory: Callable[[], TextEnv],
    task_ids: Sequence[str],
    seed: int = 0,
    batch_size: int = 128,
    env_workers: int = 0,
    env_step_timeout_s: float = 60.0,
) -> tuple[dict[str, float], list[Episode]]:
    """Success rate and score of the `random` or `expert` baseline on `task_ids` (no model)."""
    episodes: list[Episode] = []
    with make_env_pool(env_factory, env_workers, timeout_s=env_step_timeout_s) as pool:
        for start in range(0, len(task_ids), batch_size):
            chunk = list(task_ids[start : start + batch_size])
            episodes += play_baseline(pool, agent, chunk, seed, first_index=start)
    return summarize(episodes), episodes
