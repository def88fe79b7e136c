"""The trl: adapter: TRL environment_factory classes with async tools and rewards, datasets in every shape TRL users
have them (DatasetDict splits included), TRL's batch reward functions, checked against TRL's own GRPOTrainer where it
matters (tool extraction, the get_reward column); a 2-update training run."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict

from agentrl.envs import SPLITS, check_info, make_env
from agentrl.envs.registry import UnknownEnvironmentError
from agentrl.envs.tools import TRLStyleEnv
from agentrl.rollout.tool_calls import tool_action

HERE = Path(__file__).resolve()
SPEC = f"trl:{__name__}:Vault"  # by module, so reward functions share this module's objects


class Vault:
    """A TRL-style class with async tools and an async get_reward: open a vault by trying its code."""

    def __init__(self) -> None:
        self.code = 0
        self.tries: list[int] = []

    def reset(self, code: int, **row) -> str:
        self.code, self.tries = code, []
        return " The code has one digit."

    async def try_code(self, code: int) -> str:
        """Try a code on the vault.

        Args:
            code: The code to try, a digit.
        """
        await asyncio.sleep(0)
        self.tries.append(code)
        return "open" if code == self.code else ("higher" if code < self.code else "lower")

    def count(self) -> str:
        """How many codes were tried."""
        return str(len(self.tries))

    async def get_reward(self) -> float:
        await asyncio.sleep(0)
        return 1.0 if self.code in self.tries else 0.0


def opened(env: Vault) -> bool:
    return env.code in env.tries


ROWS = [{"prompt": [{"role": "user", "content": "Open the vault."}], "code": code} for code in (3, 7, 5, 1)]
DATASET = DatasetDict(
    {
        "train": Dataset.from_list(ROWS[:2]),
        "test": Dataset.from_list(ROWS[2:3]),
        "validation": Dataset.from_list(ROWS[3:]),
    }
)
ONLY_TEST = DatasetDict({"test": Dataset.from_list(ROWS[:1])})
THREE_SPLITS = DATASET  # under its own name: the adapter warns once per dataset name and process
COLUMNS = {"prompt": ["Open it."] * 3, "code": [2, 4, 6]}
SEEN: list[dict] = []


def answer_length(completions, environments, code, **kwargs) -> list[float]:
    """TRL batch style: 0.1 x the words of the final answer; records what it was given."""
    SEEN.append({"completions": completions, "environments": environments, "code": code, **kwargs})
    return [0.1 * len(completion[-1].get("content", "").split()) for completion in completions]


def tries_penalty(env: Vault) -> float:
    """agentrl's one-environment style."""
    return -0.01 * len(env.tries)


def nothing(completions, **kwargs) -> list:
    return [None]


def too_many(environments, **kwargs) -> list[float]:
    return [1.0, 2.0]


def call(name: str, **arguments) -> str:
    return tool_action(f'<tool_call>{json.dumps({"name": name, "arguments": arguments})}</tool_call>')[0]


def answer(text: str) -> str:
    action, well_formed = tool_action(text)
    assert not well_formed
    return action


# -------------------------------------------------------------------------------------------- async + reward
def test_async_tools_and_async_get_reward_are_awaited_inside_or_outside_a_running_loop():
    by_file = make_env(f"trl:{HERE}:Vault", dataset="DATASET")  # a file path works as well as a module path
    assert by_file.task_ids("train") == ["Vault/train/00000", "Vault/train/00001"]
    env = make_env(SPEC, dataset="DATASET", done="opened", max_steps=6)
    observation, info = env.reset("Vault/train/00001")  # code 7
    check_info(info)
    assert observation == "Open the vault. The code has one digit."
    assert [schema["function"]["name"] for schema in info["tools"]] == ["count", "try_code"]
    observation, reward, done, info = env.step(call("try_code", code=3))
    assert (observation, reward, done) == ("higher", 0.0, False)  # the tool's value, not a coroutine's repr

    async def inside_a_loop():
        return env.step(call("try_code", code=7))

    observation, reward, done, info = asyncio.run(inside_a_loop())
    assert (observation, reward, done, info["won"]) == ("open", 1.0, True, True)  # async get_reward: 1.0

    async def raising():  # an async tool's exception is an error text, as a sync tool's is
        env.reset("Vault/train/00000")
        return env.step(call("try_code", code="x"))

    assert "must be int" in asyncio.run(raising())[0]


def test_trl_itself_sees_the_same_tools_and_reward(tiny_model, tiny_tokenizer, tmp_path):
    """TRL's GRPOTrainer(environment_factory=Vault) collects the same tools (their schemas as TRL renders them) and
    its get_reward column gives the reward the adapter gives."""
    from transformers.utils import get_json_schema
    from trl import GRPOConfig, GRPOTrainer
    from trl.chat_template_utils import qwen2_5_chat_template

    tiny_tokenizer.chat_template = qwen2_5_chat_template  # a template TRL's tool loop accepts
    args = GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=2, num_generations=2, max_steps=1, use_cpu=True,
        bf16=False, report_to=[], max_completion_length=8,
    )
    trainer = GRPOTrainer(
        model=tiny_model, args=args, train_dataset=DATASET["train"], processing_class=tiny_tokenizer,
        environment_factory=Vault,
    )
    env = make_env(SPEC, dataset="DATASET")
    assert type(env.env) is Vault  # TRL's reward column checks the exact class
    _, info = env.reset("Vault/train/00000")
    assert [get_json_schema(tool) for tool in trainer._env_tools[None]] == info["tools"]
    env.step(call("try_code", code=3))
    _, reward, done, _ = env.step(answer("done"))
    trl_reward = asyncio.run(trainer.reward_funcs[-1](environments=[env.env]))  # TRL's async get_reward column
    assert trainer.reward_func_names[-1] == "Vault" and done and trl_reward == [reward] == [1.0]


def test_batch_and_single_reward_functions_are_summed_with_get_reward_as_trl_does():
    SEEN.clear()
    env = make_env(SPEC, dataset="DATASET", reward_funcs=["answer_length", "tries_penalty", "nothing"], max_steps=5)
    env.reset("Vault/eval_in/00000")  # test split: code 5
    env.step(call("try_code", code=2))
    observation, reward, done, info = env.step(answer("my final answer"))
    # 0.1 x 3 words + (-0.01 x 1 try) + None (left out) + get_reward 0
    assert done and (observation, info["tool_messages"]) == ("", []) and reward == pytest.approx(0.29)
    assert not info["won"] or reward > 0
    (seen,) = SEEN
    assert seen["code"] == [5] and seen["environments"] == [env.env] and seen["prompts"][0][0]["content"].startswith(
        "Open the vault."
    )
    assert seen["completions"] == [
        [
            {"role": "assistant", "content": "", "tool_calls": [
                {"type": "function", "function": {"name": "try_code", "arguments": {"code": 2}}}
            ]},
            {"role": "tool", "name": "try_code", "content": "higher"},
            {"role": "assistant", "content": "my final answer"},
        ]
    ]
    env = make_env(SPEC, dataset="DATASET", reward_funcs="too_many")
    env.reset("Vault/train/00000")
    with pytest.raises(ValueError, match="one value per environment"):
        env.step(answer("x"))


def test_without_end_on_answer_a_turn_without_a_call_is_an_error_that_costs_the_turn():
    env = make_env(SPEC, dataset="DATASET", end_on_answer=False, max_steps=2)
    env.reset("Vault/train/00000")
    observation, reward, done, info = env.step(answer("hello"))
    assert "no tool call found" in observation and not done and not info["valid"]
    _, reward, done, info = env.step(answer("hello again"))
    assert done and reward == 0.0 and not info["won"]  # the step limit; get_reward 0


# --------------------------------------------------------------------------------------------------- datasets
def test_a_dataset_dict_maps_train_and_test_and_says_what_it_leaves_out(caplog):
    with caplog.at_level(logging.WARNING):
        env = make_env(SPEC, dataset="THREE_SPLITS")
    assert [len(env.task_ids(split)) for split in SPLITS] == [2, 1, 0]
    assert "['validation'] are not used" in caplog.text
    env.reset("Vault/eval_in/00000")
    assert env.env.code == 5  # the test row
    env = make_env(SPEC, dataset="DATASET", splits={"eval_in": "validation", "eval_out": "test"})
    assert [len(env.task_ids(split)) for split in SPLITS] == [2, 1, 1]
    env.reset("Vault/eval_in/00000")
    assert env.env.code == 1
    env.reset("Vault/eval_out/00000")
    assert env.env.code == 5


@pytest.mark.parametrize(
    ("kwargs", "sizes", "first_code"),
    [
        ({"dataset": "COLUMNS"}, [3, 0, 0], 2),  # a dict of columns
        ({"dataset": f"{HERE}:ROWS"}, [4, 0, 0], 3),  # a list of rows, by file path
        ({"dataset": f"{__name__}:DATASET"}, [2, 1, 0], 3),  # by module path
    ],
)
def test_datasets_in_every_shape(kwargs, sizes, first_code):
    env = make_env(SPEC, **kwargs)
    assert [len(env.task_ids(split)) for split in SPLITS] == sizes
    env.reset("Vault/train/00000")
    assert env.env.code == first_code


def test_dataset_files(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"prompt": "Open.", "code": code}) + "\n" for code in (4, 8)))
    env = make_env(SPEC, dataset_path=str(rows))
    assert [len(env.task_ids(split)) for split in SPLITS] == [2, 0, 0]
    env.reset("Vault/train/00001")
    assert env.env.code == 8
    by_split = tmp_path / "splits.json"
    by_split.write_text(json.dumps({"train": [{"prompt": "a", "code": 1}], "test": [{"prompt": "b", "code": 2}]}))
    assert [len(make_env(SPEC, dataset_path=str(by_split)).task_ids(s)) for s in SPLITS] == [1, 1, 0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of them"),
        ({"dataset": "DATASET", "dataset_path": "x.jsonl"}, "exactly one of them"),
        ({"dataset": "MISSING"}, "'MISSING' is not defined next to the class"),
        ({"dataset": "DATASET", "splits": {"test": "train"}}, "are not agentrl splits"),
        ({"dataset": "DATASET", "splits": {"eval_out": "holdout"}}, "does not have"),
        ({"dataset": "ONLY_TEST"}, "no train rows"),
        ({"dataset_path": "no/such.jsonl"}, "no such file"),
        ({"dataset": "DATASET", "reward_funcs": ["no_such_reward"]}, "'no_such_reward' is not defined"),
        ({"dataset": "DATASET", "reward_funcs": ["ROWS"]}, "not a function"),
        ({"dataset": "DATASET", "datset": "x"}, "'datset'"),
    ],
)
def test_bad_kwargs_name_the_fix(kwargs, message):
    with pytest.raises(UnknownEnvironmentError, match=message):
        make_env(SPEC, **kwargs)


def test_bad_specs_name_the_fix():
    with pytest.raises(UnknownEnvironmentError, match="has no attribute 'Safe'"):
        make_env(f"trl:{HERE}:Safe", dataset="DATASET")
    with pytest.raises(UnknownEnvironmentError, match="multi-environment mode"):
        make_env(f"trl:{HERE}:FACTORIES", dataset="DATASET")
    with pytest.raises(UnknownEnvironmentError, match="get_reward"):
        make_env(f"trl:{HERE}:NoReward", dataset="DATASET")


FACTORIES = {"vault": Vault}


class NoReward:
    def reset(self, **row) -> None:
        return None


def test_the_class_still_runs_with_trl_style_env_directly():
    env = TRLStyleEnv("v", Vault, {"train": ROWS}, reward_funcs=[tries_penalty], done=opened, max_steps=3)
    env.reset("v/train/00000")
    _, reward, done, _ = env.step(call("try_code", code=3))
    assert done and reward == pytest.approx(1.0 - 0.01)


# ------------------------------------------------------------------------------------------------- training
@pytest.mark.slow
def test_two_updates_on_a_trl_environment_carry_a_gradient(tmp_path):
    from tests.adapter_checks import train_recipe

    small = {"per_device_train_batch_size": 8, "num_generations": 4, "eval_num_tasks": 4}
    steps = train_recipe(tmp_path, "trl_secret_word_tiny.yaml", **small)  # 2 updates, steps [1, 2] checked
    assert all("tools/calls_per_episode" in r for r in steps)
    assert any(r["reward/std"] > 0 and r["grad_norm"] > 0 for r in steps)
