"""Token-level chat for concatenated trajectories: render once, then only append ids.

A concat episode is one growing sequence of token ids. The first prompt is rendered by the tokenizer's
chat template; after that nothing is ever re-rendered or re-tokenized: each turn appends the ids the model
generated (exactly as sampled), then the ids of the environment / tool message(s) that answer it. Those
are found by rendering a fixed two-message probe conversation with and without the new messages and
tokenizing the text the template adds (its "glue": end of the assistant turn, the new message's header,
content and end, the next assistant header). So the row trained on is, token for token, the sequence the
model was given at every turn, whatever the template would do to a re-rendered history.

A turn the model ended with the template's own end-of-turn token (<|im_end|>, <|eot_id|>) continues with the
rest of the template's end; a turn cut by the token budget, or ended on another of the model's stop ids
(Qwen's <|endoftext|>, Llama's <|eom_id|>; rollout/generator.py `stop_token_ids`), keeps what it produced and
gets the template's whole end of turn, so every turn in the context is closed the way the template closes it.
Demonstrations and the template check end a turn with `ChatTokens.closing_id`: the template's end-of-turn
token when it is one of the model's stop ids.

`template_report` says whether re-rendering a conversation gives the same ids as appending (templates that
drop earlier reasoning, like Qwen3's, do not): such a model is trained consistently, but at inference a
server that re-renders the history shows it a different context than the one it was trained on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from agentrl.rollout.generator import stop_token_ids

_SENTINEL = "AGENTRL_PROBE_CONTENT"  # assistant content of the probe conversation; located by text search
_PROBE = [{"role": "user", "content": "probe"}, {"role": "assistant", "content": _SENTINEL}]


class ChatTemplateError(ValueError):
    """The chat template cannot be used for concatenated trajectories (it rewrites earlier messages)."""


def _as_ids(encoded) -> list[int]:
    if isinstance(encoded, dict) or hasattr(encoded, "input_ids"):  # some tokenizers return a BatchEncoding
        encoded = encoded["input_ids"]
    return list(encoded)


@dataclass
class ChatTokens:
    """Renders the first prompt, then the ids appended after each model turn. `stop_ids`: the model's stop ids
    (default: the tokenizer's EOS alone)."""

    tokenizer: object
    stop_ids: Sequence[int] | None = None
    # end-of-turn text per tool set: it is the same for every turn of every episode, so the probe is rendered once
    _end_of_turn: dict[str, str] = field(default_factory=dict, repr=False)

    def render(self, messages: Sequence[dict], tools: Sequence[dict] | None, add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            list(messages),
            tools=list(tools) if tools else None,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )

    def encode(self, text: str) -> list[int]:
        """Ids of template text: special tokens in it (<|im_start|>, ...) are matched, none are added."""
        return _as_ids(self.tokenizer(text, add_special_tokens=False))

    def prompt_ids(self, messages: Sequence[dict], tools: Sequence[dict] | None = None) -> list[int]:
        """The first prompt: the conversation so far with the assistant header appended."""
        return self.encode(self.render(messages, tools, add_generation_prompt=True))

    def _end_of_turn_text(self, tools: Sequence[dict] | None) -> str:
        key = json.dumps(tools, sort_keys=True) if tools else ""
        if key not in self._end_of_turn:
            text = self.render(_PROBE, tools, add_generation_prompt=False)
            self._end_of_turn[key] = text[text.rindex(_SENTINEL) + len(_SENTINEL) :]
        return self._end_of_turn[key]

    def __post_init__(self):
        if self.stop_ids is None:
            self.stop_ids = stop_token_ids(self.tokenizer)

    def closing_id(self, tools: Sequence[dict] | None = None) -> int:
        """The id a turn ends with: the first id of what the template writes after an assistant message's content
        (ChatML: <|im_end|>, Llama 3: <|eot_id|>) when it is a stop id, else the first stop id (the tokenizer's EOS,
        TRL's order). A demonstration ending with it needs no other end-of-turn id from the template."""
        end = self.encode(self._end_of_turn_text(tools))
        return end[0] if end and end[0] in self.stop_ids else self.stop_ids[0]

    def continuation_ids(
        self, response_ids: Sequence[int], messages: Sequence[dict], tools: Sequence[dict] | None = None
    ) -> list[int]:
        """Ids to append after a model turn (`response_ids`) so the context holds `messages` next and ends with
        the assistant header again: the rest of the turn's end (the model already produced its stop token,
        or, when it was cut off by the token budget, none of it), then the messages as the template writes them.

        Only what the template writes after the probe's assistant content is used, so a template may change
        what comes before it once more messages follow (Qwen3 drops the empty <think></think> of earlier turns);
        it may not change the content's own end.
        """
        end = self._end_of_turn_text(tools)
        after = self.render(_PROBE + list(messages), tools, add_generation_prompt=True)
        rest = after[after.index(_SENTINEL) + len(_SENTINEL) :]
        if not rest.startswith(end):
            raise ChatTemplateError(
                "the chat template ends an assistant message differently once another message follows it, so "
                "ids cannot be appended turn by turn. Use trajectory_format: per_step, or a chat template that "
                "leaves earlier messages as they are (Qwen2.5 / ChatML style)."
            )
        end_ids = self.encode(end)
        produced = _suffix_overlap(response_ids, end_ids)
        return end_ids[produced:] + self.encode(rest[len(end) :])

    def rerender_ids(self, messages: Sequence[dict], tools: Sequence[dict] | None = None) -> list[int]:
        """The whole conversation rendered again by the template (what a server that re-renders would show)."""
        return self.encode(self.render(messages, tools, add_generation_prompt=False))


def _suffix_overlap(response_ids: Sequence[int], end: Sequence[int]) -> int:
    """The largest k such that the response ends with the first k ids of the template's end of turn."""
    for k in range(min(len(end), len(response_ids)), 0, -1):
        if list(response_ids[-k:]) == list(end[:k]):
            return k
    return 0


def first_difference(appended: Sequence[int], rerendered: Sequence[int]) -> int | None:
    """Index of the first id where the appended sequence and the re-rendered one differ (None: the appended
    ids are a prefix of the re-rendered ones, which may go on with the end of the last turn)."""
    for index, (a, b) in enumerate(zip(appended, rerendered, strict=False)):
        if a != b:
            return index
    return None if len(appended) <= len(rerendered) else len(rerendered)


def template_report(
    tokenizer, tools: Sequence[dict] | None = None, stop_ids: Sequence[int] | None = None
) -> str | None:
    """None if re-rendering a two-turn conversation with reasoning gives exactly the appended ids; otherwise a
    message naming the first difference. The probe's assistant turns carry <think> reasoning, so templates that
    drop earlier reasoning (Qwen3) or rewrite history in any other way are reported. Each reply ends with the
    turn's closing id (`ChatTokens.closing_id`, from the model's `stop_ids`)."""
    chat = ChatTokens(tokenizer, stop_ids)
    first = [{"role": "user", "content": "What is 2 + 3?"}]
    replies = ["<think>2 plus 3 is 5.</think>The answer is 5.", "<think>5 times 2 is 10.</think>It is 10."]
    closing = chat.closing_id(tools)
    ids = chat.prompt_ids(first, tools)
    messages = list(first)
    for number, reply in enumerate(replies):
        response = chat.encode(reply) + [closing]
        ids += response
        messages.append({"role": "assistant", "content": reply})
        if number < len(replies) - 1:
            follow_up = [{"role": "user", "content": "And times 2?"}]
            ids += chat.continuation_ids(response, follow_up, tools)
            messages += follow_up
    rerendered = chat.rerender_ids(messages, tools)
    index = first_difference(ids, rerendered)
    if index is None:
        return None
    appended = tokenizer.decode(ids[index : index + 12])
    again = tokenizer.decode(rerendered[index : index + 12])
    return (
        f"the chat template re-renders a conversation differently from the concatenated turns (first difference at "
        f"token {index}: appended {appended!r}, re-rendered {again!r}); templates that drop earlier <think> reasoning "
        "(Qwen3) do this. Training stays exact (rows hold the ids the model saw), but a server that re-renders the "
        "history will show the model contexts it was not trained on."
    )
