"""Run under `accelerate launch` with 2 processes: multi-turn rollouts through a collective generation backend.

Rank 0's episodes end after 1 step, rank 1's after 3, so rank 0 runs out of live episodes first and must keep
joining the collective generate calls (as in vLLM server mode) until rank 1 is done, sending as many prompts
as rank 1 so that TRL's slicing of the gathered outputs stays aligned. argv[1]: the tiny model folder;
argv[2]: a JSON file for rank 0 to write every rank's prompts per call, episode lengths, and whether each
recorded response is the one the engine generated for that episode's own prompt.
"""

import json
import sys

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from transformers import AutoModelForCausalLM, AutoTokenizer

from agentrl.algorithms.distributed import global_max
from agentrl.rollout import HFGenerator, PromptBuilder, RolloutCollector
from agentrl.rollout.vllm_backend import VLLMGenerator
from agentrl.envs import make_env
from tests.hf_engine import HFEngine


def no_scores(prompts, responses):
    return [[0.0] * len(r) for r in responses], [[0.0] * len(r) for r in responses]


if __name__ == "__main__":
    accelerator = Accelerator(cpu=True)
    rank = accelerator.process_index
    torch.manual_seed(rank)
    model = AutoModelForCausalLM.from_pretrained(sys.argv[1])
    tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
    engine = HFEngine(model, tokenizer, collective=True)
    generator = VLLMGenerator(
        engine,
        {tokenizer.eos_token_id},
        max_new_tokens=4,
        temperature=0.0,  # greedy: a response is a function of its prompt, so misrouted outputs show
        score=no_scores,
        max_over_ranks=lambda value: int(global_max(torch.tensor([value]))),
    )
    steps = 1 if rank == 0 else 3
    collector = RolloutCollector(lambda: make_env("household-easy", max_steps=steps), PromptBuilder(tokenizer, 2))
    task = f"household-easy/train/0000{rank + 1}"  # different prompts on the two ranks
    episodes = collector.collect(generator, [task] * 2, [0, 0])
    collector.close()
    greedy = HFGenerator(model, tokenizer, max_new_tokens=4, temperature=0.0)
    own = [greedy.generate([s.prompt_ids])[0].token_ids == s.response_ids for e in episodes for s in e.steps]
    report = gather_object([{"rank": rank, "calls": engine.calls, "lengths": [e.length for e in episodes], "own": own}])
    if accelerator.is_main_process:
        with open(sys.argv[2], "w") as f:
            json.dump(report, f)
    accelerator.wait_for_everyone()
    torch.distributed.destroy_process_group()  # a gloo group left to interpreter exit can abort a rank
