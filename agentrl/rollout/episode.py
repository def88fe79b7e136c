"""Episode records: what the rollout saw and produced, token for token."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from agentrl.entropy.measures import step_entropy


@dataclass
class Step:
    # per_step: exactly the ids the model was given; concat: the ids added to the context before this turn
    # (step 0: the first prompt; later: the end of the previous turn and the environment's answer), so the
    # model was given every step's prompt_ids and response_ids up to here, concatenated (Episode.context_ids)
    prompt_ids: list[int]
    response_ids: list[int]  # exactly the ids it produced (EOS included when it stopped by itself)
    logprobs: list[float]  # log pi_rollout(token) at the sampling temperature, one per response id
    entropies: list[float]  # full-vocabulary entropy (nats) of each response token's distribution
    response: str  # decoded response
    action: str  # parsed action sent to the environment
    format_valid: bool  # <think>..</think><action>..</action> present
    action_valid: bool  # the environment understood the action
    env_reward: float  # reward the environment returned
    reward: float  # env_reward minus the invalid-format penalty
    observation: str  # the observation this step's prompt showed
    anchor: Hashable  # raw-state key of that observation (GiGPO anchor states)
    truncated: bool  # the response hit the token budget without EOS
    unknown_entity: bool = False  # the action named something that does not exist in the episode
    tool_calls: int = 0  # tool environments: calls attempted this turn
    tool_failures: int = 0  # tool environments: calls that failed (malformed, unknown tool, bad arguments, raised)
    policy_logprobs: list[float] | None = None  # the policy's log-probs from the rollout's scoring pass (vLLM)

    @property
    def entropy(self) -> float:
        """Step entropy: mean token entropy over the step's generated tokens."""
        return step_entropy(self.entropies)


def tool_call_counts(steps: Iterable[Step]) -> tuple[int, int, int]:
    """(calls attempted, calls failed, attempts) of tool-environment steps: an output without a well-formed call is
    one attempt and one failure (the environment counts it as a failure; it made no call)."""
    calls = failures = attempts = 0
    for step in steps:
        calls += step.tool_calls
        failures += step.tool_failures
        attempts += step.tool_calls + (not step.format_valid)
    return calls, failures, attempts


@dataclass
class Episode:
    task_id: str
    group_id: int  # episodes of one group share task_id and are normalised together
    task: str = ""
    steps: list[Step] = field(default_factory=list)
    won: bool = False
    error: str | None = None  # the environment raised: the episode ended as failed
    info: dict = field(default_factory=dict)  # last info from the environment
    # concat format only:
    messages: list[dict] = field(default_factory=list)  # the conversation (assistant content = decoded response)
    tools: list[dict] | None = None  # JSON schemas of the tool environment's tools
    context_truncated: bool = False  # ended because the next turn would not fit in max_episode_tokens

    @property
    def total_reward(self) -> float:
        """Return used for advantages: env rewards minus format penalties."""
        return sum(step.reward for step in self.steps)

    @property
    def score(self) -> float:
        """Environment score (no penalties): what evaluation reports next to success."""
        return sum(step.env_reward for step in self.steps)

    @property
    def length(self) -> int:
        return len(self.steps)

    def context_ids(self, turn: int | None = None) -> list[int]:
        """concat: the ids the model was given at `turn` (None: the whole row, every turn's response included)."""
        ids: list[int] = []
        for number, step in enumerate(self.steps):
            ids += step.prompt_ids
            if number == turn:
                return ids
            ids += step.response_ids
        return ids
