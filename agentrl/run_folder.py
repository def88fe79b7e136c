"""The run folder (`output_dir`): whose results it holds, what a new run may do with them, and artefacts that are
either complete or absent.

Another run's results are any of config.yaml, metrics.jsonl, eval.json (RESULT_FILES), final/ (RESULT_FOLDERS),
or a checkpoint-N/ folder. A run into a folder holding them is refused (one message, before anything is loaded or
written) unless it says what to do:

- `--resume_from_checkpoint auto` (the newest intact checkpoint, see agentrl/checkpoints.py) or a checkpoint
  path: continue that run. metrics.jsonl keeps only the lines up to the checkpoint's update (the rest are redone
  and logged again); config.yaml, final/ and eval.json are replaced when the run writes them. With `auto` and no
  intact checkpoint the run starts again from update 0, except over a finished run (final/), which it refuses
  to retrain silently.
- `--overwrite_output_dir` (TRL/HF's name; transformers 5 dropped the field, agentrl keeps its meaning): start
  over. The results and the run's other outputs (OTHER_OUTPUTS: versions.json, sft_logs/, the entropy figures)
  are deleted first. Files agentrl does not write (TRL's model card README.md included) are never touched.

base_model/ (the tiny model) and sft_warmup/ are not results but reusable artefacts: each holds RECORD_FILE, the
recipe fields that produced it, and any run (fresh, resumed or overwriting) reuses it only when its own fields
match, and rebuilds it otherwise.

Atomic artefacts: a folder (base_model/, sft_warmup/, final/) is written as NAME.partial and renamed to NAME when
complete; a file (config.yaml, eval.json, a rewritten metrics.jsonl) as NAME.tmp, then renamed. A kill leaves at
most a .partial / .tmp, which the next run deletes, never a half-written NAME. (Renames make this hold against a
killed process; surviving a power cut would also need fsync, which agentrl does not do.)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from agentrl.config import RESUME_LATEST, RESUME_NONE, TINY_MODEL
from agentrl.errors import RecipeError

RESULT_FILES = ("config.yaml", "metrics.jsonl", "eval.json")
RESULT_FOLDERS = ("final",)
# deleted by overwrite too, but not "results" on their own (each is written beside config.yaml, or later)
OTHER_OUTPUTS = ("versions.json", "sft_logs", "entropy_dynamics.png", "entropy_turns.png")
ARTEFACT_FOLDERS = ("base_model", "sft_warmup", "final")  # written as NAME.partial, then renamed
RECORD_FILE = "agentrl_recipe.json"  # in base_model/ and sft_warmup/: the fields that built them
PARTIAL, OLD, TMP = ".partial", ".old", ".tmp"


# ---------------------------------------------------------------------------------------------- whose folder
def previous_results(output_dir: str | Path) -> list[str]:
    """The results of an earlier run in `output_dir` (names, folders with a trailing /), in a fixed order."""
    from agentrl.checkpoints import numbered_checkpoints

    folder = Path(output_dir)
    found = [name for name in RESULT_FILES if (folder / name).is_file()]
    found += [f"{name}/" for name in RESULT_FOLDERS if (folder / name).is_dir()]
    checkpoints = numbered_checkpoints(folder) if folder.is_dir() else []
    return found + [f"{path.name}/" for path in reversed(checkpoints)]


def resume_requested(value) -> bool:
    return value is not None and str(value).strip().lower() not in RESUME_NONE


def check_output_dir(args) -> None:
    """Refuse an output_dir holding another run's results unless the run resumes it or overwrites it (read only:
    every rank runs it before anything is written)."""
    resume = resume_requested(args.resume_from_checkpoint)
    if args.overwrite_output_dir and resume:
        raise RecipeError(
            f"both overwrite_output_dir and resume_from_checkpoint {args.resume_from_checkpoint!r} are set: resuming "
            "continues the run in output_dir, overwriting deletes it. Keep one of them."
        )
    results = previous_results(args.output_dir)
    if results and not resume and not args.overwrite_output_dir:
        shown = ", ".join(results[:6]) + (", ..." if len(results) > 6 else "")
        raise RecipeError(
            f"output_dir {args.output_dir!r} holds another run's results ({shown}). To continue that run add "
            "--resume_from_checkpoint auto (or a checkpoint-N path); to start over, deleting them, add "
            "--overwrite_output_dir; or choose another --output_dir."
        )


def claim_output_dir(args, state) -> str | None:
    """After check_output_dir, on every rank: the main process deletes what overwrite deletes, or picks the
    checkpoint to resume from and trims metrics.jsonl to it; every rank gets the same checkpoint (None: start at
    update 0) or the same RecipeError."""
    outcome = [None, None]
    if state.is_main_process:
        try:
            outcome = [_claim(args), None]
        except RecipeError as error:
            outcome = [None, str(error)]
    if state.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        broadcast_object_list(outcome, from_process=0)
    if outcome[1] is not None:
        raise RecipeError(outcome[1])
    return outcome[0]


def _claim(args) -> str | None:
    from agentrl.checkpoints import checkpoint_step, latest_complete_checkpoint

    folder = Path(args.output_dir)
    _remove_leftovers(folder)
    if args.overwrite_output_dir:
        removed = clear_run(folder)
        if removed:
            print(f"[agentrl] overwrite_output_dir: deleted {', '.join(removed)} from {folder}")
        return None
    value = args.resume_from_checkpoint
    if not resume_requested(value):
        return None
    if str(value).strip().lower() in RESUME_LATEST:
        checkpoint = latest_complete_checkpoint(folder, say=lambda text: print(f"[agentrl] resume: {text}"))
        if checkpoint is None and (folder / "final").is_dir():
            raise RecipeError(
                f"--resume_from_checkpoint {value}: {folder} holds a finished run (final/) and no intact checkpoint to "
                "continue from. To train it again from the start add --overwrite_output_dir instead; or choose "
                "another --output_dir."
            )
        if checkpoint is None and previous_results(folder):
            print(f"[agentrl] resume: no intact checkpoint in {folder}: starting again from update 0")
    else:
        checkpoint = Path(value)  # recipe validation checked it (agentrl.recipe.validate)
    step = 0 if checkpoint is None else checkpoint_step(checkpoint)
    dropped = trim_metrics(folder / "metrics.jsonl", step)
    if dropped:
        kept = f"keeps updates 1-{step}" if step else "is emptied"
        print(f"[agentrl] resume: metrics.jsonl {kept}; {dropped} later line(s) removed (those updates are redone)")
    return None if checkpoint is None else str(checkpoint)


def clear_run(output_dir: Path) -> list[str]:
    """Delete an earlier run's results and other outputs from `output_dir` (see the module docstring); return
    what was deleted."""
    removed = []
    for name in previous_results(output_dir) + [n for n in OTHER_OUTPUTS if (output_dir / n).exists()]:
        path = output_dir / name.rstrip("/")
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        removed.append(name)
    return removed


def _remove_leftovers(output_dir: Path) -> None:
    """What a killed run left half-written: NAME.partial / NAME.old folders and NAME.tmp files of agentrl's names."""
    for name in ARTEFACT_FOLDERS:
        for suffix in (PARTIAL, OLD):
            shutil.rmtree(output_dir / f"{name}{suffix}", ignore_errors=True)
    for name in RESULT_FILES + OTHER_OUTPUTS:
        (output_dir / f"{name}{TMP}").unlink(missing_ok=True)


def trim_metrics(path: Path, step: int) -> int:
    """Keep the metrics.jsonl lines of updates 1..`step` (a resume redoes the later ones and logs them again);
    also dropped: training summaries (train_runtime: the earlier, interrupted train() call's) and a last line
    cut short by a kill. Returns how many lines were dropped."""
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            dropped += 1
            continue
        if record.get("step", 0) <= step and "train_runtime" not in record:
            kept.append(line + "\n")
        else:
            dropped += 1
    if dropped:
        write_text_atomic(path, "".join(kept))
    return dropped


# ---------------------------------------------------------------------------------------------- atomic artefacts
def write_text_atomic(path: str | Path, text: str) -> None:
    """`path` holds either its old content or all of `text`, never part of it."""
    path = Path(path)
    temporary = path.with_name(path.name + TMP)
    temporary.write_text(text)
    os.replace(temporary, path)


def partial_folder(target: str | Path) -> Path:
    """Where the artefact `target` is built before publish() renames it into place."""
    target = Path(target)
    return target.with_name(target.name + PARTIAL)


def publish(target: str | Path, settings: dict | None = None) -> None:
    """Rename the complete partial_folder(target) to `target` (replacing an older one), with `settings` recorded
    in it first. A kill at any point leaves the old artefact, no artefact, or the new one: never a mix."""
    target = Path(target)
    partial = partial_folder(target)
    if settings is not None:
        (partial / RECORD_FILE).write_text(json.dumps(_plain(settings), indent=1, sort_keys=True))
    old = target.with_name(target.name + OLD)
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(partial, target)
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- reuse
def _plain(value):
    """`value` as JSON gives it back (tuples -> lists, other objects -> str), so records compare equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _file_fingerprint(path: str | None) -> str | None:
    """A file the recipe names (demonstrations, a prompt template) by content, so an edited file rebuilds what was
    learnt from it; anything else (None, a built-in name) as it is."""
    if not path or not Path(path).expanduser().is_file():
        return path
    from agentrl.checkpoints import file_hash

    return f"{path} (xxh3_128 {file_hash(Path(path).expanduser())})"


def base_model_settings(args) -> dict:
    """What build_tiny_model's output depends on: its shape, seed, and the text its tokenizer is trained on (the
    environment's or the demonstration file's episodes)."""
    return {
        "env_id": args.env_id,
        "env_kwargs": args.env_kwargs,
        "max_episode_steps": args.max_episode_steps,
        "sft_demonstrations": _file_fingerprint(args.sft_demonstrations),
        "tiny_hidden_size": args.tiny_hidden_size,
        "tiny_num_layers": args.tiny_num_layers,
        "tiny_vocab_size": args.tiny_vocab_size,
        "seed": args.seed,
    }


def sft_warmup_settings(args, processes: int) -> dict:
    """What the warm-up's output depends on: its base model, data, optimisation, and the number of processes
    (data parallel: the global batch is sft_batch_size x processes)."""
    settings = {
        "base": base_model_settings(args) if args.model_name_or_path == TINY_MODEL else args.model_name_or_path,
        "env_id": args.env_id,
        "env_kwargs": args.env_kwargs,
        "max_episode_steps": args.max_episode_steps,
        "sft_demonstrations": _file_fingerprint(args.sft_demonstrations),
        "sft_warmup_steps": args.sft_warmup_steps,
        "sft_learning_rate": args.sft_learning_rate,
        "sft_batch_size": args.sft_batch_size,
        "sft_num_tasks": args.sft_num_tasks,
        "history_length": args.history_length,
        "prompt_template": _file_fingerprint(args.prompt_template),  # a built-in name, or a file by content
        "trajectory_format": args.trajectory_format,
        "bf16": args.bf16,
        "seed": args.seed,
        "processes": processes,
        "use_peft": args.use_peft,
    }
    if getattr(args, "prompt_template", "generic") != "generic":  # the demonstrations' words (their text, not name)
        from agentrl.rollout.prompt_templates import load_prompt_template

        settings["prompt_template"] = load_prompt_template(args.prompt_template).fingerprint
    if args.trajectory_format == "concat":  # the rows of an expert episode are cut to these budgets
        settings.update(max_episode_tokens=args.max_episode_tokens, max_completion_length=args.max_completion_length)
    if args.use_peft:  # the warm-up trains this adapter, then merges it
        settings.update(
            lora_r=args.lora_r,
            lora_alpha=args.lora_alpha,
            lora_dropout=args.lora_dropout,
            lora_target_modules=args.lora_target_modules,
        )
    return _plain(settings)


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    names = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            names += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            names.append(f"{prefix}{key} {a!r} -> {b!r}")
    return names


def is_current(folder: str | Path, settings: dict, report: bool = False) -> bool:
    """`folder` is a complete artefact built from `settings` (reuse it); False: build it (again). `report`:
    print which, and why it is rebuilt."""
    folder = Path(folder)
    settings = _plain(settings)
    try:
        recorded = json.loads((folder / RECORD_FILE).read_text())
    except (OSError, ValueError):
        recorded = None
    current = recorded == settings and (folder / "config.json").is_file()
    if report and current:
        print(f"[agentrl] reusing {folder} (built from the same settings)")
    elif report and folder.exists():
        if not isinstance(recorded, dict):
            why = f"it has no record of the settings it was built from ({RECORD_FILE}: an older or interrupted run)"
        elif recorded != settings:
            why = "changed: " + "; ".join(_differences(recorded, settings))
        else:
            why = "its config.json is missing"
        print(f"[agentrl] rebuilding {folder}: {why}")
    return current
