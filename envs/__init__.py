"""agentrl environments: text environments behind one contract (see envs/base.py)."""

from envs.base import INFO_KEYS, SPLITS, TextEnv, UnknownTaskError, check_info
from envs.registry import UnknownEnvironmentError, check_env_name, list_envs, make_env, register_env

__all__ = [
    "INFO_KEYS",
    "SPLITS",
    "TextEnv",
    "UnknownTaskError",
    "UnknownEnvironmentError",
    "check_env_name",
    "check_info",
    "list_envs",
    "make_env",
    "register_env",
]
