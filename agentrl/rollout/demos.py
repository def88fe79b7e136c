"""Expert demonstrations, rendered through the same prompt builder the rollouts use.

Used to train the tiny tokenizer (text) and for the SFT warm-up (token ids): the warm-up then teaches
exactly the prompt layout the policy will see during RL, per step or concatenated (the concat rows are
built by the same context code as the rollouts, so they hold the ids a rollout would).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from agentrl.rollout.chat import ChatTokens
from agentrl.rollout.contexts import ConcatContext, EpisodeState, answer_messages, first_message
from agentrl.rollout.episode import Episode, Step
from agentrl.rollout.parser import format_response
from agentrl.rollout.prompt import PromptBuilder, Turn
from agentrl.rollout.samples import concat_rows
from agentrl.rollout.tool_calls import format_tool_calls
from agentrl.envs.base import TextEnv


def expert_response(action: str, tools: bool) -> str:
    """The response that plays the expert's action: tool calls for a tool environment, else <think>/<action>."""
    return format_tool_calls(json.loads(action)["tool_calls"]) if tools else format_response(action)


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


def expert_sft_rows(
    env: TextEnv, prompt_builder: PromptBuilder, task_ids: Sequence[str], stop_ids: Sequence[int] | None = None
) -> list[dict]:
    """Pre-tokenized SFT rows: {"input_ids": prompt + response + the turn's closing id, "completion_mask": 0 on
    prompt, 1 after}. The closing id is the template's end-of-turn token when it is one of the model's `stop_ids`
    (rollout/chat.py `ChatTokens.closing_id`; default stop ids: the tokenizer's EOS)."""
    tokenizer = prompt_builder.tokenizer
    closing = ChatTokens(tokenizer, stop_ids).closing_id()
    rows = []
    for task, observation, history, admissible, action in expert_transitions(env, task_ids):
        prompt_ids = prompt_builder.token_ids(task, observation, history, admissible)
        response_ids = tokenizer(format_response(action), add_special_tokens=False)["input_ids"]
        response_ids = response_ids + [closing]
        rows.append(
            {
                "input_ids": prompt_ids + response_ids,
                "completion_mask": [0] * len(prompt_ids) + [1] * len(response_ids),
            }
        )
    return rows


def expert_conversations(
    env: TextEnv, prompt_builder: PromptBuilder, task_ids: Sequence[str]
) -> Iterator[tuple[list[dict], list[dict] | None]]:
    """(messages, tools) of every expert episode as the concat format writes it (text only, no tokenizer)."""
    for task_id in task_ids:
        observation, info = env.reset(task_id)
        tools = info.get("tools") or None
        messages = [first_message(prompt_builder, info["task"], observation, info)]
        done, turns = False, 0
        while not done and info.get("expert_action") and turns < env.max_steps:
            messages.append({"role": "assistant", "content": expert_response(info["expert_action"], bool(tools))})
            observation, _, done, info = env.step(info["expert_action"])
            turns += 1
            if not done:
                messages += answer_messages(prompt_builder, turns + 1, observation, info)
        yield messages, tools


def expert_concat_rows(
    env: TextEnv,
    prompt_builder: PromptBuilder,
    task_ids: Sequence[str],
    max_episode_tokens: int,
    max_turn_tokens: int,
    stop_ids: Sequence[int] | None = None,
) -> list[dict]:
    """One pre-tokenized SFT row per expert episode, built by the rollouts' concat code: {"input_ids": the whole
    conversation, "completion_mask": 1 exactly on the expert's response ids (their closing id included)}."""
    tokenizer = prompt_builder.tokenizer
    context = ConcatContext(prompt_builder, max_episode_tokens, max_turn_tokens, stop_ids)
    episodes = []
    for task_id in task_ids:
        state = EpisodeState(Episode(task_id=task_id, group_id=0))
        state.observation, state.info = env.reset(task_id)
        state.episode.task = state.info["task"]
        context.start(state)
        while not state.done and state.info.get("expert_action"):
            action = state.info["expert_action"]
            text = expert_response(action, bool(state.episode.tools))
            response_ids = context.chat.encode(text) + [context.chat.closing_id(state.episode.tools)]
            step_ids = context.new_ids(state, [])
            observation, reward, done, info = env.step(action)
            zeros = [0.0] * len(response_ids)  # no sampling: demonstrations carry no logprobs or entropies
            state.episode.steps.append(
                Step(
                    prompt_ids=step_ids,
                    response_ids=response_ids,
                    logprobs=zeros,
                    entropies=zeros,
                    response=text,
                    action=action,
                    format_valid=True,
                    action_valid=True,
                    env_reward=reward,
                    reward=reward,
                    observation=state.observation,
                    anchor=None,
                    truncated=False,
                )
            )
            state.done = done or state.episode.length >= env.max_steps
            state.done = context.advance(state, response_ids, text, observation, info) or state.done
            state.observation, state.info = observation, info
        if state.episode.steps and not state.episode.context_truncated:
            episodes.append(state.episode)
    rows = concat_rows(episodes, [0.0] * sum(e.length for e in episodes), tokenizer.pad_token_id)
    result = []
    for row in range(rows["prompt_ids"].size(0)):
        prompt = rows["prompt_ids"][row][rows["prompt_mask"][row].bool()].tolist()
        attended = rows["completion_mask"][row].bool()
        result.append(
            {
                "input_ids": prompt + rows["completion_ids"][row][attended].tolist(),
                "completion_mask": [0] * len(prompt) + rows["tool_mask"][row][attended].tolist(),
            }
        )
    return result
