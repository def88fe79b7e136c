"""OpenEnv environments from a recipe, in this process or through an OpenEnv server.

    env_id: openenv:package.module:MyEnvironment     an openenv `Environment` subclass (or a function returning
    env_id: openenv:path/to/file.py:MyEnvironment    an instance), built in this process with the env_kwargs
                                                     its constructor accepts
    env_id: openenv:http://HOST:PORT                 a running OpenEnv server (create_app + uvicorn, a Space, a
                                                     container), played through openenv's own WebSocket client

Adapter keys (env_kwargs; every other key goes to the Environment's constructor):

    action_field: message        the Action field that receives the model's action text. Default: the Action's
                                 only field; an Action with several fields takes the text as a JSON object of
                                 its fields ({"x": 3, "y": 4}). The text is validated by the Action class
                                 itself (pydantic: "42" becomes 42 for an int field).
    observation_field: prompt    the Observation field shown to the model. Default: its only field, or one
                                 "name: value" line per field (done, reward and metadata left out)
    admissible_field: legal_moves    an Observation field listing the legal actions (admissible_actions)
    reset_kwargs: {difficulty: 2}    passed to reset() with the seed (for a server: its reset endpoint)
    max_steps, train_size, eval_size    the episode step limit and the number of tasks (seeds) per split

The contract (envs/adapters/seeded.py): a task is a seed, reset(seed=...) starts it; reward and done are the
Observation's own (a None reward is 0); `won` is a positive reward on the step that ends the episode; `anchor`
is (task id, observation text); `valid` is False only for an action text the Action class rejects, which is
then a no-op (the environment is not stepped) whose observation says what was wrong. An environment that
overrides reset_async / step_async is driven through them, as openenv's server does.

Server sessions: each agentrl environment holds one session (a WebSocket, i.e. one environment instance on
the server) from reset until its episode ends, so a run needs as many sessions as episodes played at once (the
rollout batch; evaluation plays up to its batch of tasks at once). A server started with a smaller
`max_concurrent_envs` (default 1) refuses the rest; the refused episode fails with a message naming that limit,
what this process was playing, and the fix. The client reads the Action's JSON schema from the server's
/schema endpoint, so the environment's package is not needed on this side.

Why about 450 lines in one file: the in-process and the server paths share the action/observation mapping and
its error messages; they are one adapter with two transports.
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
import typing
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from agentrl.envs.adapters.seeded import SeededEnv
from agentrl.envs.async_calls import run_to_completion
from agentrl.envs.registry import UnknownEnvironmentError, import_object

_URL_SCHEMES = ("http://", "https://", "ws://", "wss://")
_BOOKKEEPING = ("done", "reward", "metadata")  # Observation/Action base fields that are not the environment's own
_ADAPTER_KEYS = ("action_field", "observation_field", "admissible_field", "reset_kwargs")


class InvalidActionError(ValueError):
    """The model's action text does not make a valid Action; the message is shown to the model."""


class ServerCapacityError(RuntimeError):
    """An OpenEnv server refused a session: more episodes at once than its max_concurrent_envs."""


def make_openenv_env(
    target: str,
    max_steps: int = 20,
    train_size: int = 10_000,
    eval_size: int = 200,
    action_field: str | None = None,
    observation_field: str | None = None,
    admissible_field: str | None = None,
    reset_kwargs: Mapping[str, Any] | None = None,
    **env_kwargs: Any,
) -> OpenEnvEnv:
    """`openenv:package.module:EnvClass`, `openenv:path/to/file.py:EnvClass` or `openenv:http://HOST:PORT`."""
    spec = f"openenv:{target}"
    if target.startswith(_URL_SCHEMES):
        if env_kwargs:
            raise UnknownEnvironmentError(
                f"env_id {spec!r}: env_kwargs {sorted(env_kwargs)} would go to the environment's constructor, which "
                f"runs on the server: configure it there (or per episode with reset_kwargs). Adapter keys: "
                f"{', '.join(_ADAPTER_KEYS)}, max_steps, train_size, eval_size."
            )
        backend: _Backend = _ServerBackend(target, spec)
    else:
        backend = _InProcessBackend(target, spec, env_kwargs)
    return OpenEnvEnv(
        backend,
        max_steps=max_steps,
        train_size=train_size,
        eval_size=eval_size,
        action_field=action_field,
        observation_field=observation_field,
        admissible_field=admissible_field,
        reset_kwargs=dict(reset_kwargs or {}),
    )


class OpenEnvEnv(SeededEnv):
    """An OpenEnv environment (in-process or on a server, see `_Backend`) as an agentrl TextEnv."""

    def __init__(
        self,
        backend: _Backend,
        max_steps: int,
        train_size: int,
        eval_size: int,
        action_field: str | None,
        observation_field: str | None,
        admissible_field: str | None,
        reset_kwargs: dict[str, Any],
    ) -> None:
        super().__init__(backend.name, max_steps, train_size, eval_size)
        self.backend = backend
        self.action_text = ActionText(backend.action_schema, action_field, backend.spec)
        fields = [k for k in (backend.observation_schema.get("properties") or {}) if k not in _BOOKKEEPING]
        for key, field in (("observation_field", observation_field), ("admissible_field", admissible_field)):
            if field is not None and field not in fields:
                raise UnknownEnvironmentError(
                    f"env_id {backend.spec!r}: env_kwargs {key} {field!r} is not a field of the Observation; it has "
                    f"{', '.join(fields) or 'no fields of its own'}"
                )
        self.observation_field, self.admissible_field = observation_field, admissible_field
        self.reset_kwargs = reset_kwargs
        self._observation = ""
        self._anchor: Any = None

    def _start(self, seed: int) -> tuple[str, dict[str, Any]]:
        fields, _, _ = self.backend.reset(seed, self.reset_kwargs)
        return self._observe(fields)

    def _act(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        try:
            fields, reward, done = self.backend.step(self.action_text.fields(action))
        except InvalidActionError as error:  # a no-op: the state (and so the anchor) is unchanged
            observation = f"Invalid action: {error}\n{self._observation}"
            return observation, 0.0, False, {"valid": False, "anchor": self._anchor}
        observation, extra = self._observe(fields)
        return observation, float(reward or 0.0), bool(done), extra

    def _observe(self, fields: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        observation = render_observation(fields, self.observation_field)
        extra: dict[str, Any] = {}
        if self.admissible_field is not None:
            legal = fields.get(self.admissible_field)
            extra["admissible_actions"] = [str(a) for a in legal] if isinstance(legal, Sequence) else []
        self._observation = observation
        self._anchor = (self._task_id, observation)  # SeededEnv's anchor of this observation
        return observation, extra

    def _reset(self, task_id: str) -> tuple[str, dict[str, Any]]:
        self._task_id = task_id  # before _start, so the first anchor names the task
        return super()._reset(task_id)

    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        observation, reward, done, info = super().step(action)
        if done:
            self.backend.release()  # a server session is held only while its episode runs
        return observation, reward, done, info

    def close(self) -> None:
        self.backend.close()


def render_observation(fields: Mapping[str, Any], field: str | None) -> str:
    """The text of an observation's own fields: `field` alone, the only field, or one "name: value" line each."""
    if field is not None:
        return _text(fields.get(field, ""))
    if len(fields) == 1:
        return _text(next(iter(fields.values())))
    return "\n".join(f"{name}: {_text(value)}" for name, value in fields.items())


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


class ActionText:
    """How the model's action text becomes the fields of the environment's Action (the module docstring)."""

    def __init__(self, schema: Mapping[str, Any], action_field: str | None, spec: str) -> None:
        properties = {k: v for k, v in (schema.get("properties") or {}).items() if k not in _BOOKKEEPING}
        required = [k for k in schema.get("required") or () if k not in _BOOKKEEPING]
        self.names = list(properties)
        if action_field is not None:
            if action_field not in properties:
                raise UnknownEnvironmentError(
                    f"env_id {spec!r}: env_kwargs action_field {action_field!r} is not a field of the Action; it has "
                    f"{', '.join(self.names) or 'no fields'}"
                )
            others = [name for name in required if name != action_field]
            if others:
                raise UnknownEnvironmentError(
                    f"env_id {spec!r}: the Action also requires {others}, which the action text cannot fill; drop "
                    "action_field and have the model write JSON actions with every field"
                )
            self.field: str | None = action_field
        elif len(properties) == 1:
            self.field = self.names[0]
        elif properties:
            self.field = None  # several fields: the text is a JSON object of them
        else:
            raise UnknownEnvironmentError(f"env_id {spec!r}: the Action has no fields to put the action text in")

    def fields(self, text: str) -> dict[str, Any]:
        """The Action fields of an action text; InvalidActionError says what is wrong with it."""
        if self.field is not None:
            return {self.field: text}
        try:
            fields = json.loads(text)
        except json.JSONDecodeError:
            fields = None
        if not isinstance(fields, dict):
            raise InvalidActionError(f"write the action as a JSON object with the fields {', '.join(self.names)}")
        unknown = sorted(set(fields) - set(self.names))
        if unknown:
            raise InvalidActionError(f"unknown fields {unknown}; the action's fields are {', '.join(self.names)}")
        return fields


# ------------------------------------------------------------------------------------------------ backends
class _Backend:
    """Where the OpenEnv environment runs: reset/step take and give plain data (the observation's own fields,
    its reward, done), as openenv's wire format does."""

    name: str
    spec: str
    action_schema: Mapping[str, Any]  # JSON schemas of the Action and the Observation classes
    observation_schema: Mapping[str, Any]

    def reset(self, seed: int, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], float | None, bool]:
        raise NotImplementedError

    def step(self, fields: dict[str, Any]) -> tuple[dict[str, Any], float | None, bool]:
        raise NotImplementedError

    def release(self) -> None:
        """The episode is over."""

    def close(self) -> None:
        """Release everything."""


def _environment_base():
    try:
        from openenv.core.env_server.interfaces import Environment
        from openenv.core.env_server.types import Action, Observation
    except ImportError as error:
        message = f"the openenv: adapter needs OpenEnv: pip install openenv-core ({error})"
        raise UnknownEnvironmentError(message) from None
    return Environment, Action, Observation


def _wire_fields(observation: Any) -> tuple[dict[str, Any], float | None, bool]:
    """What openenv's server sends for an Observation (serialize_observation): its own fields, reward, done."""
    return observation.model_dump(exclude=set(_BOOKKEEPING)), observation.reward, bool(observation.done)


class _InProcessBackend(_Backend):
    """An Environment instance in this process; the Action class validates each action as the server would."""

    def __init__(self, target: str, spec: str, kwargs: dict[str, Any]) -> None:
        environment_base, action_base, observation_base = _environment_base()
        factory = import_object(target, f"env_id {spec!r} names")
        if inspect.isclass(factory) and not issubclass(factory, environment_base):
            raise UnknownEnvironmentError(
                f"env_id {spec!r}: {factory.__name__} is not an openenv Environment subclass (openenv.core."
                "Environment); for a running server write openenv:http://HOST:PORT"
            )
        _check_constructor_kwargs(factory, kwargs, spec)
        self.env = factory(**kwargs)
        if not isinstance(self.env, environment_base):
            raise UnknownEnvironmentError(f"env_id {spec!r} returned a {type(self.env).__name__}, not an Environment")
        self.action_class = _model_class(type(self.env), action_base, 0, spec)
        self.action_schema = self.action_class.model_json_schema()
        self.observation_schema = _model_class(type(self.env), observation_base, 1, spec).model_json_schema()
        self.name, self.spec = type(self.env).__name__, spec
        self._reset_async = type(self.env).reset_async is not environment_base.reset_async
        self._step_async = type(self.env).step_async is not environment_base.step_async

    def reset(self, seed: int, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], float | None, bool]:
        if self._reset_async:
            return _wire_fields(run_to_completion(self.env.reset_async(seed=seed, **kwargs)))
        return _wire_fields(self.env.reset(seed=seed, **kwargs))

    def step(self, fields: dict[str, Any]) -> tuple[dict[str, Any], float | None, bool]:
        from pydantic import ValidationError

        try:
            action = self.action_class.model_validate(fields)
        except ValidationError as error:
            raise InvalidActionError(_validation_text(error)) from None
        if self._step_async:
            return _wire_fields(run_to_completion(self.env.step_async(action)))
        return _wire_fields(self.env.step(action))

    def close(self) -> None:
        self.env.close()


def _check_constructor_kwargs(factory: Any, kwargs: dict[str, Any], spec: str) -> None:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise UnknownEnvironmentError(
            f"env_kwargs {unknown} are neither adapter keys ({', '.join(_ADAPTER_KEYS)}, max_steps, train_size, "
            f"eval_size) nor parameters of {spec!r} (it takes: {', '.join(accepted) or 'no keywords'})"
        )


def _model_class(env_type: type, base: type, position: int, spec: str) -> type:
    """The Action (position 0) or Observation (1) subclass of an Environment: from step's annotations
    (`action: MyAction`, `-> MyObservation`), else from Environment[MyAction, MyObservation, MyState]."""
    try:
        hints = typing.get_type_hints(env_type.step)
    except Exception:  # noqa: BLE001 - unresolvable annotations: try the generic parameters
        hints = {}
    candidates = [hints.get("action" if position == 0 else "return")]
    for klass in env_type.__mro__:
        for generic in getattr(klass, "__orig_bases__", ()):
            arguments = typing.get_args(generic)
            candidates += arguments[position : position + 1]
    for candidate in candidates:
        if inspect.isclass(candidate) and issubclass(candidate, base) and candidate is not base:
            return candidate
    if position == 1:
        return base  # no own fields known: rendered from what each observation holds
    raise UnknownEnvironmentError(
        f"env_id {spec!r}: cannot tell {env_type.__name__}'s Action class; annotate step(self, action: MyAction) "
        "or subclass Environment[MyAction, MyObservation, MyState]"
    )


def _validation_text(error: Any) -> str:
    problems = [f"{'.'.join(str(p) for p in e.get('loc', ())) or 'action'}: {e.get('msg', '')}" for e in error.errors()]
    return "; ".join(problems)


class _ServerBackend(_Backend):
    """An OpenEnv server: one WebSocket session (openenv's GenericEnvClient) per episode, opened at reset and
    closed when the episode ends, so the sessions in use are the episodes being played."""

    open_sessions: dict[str, int] = {}  # url -> sessions this process holds now (for the capacity message)
    _count_lock = threading.Lock()

    def __init__(self, url: str, spec: str) -> None:
        self.url, self.spec = url.rstrip("/"), spec
        self.name, self.action_schema, self.observation_schema = _describe_server(self.url, spec)
        self._session: Any = None

    def reset(self, seed: int, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], float | None, bool]:
        if self._session is None:
            self._session = self._open()
        result = self._call(self._session.reset, seed=seed, **kwargs)
        return dict(result.observation or {}), result.reward, bool(result.done)

    def step(self, fields: dict[str, Any]) -> tuple[dict[str, Any], float | None, bool]:
        if self._session is None:
            raise RuntimeError(f"{self.spec}: step without a session; call reset first")
        result = self._call(self._session.step, fields)
        return dict(result.observation or {}), result.reward, bool(result.done)

    def _open(self) -> Any:
        from openenv.core.generic_client import GenericEnvClient

        session = GenericEnvClient(base_url=self.url).sync()
        try:
            session.connect()
        except Exception as error:  # noqa: BLE001 - the server went away after the env was built
            raise RuntimeError(f"{self.spec}: cannot open a session ({error})") from None
        with self._count_lock:
            self.open_sessions[self.url] = self.open_sessions.get(self.url, 0) + 1
        return session

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except RuntimeError as error:
            text = str(error)
            if "VALIDATION_ERROR" in text:  # the session lives on; the action was a no-op
                raise InvalidActionError(f"the server's Action rejected it ({text})") from None
            self.release()  # after any other server error the session is not trusted again
            if "CAPACITY_REACHED" in text:
                raise ServerCapacityError(self._capacity_message(text)) from None
            raise
        except Exception as error:
            # A server at capacity sends its refusal and closes the socket; the client may see the close first.
            if not type(error).__name__.startswith("ConnectionClosed"):
                raise
            self.release()
            raise ServerCapacityError(self._capacity_message(f"it closed the connection: {error!r}")) from None

    def _capacity_message(self, server_text: str) -> str:
        held = self.open_sessions.get(self.url, 0)
        return (
            f"OpenEnv server {self.url} refused a session ({server_text}): it serves at most its "
            f"max_concurrent_envs sessions at once, and this process already holds {held} (agentrl opens one per "
            "episode played at once: the rollout batch, per_device_train_batch_size, or the evaluation batch). "
            "Start the server with create_app(..., max_concurrent_envs=N), N at least the episodes played at once "
            "(its Environment needs SUPPORTS_CONCURRENT_SESSIONS = True), or play fewer episodes at once."
        )

    def release(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        with self._count_lock:
            self.open_sessions[self.url] = max(0, self.open_sessions.get(self.url, 0) - 1)
        try:
            session.close()
        except Exception:  # noqa: BLE001, S110 - the server may already have closed it (capacity refusal)
            pass

    def close(self) -> None:
        self.release()


@functools.lru_cache(maxsize=16)
def _describe_server(url: str, spec: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(environment name, Action and Observation JSON schemas) from the server's /metadata and /schema endpoints."""
    schema = _get_json(url, "/schema", spec)
    if not isinstance(schema, dict) or not isinstance(schema.get("action"), dict):
        raise UnknownEnvironmentError(f"env_id {spec!r}: {url}/schema did not return OpenEnv's schemas")
    try:
        name = str(_get_json(url, "/metadata", spec).get("name") or "openenv")
    except (UnknownEnvironmentError, AttributeError):
        name = "openenv"
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)  # it starts every task id: no "/"
    return name, schema["action"], schema.get("observation") or {}


def _get_json(url: str, path: str, spec: str) -> Any:
    http = "http" + url[2:] if url.startswith("ws") else url  # ws://h:p -> http://h:p, wss -> https
    host = urllib.parse.urlparse(http).hostname or ""
    # Loopback servers are reached directly, whatever proxy the environment variables name (as openenv's client).
    handlers = [urllib.request.ProxyHandler({})] if host in ("localhost", "127.0.0.1", "::1") else []
    try:
        with urllib.request.build_opener(*handlers).open(http + path, timeout=30) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as error:
        raise UnknownEnvironmentError(
            f"env_id {spec!r}: no OpenEnv server answers at {http} (GET {path}: {getattr(error, 'reason', error)}). "
            "Start it first, e.g. uvicorn my_package.server:app --port PORT, or fix the URL."
        ) from None


__all__ = ["OpenEnvEnv", "make_openenv_env", "render_observation"]
