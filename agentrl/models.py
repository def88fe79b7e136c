"""Load the policy: a hub id or local folder (the real use), or the offline tiny model.

The tiny model is a small Qwen2 causal LM built from a config with a byte-level BPE tokenizer trained
on the environment's own text (expert episodes rendered through the real prompt builder), saved as a
normal Hugging Face folder with a ChatML chat template, so `AutoModelForCausalLM.from_pretrained(path)`
and `AutoTokenizer.from_pretrained(path)` load it. Nothing touches the network.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

import torch

# ChatML, as Qwen2.5 uses: the assistant turn ends with <|im_end|>, which is also the EOS token.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# The response format's tags are single tokens so a tiny model emits them in one step.
FORMAT_TOKENS = ["<think>", "</think>", "<action>", "</action>"]
# Tool environments: Qwen2.5's tool-call and tool-response tags (single tokens in Qwen2.5's own vocabulary too).
TOOL_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


# Architectures of the hub models the shipped recipes name, so a dry run resolves them with no network (the
# model_type of each model's config.json on the hub).
HUB_MODEL_TYPES = {
    "Qwen/Qwen2.5-0.5B-Instruct": "qwen2",
    "Qwen/Qwen2.5-1.5B-Instruct": "qwen2",
    "Qwen/Qwen2.5-3B-Instruct": "qwen2",
    "Qwen/Qwen2.5-7B-Instruct": "qwen2",
}


# Any of these makes a folder loadable by AutoTokenizer (a fast tokenizer, its config, BPE or sentencepiece vocab).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
    "vocab.txt",
)


class ModelPathError(ValueError):
    """`model_name_or_path` names neither a local folder, a hub id, nor the tiny model."""


def check_model_name_or_path(name: str) -> None:
    """Fail before any loading when `name` is a local path that does not exist (or not a model folder)."""
    from agentrl.config import TINY_MODEL

    if name == TINY_MODEL:
        return
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            raise ModelPathError(
                f"model_name_or_path {name!r} is a folder without config.json or adapter_config.json. Point it at a "
                f"saved model (e.g. RUN_DIR/final), a hub id like Qwen/Qwen2.5-1.5B-Instruct, or '{TINY_MODEL}'."
            )
        if is_adapter_folder(path):
            adapter_base(path)  # its base model must be there too
        if not any((path / file).is_file() for file in TOKENIZER_FILES):
            # AutoTokenizer would load an empty tokenizer from config.json alone and fail later for another reason
            raise ModelPathError(
                f"model_name_or_path {name!r} has no tokenizer files (none of {', '.join(TOKENIZER_FILES)}). Save the "
                "tokenizer there too (`tokenizer.save_pretrained(folder)`, or copy those files from the model it was "
                "trained from)."
            )
        return
    if looks_like_path(name):
        raise ModelPathError(
            f"model_name_or_path {name!r} does not exist. Fix the path in the recipe key `model_name_or_path` "
            f"(or --model_name_or_path), use a hub id like Qwen/Qwen2.5-1.5B-Instruct, or '{TINY_MODEL}' for the "
            "offline tiny model."
        )


def resolve_model_class(name: str) -> tuple[str, str]:
    """(model_type, causal-LM class name) of `name` without loading weights: a local folder's config.json, a cached
    hub config, the table above, or the hub itself. ModelPathError when none knows it or it is not a causal LM."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from agentrl.config import TINY_MODEL

    if name == TINY_MODEL:
        model_type = "qwen2"
    elif Path(name).expanduser().exists():
        folder = adapter_base(name) if is_adapter_folder(name) else name
        model_type = AutoConfig.from_pretrained(folder).model_type
    else:
        try:
            model_type = AutoConfig.from_pretrained(name, local_files_only=True).model_type
        except OSError:
            model_type = HUB_MODEL_TYPES.get(name)
        if model_type is None:
            try:
                model_type = AutoConfig.from_pretrained(name).model_type
            except OSError as error:
                raise ModelPathError(
                    f"cannot resolve model {name!r}: not cached, not among the known hub models "
                    f"({', '.join(HUB_MODEL_TYPES)}), and the hub did not answer ({str(error).splitlines()[0]})."
                ) from error
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ModelPathError(f"model {name!r} is a {model_type!r} model, which has no causal-LM class in transformers")
    return model_type, MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[model_type]


def looks_like_path(name: str) -> bool:
    """A hub id is "name" or "org/name"; anything else is meant as a local path."""
    return name.startswith((".", "/", "~")) or not _HUB_ID.match(name)


def is_adapter_folder(path: str | os.PathLike) -> bool:
    """A PEFT adapter folder (adapter_config.json), as `final/` of a `use_peft: true` run."""
    return (Path(path).expanduser() / "adapter_config.json").is_file()


def adapter_base(folder: str | os.PathLike) -> str:
    """The base model of the adapter in `folder` (adapter_config.json's base_model_name_or_path), checked.

    agentrl's runs write a local path there (RUN_DIR/base_model or RUN_DIR/sft_warmup): when it no longer
    exists (the run folder was moved or copied), a ModelPathError says so and how to fix it. Hub ids are not checked.
    """
    folder = Path(folder).expanduser()
    config = folder / "adapter_config.json"
    try:
        base = json.loads(config.read_text()).get("base_model_name_or_path")
    except (OSError, ValueError) as error:
        raise ModelPathError(f"cannot read {str(config)!r}: {error}") from error
    if not base:
        raise ModelPathError(f"{str(config)!r} names no base_model_name_or_path; set it to the base model's folder")
    if looks_like_path(base) and not Path(base).expanduser().exists():
        sibling = folder.parent / Path(base).name  # the same run's copy, when the whole run folder moved
        found = f" The run folder holds {str(sibling)!r}: use that." if (sibling / "config.json").is_file() else ""
        raise ModelPathError(
            f"the base model of the LoRA adapter {str(folder)!r} does not exist: {base!r} (base_model_name_or_path "
            f"in {str(config)!r}; was the run folder moved?).{found} Fix base_model_name_or_path there, or merge the "
            f"adapter with `agentrl export {folder} --merge --base BASE_MODEL_FOLDER`."
        )
    return base


def qwen2_5_chat_template() -> str:
    """Qwen2.5-Instruct's chat template (tools in the system prompt, <tool_call> / <tool_response>), as TRL ships it."""
    from trl.chat_template_utils import qwen2_5_chat_template as template

    return template


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 1024, tools: bool = False):
    """A byte-level BPE tokenizer trained in memory on `corpus`, with ChatML special tokens and template
    (`tools`: Qwen2.5's template and tool tags, for tool environments)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    # The saved folder says model_type qwen2, so AutoTokenizer loads it as a Qwen2Tokenizer, which imposes
    # Qwen2's normalizer and pre-tokenizer. Train with exactly those so the loaded tokenizer splits text the
    # same way as the one trained here (a test checks the two agree).
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    tokenizer.add_tokens(FORMAT_TOKENS + (TOOL_TOKENS if tools else []))
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        model_max_length=4096,
    )
    wrapped.chat_template = qwen2_5_chat_template() if tools else CHATML_TEMPLATE
    return wrapped


def has_tools(env) -> bool:
    """The environment's actions are tool calls (envs/tools.py): its reset info declares tools."""
    return bool(env.reset(env.task_ids("train")[0])[1].get("tools"))


def environment_corpus(env, prompt_builder, num_tasks: int = 300, tools: bool = False) -> list[str]:
    """Text the tiny tokenizer is trained on: rendered prompts and expert responses of expert episodes (`tools`, a
    tool environment: whole expert conversations rendered by Qwen2.5's template, tool declarations included)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    from agentrl.rollout.demos import expert_conversations, expert_episodes_text
    from agentrl.rollout.parser import format_response

    task_ids = env.task_ids("train")[:num_tasks]
    if tools:
        template = qwen2_5_chat_template()
        return [
            render_jinja_template([messages], tools=tools, chat_template=template)[0][0]
            for messages, tools in expert_conversations(env, prompt_builder, task_ids)
        ]
    # The chat template's role names belong to every prompt: give them whole tokens too.
    corpus = expert_episodes_text(env, prompt_builder, task_ids)
    if not corpus:  # no expert and no demonstrations: the environment's words come from its first prompts
        corpus = [format_response("")]
        for task_id in task_ids:
            observation, info = env.reset(task_id)
            corpus.append(prompt_builder.text(info["task"], observation, [], info.get("admissible_actions", [])))
    return ["user\nassistant\n"] * 100 + corpus


# Qwen2.5-1.5B-Instruct's architecture (its config.json): the shape of the 1.5B recipes, for random-weight benchmarks.
QWEN2_5_1_5B = {
    "vocab_size": 151936,
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
}


def build_tiny_model(
    save_dir: str | os.PathLike,
    env,
    hidden_size: int = 128,
    num_layers: int = 2,
    vocab_size: int = 1024,
    seed: int = 0,
    corpus_tasks: int = 300,
    architecture: dict | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Build and save the tiny Qwen2 policy + tokenizer for `env` into `save_dir`; return the folder. The tokenizer
    is trained on `corpus_tasks` expert episodes (fewer for a dry run: ALFWorld's expert takes ~1 s an episode).

    `architecture`: Qwen2Config fields that replace the tiny shape (e.g. QWEN2_5_1_5B, a real model's size with
    random weights, for benchmarks); its vocabulary may be larger than the tokenizer's. `dtype`: saved weights."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from agentrl.rollout.prompt import PromptBuilder

    save_dir = Path(save_dir)
    tools = has_tools(env)
    corpus = environment_corpus(env, PromptBuilder(tokenizer=None), num_tasks=corpus_tasks, tools=tools)
    tokenizer = train_tokenizer(corpus, vocab_size=vocab_size, tools=tools)
    shape = {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": True,
        **(architecture or {}),
    }
    if shape["vocab_size"] < len(tokenizer):
        raise ValueError(f"architecture vocab_size {shape['vocab_size']} < the tokenizer's {len(tokenizer)} tokens")
    config = Qwen2Config(
        **shape, bos_token_id=None, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    if dtype is not None:
        model = model.to(dtype)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(save_dir)
    tokenizer.save_pretrained(save_dir)
    with open(save_dir / "agentrl_tiny.json", "w") as f:
        json.dump({"env": env.name, "hidden_size": hidden_size, "num_layers": num_layers, "seed": seed}, f)
    return save_dir


def load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    if tokenizer.pad_token is None:  # many chat models ship without one; padding is masked anyway
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        raise ValueError(
            f"the tokenizer of {name_or_path!r} has no chat template; agentrl renders every step prompt with it. "
            "Use an instruct/chat model or set tokenizer.chat_template and save it."
        )
    return tokenizer


def load_policy(name_or_path: str, dtype: torch.dtype | str = "auto"):
    """Load a causal LM (full model, or a PEFT adapter folder with its base) for training or evaluation."""
    from transformers import AutoModelForCausalLM

    path = Path(name_or_path).expanduser()
    if (path / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM

        return AutoPeftModelForCausalLM.from_pretrained(str(path), dtype=dtype, is_trainable=True)
    return AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype)


def lora_config(args):
    """The PEFT LoraConfig a run with `use_peft: true` trains."""
    from peft import LoraConfig

    return LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=args.lora_target_modules or "all-linear",
        task_type="CAUSAL_LM",
    )
