"""agentrl environments: text environments behind one contract (see agentrl/envs/base.py).

    from agentrl.envs import TextEnv, register_env, make_env

The repository keeps them in its top-level `envs/` folder; they install as `agentrl.envs`.
"""

from agentrl.envs.base import INFO_KEYS, SPLITS, TextEnv, UnknownTaskError, check_info
from agentrl.envs.registry import (
    UnknownEnvironmentError,
    check_env_kwargs,
    check_env_name,
    list_envs,
    make_env,
    register_env,
    resolve_env,
)

__all__ = [
    "INFO_KEYS",
    "SPLITS",
    "TextEnv",
    "UnknownTaskError",
    "UnknownEnvironmentError",
    "check_env_kwargs",
    "check_env_name",
    "check_info",
    "list_envs",
    "make_env",
    "register_env",
    "resolve_env",
]
