"""Rollout overhead: the collector's generated tokens/s vs plain `model.generate` on the same work.

The collector runs N episodes of an environment (prompt building, batched generation with logprob and
entropy recording, parsing, env steps). The baseline replays exactly the prompts of each of the
collector's turns through one plain `model.generate` call per turn, with the same sampling settings
and token budget, and nothing else. Both generate exactly `max_new_tokens` per sequence
(min_new_tokens = max_new_tokens), so token counts match. Prints JSON; target ratio >= 0.8.

    python scripts/bench_rollout.py [--model PATH|tiny] [--env household-easy] [--episodes 64]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch


class _TimedGenerator:
    """Wraps the collector's generator to keep each turn's prompts for the baseline replay."""

    def __init__(self, inner):
        self.inner = inner
        self.turn_prompts = []

    def generate(self, prompts):
        self.turn_prompts.append([list(p) for p in prompts])
        return self.inner.generate(prompts)


def plain_generate(model, tokenizer, prompts, max_new_tokens, temperature):
    from agentrl.rollout.samples import pad_sequences

    ids = pad_sequences(prompts, tokenizer.pad_token_id, "left")
    mask = pad_sequences([[1] * len(p) for p in prompts], 0, "left")
    width = ids.size(1)
    out = model.generate(
        input_ids=ids,
        attention_mask=mask,
        do_sample=True,
        temperature=temperature,
        top_k=0,
        top_p=1.0,
        max_new_tokens=max_new_tokens,
        min_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
    )
    return (out.size(1) - width) * len(prompts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--env", default="household-easy")
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--max_new_tokens", type=int, default=24)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agentrl.models import build_tiny_model
    from agentrl.rollout import HFGenerator, PromptBuilder, RolloutCollector
    from agentrl.envs import make_env

    path = options.model
    if path == "tiny":
        path = build_tiny_model(tempfile.mkdtemp(), make_env(options.env))
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    tasks = make_env(options.env).task_ids("train")
    task_ids = [tasks[i // 8] for i in range(options.episodes)]

    results = []
    for repeat in range(options.repeats):
        torch.manual_seed(repeat)
        inner = HFGenerator(model, tokenizer, options.max_new_tokens, options.temperature)
        inner.generation_config.min_new_tokens = options.max_new_tokens  # same token count as the baseline
        timed = _TimedGenerator(inner)
        collector = RolloutCollector(lambda: make_env(options.env), PromptBuilder(tokenizer, 2))
        started = time.perf_counter()
        episodes = collector.collect(timed, task_ids, [i // 8 for i in range(len(task_ids))])
        collector_s = time.perf_counter() - started
        collector_tokens = sum(len(s.response_ids) for e in episodes for s in e.steps)

        started = time.perf_counter()
        with torch.no_grad():
            plain_tokens = sum(
                plain_generate(model, tokenizer, prompts, options.max_new_tokens, options.temperature)
                for prompts in timed.turn_prompts
            )
        plain_s = time.perf_counter() - started
        results.append(
            {
                "collector_tokens_per_s": collector_tokens / collector_s,
                "plain_generate_tokens_per_s": plain_tokens / plain_s,
                "collector_tokens": collector_tokens,
                "plain_tokens": plain_tokens,
                "turns": len(timed.turn_prompts),
            }
        )
    ratios = [r["collector_tokens_per_s"] / r["plain_generate_tokens_per_s"] for r in results]
    report = {
        "env": options.env,
        "model": str(options.model),
        "episodes": options.episodes,
        "max_new_tokens": options.max_new_tokens,
        "turns": results[0]["turns"],
        "collector_tokens": results[0]["collector_tokens"],
        "plain_generate_tokens": results[0]["plain_tokens"],
        "collector_tokens_per_s": statistics.median(r["collector_tokens_per_s"] for r in results),
        "plain_generate_tokens_per_s": statistics.median(r["plain_generate_tokens_per_s"] for r in results),
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "target_ratio": 0.8,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
