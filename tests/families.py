"""Offline stand-ins for the tokenizers of the model families the recipes name: Qwen2.5-Instruct, Qwen3 and
Llama-3.1-Instruct, with a tiny random model of the family's architecture each.

No hub access: the vocabulary is a small byte-level BPE trained on agentrl's environments' text, but everything
chat templates and generation depend on is the family's own, as its hub repository ships it:
- the special and added tokens, in the family's order, each with the family's `special` flag (Qwen's <tool_call>,
  <think>, ... are added tokens that are NOT special, so decoding with skip_special_tokens keeps them, as it must
  for tool calls and reasoning to reach the parser),
- the eos / pad / bos tokens of tokenizer_config.json, and Llama's <|begin_of_text|> post-processor,
- the generation config's EOS ids (Qwen2.5-Instruct and Qwen3: <|im_end|> and <|endoftext|>; Llama-3.1-Instruct:
  <|end_of_text|>, <|eom_id|> and <|eot_id|>),
- the chat template, as TRL ships it (trl/chat_templates/: qwen2_5.jinja, qwen3.jinja, llama3_1.jinja; TRL
  recognises a model by comparing its template with these texts),
- the pre-tokenizer's split pattern (Llama 3 groups up to 3 digits, Qwen splits every digit).
Ids differ from the real ones (the vocabulary is small); every test compares by token text or against the
tokenizer's own rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen2.5's added tokens (ids 151643-151664 there), in order; True = special.
QWEN2_5_TOKENS = [
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
]
# Qwen3 adds these four (ids 151665-151668), none special.
QWEN3_TOKENS = QWEN2_5_TOKENS + [
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
]
# Llama 3's 256 special tokens (ids 128000-128255), all special.
_LLAMA3_NAMED = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>",
    "<|reserved_special_token_2|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eom_id|>",
    "<|eot_id|>",
    "<|python_tag|>",
]
LLAMA3_TOKENS = [(t, True) for t in _LLAMA3_NAMED] + [
    (f"<|reserved_special_token_{n}|>", True) for n in range(3, 3 + 256 - len(_LLAMA3_NAMED))
]


@dataclass(frozen=True)
class Family:
    name: str
    template: str  # attribute of trl.chat_template_utils
    tokens: list[tuple[str, bool]]
    eos: str
    pad: str | None
    bos: str | None
    generation_eos: tuple[str, ...]  # generation_config.json's eos_token_id, by token text
    generation_bos: str | None
    pattern: str
    architecture: str  # transformers config class
    prepends_bos: bool = False  # the tokenizer's post-processor adds bos (with add_special_tokens=True)


FAMILIES = {
    "qwen2.5": Family(
        "qwen2.5",
        "qwen2_5_chat_template",
        QWEN2_5_TOKENS,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        bos=None,
        generation_eos=("<|im_end|>", "<|endoftext|>"),
        generation_bos="<|endoftext|>",
        pattern=QWEN_PATTERN,
        architecture="Qwen2Config",
    ),
    "qwen3": Family(
        "qwen3",
        "qwen3_chat_template",
        QWEN3_TOKENS,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        bos=None,
        generation_eos=("<|im_end|>", "<|endoftext|>"),
        generation_bos="<|endoftext|>",
        pattern=QWEN_PATTERN,
        architecture="Qwen3Config",
    ),
    "llama3.1": Family(
        "llama3.1",
        "llama3_1_chat_template",
        LLAMA3_TOKENS,
        eos="<|eot_id|>",
        pad=None,  # Llama 3 ships none; load_tokenizer and TRL use the EOS
        bos="<|begin_of_text|>",
        generation_eos=("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"),
        generation_bos="<|begin_of_text|>",
        pattern=LLAMA3_PATTERN,
        architecture="LlamaConfig",
        prepends_bos=True,
    ),
}


def family_corpus() -> list[str]:
    """Text to learn the small vocabulary from: expert episodes of a text environment and of a tool environment."""
    from agentrl.envs import make_env
    from agentrl.models import environment_corpus
    from agentrl.rollout.prompt import PromptBuilder

    builder = PromptBuilder(tokenizer=None)
    corpus = environment_corpus(make_env("household-easy"), builder, num_tasks=40)
    return corpus + environment_corpus(make_env("factqa-easy"), builder, num_tasks=40, tools=True)


def build_family_tokenizer(family: Family, corpus: list[str], vocab_size: int = 768):
    import trl.chat_template_utils
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers import trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(family.pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    # added after the learned vocabulary, in the family's order, as the family's repositories have them
    for content, special in family.tokens:
        token = AddedToken(content, special=special, normalized=False, lstrip=False, rstrip=False, single_word=False)
        (tokenizer.add_special_tokens if special else tokenizer.add_tokens)([token])
    if family.prepends_bos:
        bos_id = tokenizer.token_to_id(family.bos)
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{family.bos}:0 $A:0",
            pair=f"{family.bos}:0 $A:0 {family.bos}:1 $B:1",
            special_tokens=[(family.bos, bos_id)],
        )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=family.eos,
        pad_token=family.pad,
        bos_token=family.bos,
        model_max_length=131072,
    )
    wrapped.chat_template = getattr(trl.chat_template_utils, family.template)
    return wrapped


def build_family_model(family: Family, save_dir: Path, corpus: list[str], seed: int = 0) -> Path:
    """Tokenizer, tiny random model of the family's architecture and its generation config, saved as a model folder."""
    import torch
    import transformers

    tokenizer = build_family_tokenizer(family, corpus)
    ids = tokenizer.convert_tokens_to_ids
    config = getattr(transformers, family.architecture)(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=ids(family.generation_bos),
        eos_token_id=[ids(t) for t in family.generation_eos],
        pad_token_id=ids(family.pad) if family.pad else None,
    )
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.generation_config = transformers.GenerationConfig(
        bos_token_id=ids(family.generation_bos),
        eos_token_id=[ids(t) for t in family.generation_eos],
        pad_token_id=ids(family.pad) if family.pad else None,
    )
    model.save_pretrained(save_dir)
    tokenizer.save_pretrained(save_dir)
    return Path(save_dir)
