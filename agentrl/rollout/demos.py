"""Expert demonstrations, rendered through the same prompt builder the rollouts use.

Used to train the tiny tokenizer (text) and for the SFT warm-up (token ids): the warm-up then teaches
exactly the prompt layout the policy will see during RL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from agentrl.rollout.parser import format_response
from agentrl.rollout.prompt import PromptBuilder, Turn
from envs.base import TextEnv


def expert_transitions(env: TextEnv, task_ids: Sequence[str]) -> Iterator[tuple[str, str, list[Turn], list[str], str]]:
    """(task, observation, history, admissible_actions, expert_action) for every step of expert episodes."""
    for task_id in task_ids:
        observation, info = env.reset(task_id)
        history: list[Turn] = []
        done = False
        while not done and info.get("expert_action"):
            action = info["expert_action"]
            yield info["task"], observation, list(history), list(info.get("admissible_actions", [])), action
            history.append(Turn(observation=observation, action=action))
            observation, _, done, info = env.step(action)


def expert_episodes_text(env: TextEnv, prompt_builder: PromptBuilder, task_ids: Sequence[str]) -> list[str]:
    """Prompt text and expert response of every expert step (a tokenizer-training corpus)."""
    corpus = []
    for task, observation, history, admissible, action in expert_transitions(env, task_ids):
        corpus.append(prompt_builder.text(task, observation, history, admissible))
        corpus.append(format_response(action))
    return corpus


def expert_sft_rows(env: TextEnv, prompt_builder: PromptBuilder, task_ids: Sequence[str]) -> list[dict]:
    """Pre-tokenized SFT rows: {"input_ids": prompt + response + EOS, "completion_mask": 0 on prompt, 1 after}."""
    tokenizer = prompt_builder.tokenizer
    rows = []
    for task, observation, history, admissible, action in expert_transitions(env, task_ids):
        prompt_ids = prompt_builder.token_ids(task, observation, history, admissible)
        response_ids = tokenizer(format_response(action), add_special_tokens=False)["input_ids"]
        response_ids = response_ids + [tokenizer.eos_token_id]
        rows.append(
            {
                "input_ids": prompt_ids + response_ids,
                "completion_mask": [0] * len(prompt_ids) + [1] * len(response_ids),
            }
        )
    return rows
