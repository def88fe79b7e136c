"""`agentrl export`: what a run's model is, a copy of it, or its LoRA adapter merged into a plain model.

A run's `final/` holds either a full model (config.json) or a LoRA adapter in PEFT format (adapter_config.json,
whose base_model_name_or_path names the base: RUN_DIR/base_model or RUN_DIR/sft_warmup for agentrl's own runs),
both with the tokenizer. Merging loads base + adapter (`PeftModel`), folds the LoRA deltas into the base weights
(`merge_and_unload`) and saves a plain transformers causal LM with the tokenizer: it loads with
`AutoModelForCausalLM.from_pretrained` alone, without peft and without the base folder.

The SEAL head. A `seal: true` LoRA run saves its head `seal_head` in the adapter (modules_to_save). The head is
used only by the training loss, never at generation, and transformers' causal LM classes have no place for it,
so the merged model does not carry it (no UNEXPECTED keys when loading it); the adapter folder still holds it.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from agentrl.errors import RecipeError

MODEL_FILES = ("config.json", "adapter_config.json")
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json")


def model_folder(path: str) -> Path:
    """The model folder `path` names: a run directory (its final/), a model folder or an adapter folder."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise RecipeError(
            f"{path!r} does not exist (or is not a folder). Pass a run directory (it holds final/), a model folder "
            "(config.json) or a LoRA adapter folder (adapter_config.json), e.g. RUN_DIR or RUN_DIR/final."
        )
    if not any((folder / name).is_file() for name in MODEL_FILES) and (folder / "final").is_dir():
        folder = folder / "final"
    if not any((folder / name).is_file() for name in MODEL_FILES):
        hint = (
            " It looks like a run directory without final/ (has the run finished?): pass one of its checkpoint-N "
            "folders instead."
            if (folder / "config.yaml").is_file()
            else ""
        )
        raise RecipeError(
            f"{str(folder)!r} is not a model: expected config.json (a full model) or adapter_config.json (a LoRA "
            f"adapter) in it, or a run directory holding final/.{hint}"
        )
    return folder


def _adapter_base(folder: Path, base: str | None) -> str:
    """`base` (--base) if given, else the adapter's own base_model_name_or_path; either checked to exist."""
    from agentrl.models import ModelPathError, adapter_base, looks_like_path

    if base is None:
        try:
            return adapter_base(folder)
        except ModelPathError as error:
            raise RecipeError(str(error)) from error
    path = Path(base).expanduser()
    if (path.exists() and not (path / "config.json").is_file()) or (not path.exists() and looks_like_path(base)):
        raise RecipeError(
            f"--base {base!r} is not a model folder (no config.json there): pass the folder of the adapter's base "
            "model (for an agentrl run, RUN_DIR/base_model or RUN_DIR/sft_warmup) or a hub id."
        )
    return base


def _seal_head_tensors(folder: Path) -> int:
    """How many parameters of the SEAL head the adapter in `folder` holds (0: none)."""
    from safetensors import safe_open

    from agentrl.seal_capture import HEAD_NAME

    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        return 0
    count = 0
    with safe_open(str(weights), "pt") as f:
        for key in f.keys():
            if f".{HEAD_NAME}." in f".{key}":
                count += math.prod(f.get_slice(key).get_shape())
    return count


def describe(folder: Path) -> str:
    """One paragraph: what the folder holds and what `agentrl export` can do with it."""
    from agentrl.seal_capture import HEAD_NAME

    tokenizer = "with its tokenizer" if any((folder / n).is_file() for n in TOKENIZER_FILES) else "NO tokenizer"
    if (folder / "adapter_config.json").is_file():
        config = json.loads((folder / "adapter_config.json").read_text())
        kind = "LoRA" if config.get("peft_type") == "LORA" else config.get("peft_type", "PEFT")
        lines = [
            f"{folder}: {kind} adapter (r={config.get('r')}, "
            f"alpha={config.get('lora_alpha')}, {len(config.get('target_modules') or [])} target modules), {tokenizer}"
        ]
        saved = config.get("modules_to_save") or []
        if saved:
            seal = (
                f" ({HEAD_NAME} is the SEAL head: training only, a merge leaves it out)" if HEAD_NAME in saved else ""
            )
            lines.append(f"  also saves whole modules: {', '.join(saved)}{seal}")
        base = config.get("base_model_name_or_path")
        try:
            _adapter_base(folder, None)
            lines.append(f"  base model: {base}")
        except RecipeError as error:
            lines.append(f"  base model: MISSING: {error}")
        lines.append(f"  merge it into a plain model: agentrl export {folder} --merge [--output DIR]")
        return "\n".join(lines)
    config = json.loads((folder / "config.json").read_text())
    architectures = ", ".join(config.get("architectures") or []) or config.get("model_type", "?")
    dtype = config.get("dtype") or config.get("torch_dtype") or "?"
    return (
        f"{folder}: full model ({architectures}, {dtype}), {tokenizer}; it loads with "
        "AutoModelForCausalLM.from_pretrained as it is (nothing to merge)"
    )


def _check_output(output: Path) -> None:
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise RecipeError(
            f"output {str(output)!r} already exists and is not empty: remove it, or pass another --output"
        )


def copy_model(folder: Path, output: Path) -> Path:
    """Copy the model or adapter folder (weights, configs, tokenizer) to `output`."""
    _check_output(output)
    shutil.copytree(folder, output, dirs_exist_ok=True)
    return output


def _quiet() -> None:
    """No per-file load/save bars, no deprecation notes from inside transformers/peft: the command prints its own."""
    import warnings

    import transformers

    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.* is deprecated", category=FutureWarning)


def default_merge_output(folder: Path) -> Path:
    """RUN_DIR/merged for RUN_DIR/final; FOLDER-merged next to any other adapter folder (e.g. checkpoint-N)."""
    return folder.parent / "merged" if folder.name == "final" else folder.with_name(f"{folder.name}-merged")


def merge_adapter(folder: Path, output: Path, base: str | None = None) -> dict:
    """Base + the adapter in `folder`, merged (merge_and_unload) and saved with the tokenizer to `output`."""
    if not (folder / "adapter_config.json").is_file():
        raise RecipeError(
            f"{str(folder)!r} is a full model (config.json, no adapter_config.json): there is no LoRA adapter to "
            "merge. It already loads with AutoModelForCausalLM.from_pretrained; drop --merge (add --output to copy "
            "it)."
        )
    base = _adapter_base(folder, base)
    _check_output(output)
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agentrl.seal_capture import HEAD_NAME

    _quiet()
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype="auto"), str(folder))
    lora_b = [p for name, p in model.named_parameters() if "lora_B" in name]
    trivial = bool(lora_b) and all(torch.count_nonzero(p) == 0 for p in lora_b)
    merged = model.merge_and_unload()
    if hasattr(merged, HEAD_NAME):  # only used by the SEAL loss: not part of the causal LM (see the module doc)
        delattr(merged, HEAD_NAME)
    merged.save_pretrained(output)
    has_tokenizer = any((folder / n).is_file() for n in TOKENIZER_FILES)
    AutoTokenizer.from_pretrained(str(folder) if has_tokenizer else base).save_pretrained(output)
    return {"output": str(output), "base": base, "seal_head_params": _seal_head_tensors(folder), "trivial": trivial}
