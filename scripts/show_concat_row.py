"""Print one concat training row: its text split where the mask changes, and its tokens around each boundary.

    python scripts/show_concat_row.py --env factqa-easy          # tiny model's tokenizer, Qwen2.5 template
    python scripts/show_concat_row.py --env household-easy --model runs/quickstart/final

The row is an expert episode built by the same code as a rollout's (agentrl.rollout.demos.expert_concat_rows):
the first prompt rendered once, then each turn's ids and the environment's answer appended. docs/multiturn.md
shows its output.
"""

from __future__ import annotations

import argparse
import tempfile


def segments(ids: list[int], mask: list[int]) -> list[tuple[int, list[int]]]:
    """Runs of consecutive ids with the same mask value."""
    runs: list[tuple[int, list[int]]] = []
    for token, value in zip(ids, mask, strict=True):
        if runs and runs[-1][0] == value:
            runs[-1][1].append(token)
        else:
            runs.append((value, [token]))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="factqa-easy")
    parser.add_argument("--model", help="a model folder whose tokenizer to use (default: build the tiny one)")
    parser.add_argument("--task", type=int, default=0, help="index of the train task")
    parser.add_argument("--context", type=int, default=3, help="tokens shown on each side of a mask boundary")
    options = parser.parse_args()

    from transformers import AutoTokenizer

    from agentrl.models import build_tiny_model
    from agentrl.rollout import PromptBuilder
    from agentrl.rollout.demos import expert_concat_rows
    from agentrl.envs import make_env

    env = make_env(options.env)
    folder = options.model or build_tiny_model(tempfile.mkdtemp() + "/tiny", env, hidden_size=32, num_layers=1)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    task = env.task_ids("train")[options.task]
    (row,) = expert_concat_rows(env, PromptBuilder(tokenizer), [task], max_episode_tokens=8192, max_turn_tokens=128)
    ids, mask = row["input_ids"], row["completion_mask"]

    print(f"# {task}: {len(ids)} tokens, {sum(mask)} trained (mask 1)\n")
    for value, run in segments(ids, mask):
        text = tokenizer.decode(run, skip_special_tokens=False)
        print(f"--- mask {value} ({len(run)} tokens) ---")
        print(text)
    print("\n# tokens at each boundary (id, text, mask)")
    for index in range(1, len(ids)):
        if mask[index] != mask[index - 1]:
            window = range(max(0, index - options.context), min(len(ids), index + options.context))
            print("  ".join(f"{ids[i]}:{tokenizer.decode([ids[i]])!r}:{mask[i]}" for i in window))


if __name__ == "__main__":
    main()
