"""Multi-turn rollouts: episode records, prompt builder, action parser, generator, collector, rows."""

from agentrl.rollout.collector import RolloutCollector
from agentrl.rollout.episode import Episode, Step
from agentrl.rollout.generator import Generation, Generator, HFGenerator
from agentrl.rollout.parser import ParsedAction, format_response, parse_action
from agentrl.rollout.prompt import PromptBuilder, Turn
from agentrl.rollout.samples import concat_rows, loss_mask, per_step_rows

__all__ = [
    "Episode",
    "Generation",
    "Generator",
    "HFGenerator",
    "ParsedAction",
    "PromptBuilder",
    "RolloutCollector",
    "Step",
    "Turn",
    "concat_rows",
    "format_response",
    "loss_mask",
    "parse_action",
    "per_step_rows",
]
