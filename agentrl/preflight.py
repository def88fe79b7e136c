"""Checks of the world outside the recipe, made before any model is built or loaded: the output folder can be
written, a hub model can be reached (or is cached), an environment's engine is installed.

Each failure is a RecipeError whose one message names the problem and the fix; the CLI prints it without a
traceback. Kept import-light: huggingface_hub is imported only when a hub id has to be checked.
"""

from __future__ import annotations

import os
from pathlib import Path

from agentrl.errors import RecipeError

HUB_TIMEOUT_S = 5.0  # one HEAD request: long enough for a slow link, short enough that "no network" is said at once
TRUE_VALUES = ("1", "on", "yes", "true")


def check_output_dir_writable(output_dir: str) -> None:
    """`output_dir` is a folder, or can be created as one, and this user may write in it."""
    path = Path(output_dir).expanduser()
    fix = "Set `output_dir:` in the recipe (or --output_dir) to a folder you can write to."
    if path.exists() and not path.is_dir():
        raise RecipeError(f"output_dir {output_dir!r} is a file, not a folder. {fix}")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise RecipeError(f"output_dir {output_dir!r} cannot be created: {str(existing)!r} is a file. {fix}")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is" if existing == path else f"would be created in {str(existing)!r}, which is"
        raise RecipeError(f"output_dir {output_dir!r} {what} not writable (read-only for this user). {fix}")


def _offline() -> bool:
    """HF_HUB_OFFLINE (or transformers' older TRANSFORMERS_OFFLINE) is set, as the hub libraries read it."""
    return any(os.environ.get(name, "").lower() in TRUE_VALUES for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_hub_model(name: str, key: str = "model_name_or_path") -> None:
    """A hub id that will be downloaded: cached already, or the hub answers about it within HUB_TIMEOUT_S.

    Without this, a machine without network spends about a minute in retries inside from_pretrained and ends in
    a traceback; offline (HF_HUB_OFFLINE) it fails after the recipe's other set-up. Local paths and the tiny model
    are not hub ids and pass.
    """
    from agentrl.config import TINY_MODEL
    from agentrl.models import looks_like_path

    if name == TINY_MODEL or Path(name).expanduser().exists() or looks_like_path(name):
        return
    from huggingface_hub import errors, get_hf_file_metadata, hf_hub_url, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return  # in the local cache: from_pretrained finds it without the network
    local = f"or point {key} at a local folder that holds the model (config.json, weights, tokenizer)"
    if _offline():
        raise RecipeError(
            f"{key} {name!r} is a hub id that is not in the local cache, and HF_HUB_OFFLINE is set, so it cannot be "
            f"downloaded. Download it where there is network (`hf download {name}`, then copy the cache folder), "
            f"unset HF_HUB_OFFLINE on a machine with network, {local}."
        )
    try:
        get_hf_file_metadata(hf_hub_url(name, "config.json"), timeout=HUB_TIMEOUT_S)
    except errors.GatedRepoError:
        raise RecipeError(
            f"{key} {name!r} is a gated model: accept its terms on https://huggingface.co/{name} and log in with "
            f"`hf auth login` (or set HF_TOKEN), {local}."
        ) from None
    except errors.RepositoryNotFoundError:
        raise RecipeError(
            f"{key} {name!r} was not found on the Hugging Face hub (a typo? a private model needs `hf auth login`); "
            f"use an existing hub id such as Qwen/Qwen2.5-1.5B-Instruct, {local}."
        ) from None
    except errors.HfHubHTTPError:
        return  # the hub answered with another error: from_pretrained will report it in its own words
    except Exception as error:  # noqa: BLE001 - no connection, DNS failure, timeout: the hub cannot be reached
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RecipeError(
            f"{key} {name!r} is a hub id that is not in the local cache, and the hub cannot be reached ({reason}). "
            f"On a machine without network set HF_HUB_OFFLINE=1 and copy the model into the cache, {local}."
        ) from None


def build_env(env_factory, env_id: str):
    """`env_factory()`, with an environment whose engine is not installed (or that cannot be built) as one
    RecipeError that names the install command, as `agentrl play` and `agentrl eval` report it."""
    try:
        return env_factory()
    except Exception as error:  # noqa: BLE001 - reported as one message, not a traceback
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if isinstance(error, ImportError) or "pip install" in text:
            raise RecipeError(f"env_id {env_id!r} needs an engine that is not installed here: {text}") from error
        raise RecipeError(f"cannot build environment {env_id!r}: {type(error).__name__}: {text}") from error
