"""Prompt templates (recipe key `prompt_template`): the shipped ones render, their text is pinned here, the ids the
model is given are one fresh rendering of them, and a template with an unknown field is refused before any model
loads."""

from __future__ import annotations

import pytest
import torch

from agentrl.cli import main
from agentrl.envs import make_env
from agentrl.recipe import RecipeError, load_recipe, parse_train_args
from agentrl.rollout import HFGenerator, PromptBuilder, RolloutCollector
from agentrl.rollout.prompt import Turn
from agentrl.rollout.prompt_templates import (
    BUILT_IN,
    GENERIC,
    PromptTemplateError,
    check_template,
    load_prompt_template,
)
from tests.test_cli import write_recipe

# ---- the texts, pinned: a change to a shipped template shows up here ------------------------------------------------
ALFWORLD_TASK = "examine the pillow with the desklamp"
ALFWORLD_HISTORY = [
    Turn(
        "You are in the middle of a room. Looking quickly around you, you see a armchair 1, a bed 1, a drawer 1, "
        "a shelf 1, and a sidetable 1.\n\nYour task is to: examine the pillow with the desklamp.",
        "look",
    ),
    Turn("You are in the middle of a room. Looking quickly around you, you see nothing.", "go to bed 1"),
    Turn("You arrive at bed 1. On the bed 1, you see a tennisracket 2.  ", "go to armchair 1"),
]
ALFWORLD_OBSERVATION = "You arrive at armchair 1. On the armchair 1, you see a basketball 1, and a pillow 1."
ALFWORLD_ACTIONS = ["examine armchair 1", "go to bed 1", "go to sidetable 1", "take pillow 1 from armchair 1"]

ALFWORLD_PROMPT = """\
You are a household robot in ALFWorld, a text simulation of rooms with numbered furniture, appliances and objects. \
Your task is to: examine the pillow with the desklamp
You have already taken 3 step(s). Your most recent 2 observation(s), each with the action you took after it:
Observation 2: You are in the middle of a room. Looking quickly around you, you see nothing.
Action 2: go to bed 1
Observation 3: You arrive at bed 1. On the bed 1, you see a tennisracket 2.
Action 3: go to armchair 1
This is step 4. What you observe now: You arrive at armchair 1. On the armchair 1, you see a basketball 1, and a \
pillow 1.
Admissible actions now: ["examine armchair 1", "go to bed 1", "go to sidetable 1", "take pillow 1 from armchair 1"]
Before acting, reason step by step about where things are and what the task still needs, inside <think> </think> \
tags. Then write exactly one of the admissible actions inside <action> </action> tags."""

WEBSHOP_TASK = (
    "i need wireless keyboard that is ergonomic design, quiet keys and plug and play, with color: space gray, and "
    "price lower than 40.00 dollars"
)
WEBSHOP_HISTORY = [
    Turn(
        f"WebShop [SEP] Instruction: [SEP] {WEBSHOP_TASK} [SEP] Search",
        "search[wireless keyboard ergonomic quiet keys space gray]",
    ),
]
WEBSHOP_OBSERVATION = (
    f"Instruction: [SEP] {WEBSHOP_TASK} [SEP] Back to Search [SEP] Page 1 (Total results: 50) [SEP] Next > [SEP] "
    "B0ZMAVHZB7 [SEP] Riqui Portable Wireless Keyboard - Backlit Keys, Plug And Play [SEP] $16.99 [SEP] B0HAJYEJCJ "
    "[SEP] Melar Latest Wireless Keyboard - Quiet Keys, Ergonomic Design [SEP] $28.99"
)
WEBSHOP_ACTIONS = ["click[back to search]", "click[next >]", "click[b0zmavhzb7]", "click[b0hajyejcj]"]

WEBSHOP_PROMPT = """\
You are a shopping assistant in WebShop, a simulated online store whose pages are shown as text, their elements \
separated by [SEP]. Your task is to find and buy the product that fits this instruction: i need wireless keyboard \
that is ergonomic design, quiet keys and plug and play, with color: space gray, and price lower than 40.00 dollars
You have already taken 1 step(s). Your most recent 1 page(s), each with the action you took on it:
Page 1: WebShop [SEP] Instruction: [SEP] i need wireless keyboard that is ergonomic design, quiet keys and plug and \
play, with color: space gray, and price lower than 40.00 dollars [SEP] Search
Action 1: search[wireless keyboard ergonomic quiet keys space gray]
This is step 2. The page you see now: Instruction: [SEP] i need wireless keyboard that is ergonomic design, quiet \
keys and plug and play, with color: space gray, and price lower than 40.00 dollars [SEP] Back to Search [SEP] Page 1 \
(Total results: 50) [SEP] Next > [SEP] B0ZMAVHZB7 [SEP] Riqui Portable Wireless Keyboard - Backlit Keys, Plug And \
Play [SEP] $16.99 [SEP] B0HAJYEJCJ [SEP] Melar Latest Wireless Keyboard - Quiet Keys, Ergonomic Design [SEP] $28.99
Admissible actions now: ["click[back to search]", "click[next >]", "click[b0zmavhzb7]", "click[b0hajyejcj]"]
Before acting, reason step by step about which product, options and price fit the instruction, inside <think> \
</think> tags. Then write exactly one of the admissible actions inside <action> </action> tags (a search may use \
your own keywords inside search[...])."""

# The generic template is the text agentrl wrote before templates existed, byte for byte (the quickstart's numbers
# depend on it): the same inputs as the ALFWorld example.
GENERIC_PROMPT = """\
You are an agent in a text world. Your task is to: examine the pillow with the desklamp
You have taken 3 steps. Your last 2 observations and actions:
[Observation 2: You are in the middle of a room. Looking quickly around you, you see nothing.] [Action 2: go to bed 1]
[Observation 3: You arrive at bed 1. On the bed 1, you see a tennisracket 2.] [Action 3: go to armchair 1]
You are now at step 4. Current observation: You arrive at armchair 1. On the armchair 1, you see a basketball 1, and a \
pillow 1.
Your admissible actions are: ["examine armchair 1", "go to bed 1", "go to sidetable 1", "take pillow 1 from armchair 1"]
Think step by step inside <think> </think>, then give one admissible action inside <action> </action>."""


def test_the_alfworld_prompt_is_pinned():
    builder = PromptBuilder(None, 2, "alfworld")
    text = builder.text(ALFWORLD_TASK, ALFWORLD_OBSERVATION, ALFWORLD_HISTORY, ALFWORLD_ACTIONS)
    assert text == ALFWORLD_PROMPT


def test_the_webshop_prompt_is_pinned():
    text = PromptBuilder(None, 2, "webshop").text(WEBSHOP_TASK, WEBSHOP_OBSERVATION, WEBSHOP_HISTORY, WEBSHOP_ACTIONS)
    assert text == WEBSHOP_PROMPT


def test_the_generic_prompt_is_the_default_and_unchanged():
    builder = PromptBuilder(None, 2)
    assert builder.template is GENERIC
    assert builder.text(ALFWORLD_TASK, ALFWORLD_OBSERVATION, ALFWORLD_HISTORY, ALFWORLD_ACTIONS) == GENERIC_PROMPT
    # first step, no actions listed: the history and actions lines are left out, not left blank
    assert builder.text("find the coin", " You are in a hall. ", [], []) == (
        "You are an agent in a text world. Your task is to: find the coin\n"
        "You are now at step 1. Current observation: You are in a hall.\n"
        "Think step by step inside <think> </think>, then give one admissible action inside <action> </action>."
    )
    assert builder.observation_text(3, "You see a coin.", ["take coin"]) == (
        'You are now at step 3. Current observation: You see a coin.\nYour admissible actions are: ["take coin"]'
    )
    assert builder.observation_text(3, "You see a coin.", []) == (
        "You are now at step 3. Current observation: You see a coin."
    )


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_every_shipped_template_renders_every_step_in_both_formats(name):
    """Real episodes of the environment each template is for (household for the generic one): every step's prompt
    holds the task, the current observation, the shown turns, every admissible action and the tag instruction, and
    has no empty line; the concat answer holds the observation and the actions."""
    template = check_template(BUILT_IN[name])
    env_name, split = {"alfworld": ("alfworld", "eval_in"), "webshop": ("webshop", "eval_in")}.get(
        name, ("household", "eval_in")
    )
    env = make_env(env_name)
    for history_length in (0, 2):
        builder = PromptBuilder(None, history_length, name)
        for task_id in env.task_ids(split)[:2]:
            observation, info = env.reset(task_id)
            history: list[Turn] = []
            for _ in range(4):
                actions = info["admissible_actions"]
                text = builder.text(info["task"], observation, history, actions)
                assert info["task"] in text and observation.strip() in text
                assert "<think> </think>" in text and "<action> </action>" in text
                assert all(f'"{action}"' in text for action in actions)
                shown = history[-history_length:] if history_length else []
                bare = text  # the template's own lines, without the environment's text (which has blank lines)
                for seen in [observation, *(turn.observation for turn in shown)]:
                    bare = bare.replace(seen.strip(), "")
                assert "\n\n" not in bare and not text.endswith("\n")
                assert all(turn.observation.strip() in text and turn.action in text for turn in shown)
                assert (f"{len(history)} step" in text) == bool(shown)  # the step count comes with the history
                answer = builder.observation_text(len(history) + 1, observation, actions)
                assert observation.strip() in answer and all(f'"{action}"' in answer for action in actions)
                assert f"step {len(history) + 1}" in text and f"step {len(history) + 1}" in answer
                action = info["expert_action"]
                next_observation, _, done, info = env.step(action)
                history.append(Turn(observation, action))
                observation = next_observation
                if done:
                    break
    assert template.fingerprint == load_prompt_template(name).fingerprint


# ---- the ids the model is given are one rendering of the template ----------------------------------------------------
class SpyGenerator:
    """Keeps exactly what went into each batched generate call."""

    def __init__(self, inner):
        self.inner, self.prompts = inner, []

    def generate(self, prompts):
        self.prompts += [list(p) for p in prompts]
        return self.inner.generate(prompts)


@pytest.mark.parametrize("name,env_name", [("alfworld", "alfworld"), ("webshop", "webshop")])
def test_the_ids_the_model_sees_are_one_fresh_rendering_of_the_template(name, env_name, tiny_model, tiny_tokenizer):
    factory = lambda: make_env(env_name, max_steps=3)  # noqa: E731
    collector = RolloutCollector(factory, PromptBuilder(tiny_tokenizer, 2, name))
    spy = SpyGenerator(HFGenerator(tiny_model, tiny_tokenizer, max_new_tokens=10, temperature=1.0))
    torch.manual_seed(0)
    task_ids = factory().task_ids("eval_in")[:2]
    episodes = collector.collect(spy, task_ids, [0, 1])
    recorded = [step.prompt_ids for turn in range(3) for episode in episodes if episode.length > turn
                for step in [episode.steps[turn]]]  # fmt: skip
    assert recorded == spy.prompts and len(recorded) >= 2
    fresh = PromptBuilder(None, 2, load_prompt_template(name))  # a new builder: text only, no tokenizer
    for episode in episodes:
        env = factory()  # replay the episode for the admissible actions each step showed
        _, info = env.reset(episode.task_id)
        for number, step in enumerate(episode.steps):
            history = [Turn(s.observation, s.action) for s in episode.steps[:number]]
            text = fresh.text(episode.task, step.observation, history, info["admissible_actions"])
            assert text.startswith(BUILT_IN[name].prompt.split("{task}")[0])  # the template's role sentence
            rendered = tiny_tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False
            )
            assert tiny_tokenizer(rendered, add_special_tokens=False)["input_ids"] == step.prompt_ids
            _, _, _, info = env.step(step.action)


def test_concat_mode_uses_the_templates_first_message_and_answers(tiny_tokenizer):
    from tests.test_concat import IM_END, IM_START, ScriptedGenerator

    factory = lambda: make_env("webshop", max_steps=2)  # noqa: E731
    builder = PromptBuilder(tiny_tokenizer, 2, "webshop")
    collector = RolloutCollector(factory, builder, trajectory_format="concat", max_episode_tokens=8192,
                                 max_turn_tokens=64)  # fmt: skip
    texts = ["<think>search</think><action>click[back to search]</action>", "<think>x</think><action>y</action>"]
    task = factory().task_ids("eval_in")[0]
    (episode,) = collector.collect(ScriptedGenerator(tiny_tokenizer, texts), [task], [0])
    env = factory()
    observation, info = env.reset(task)
    first = PromptBuilder(None, 2, "webshop").text(info["task"], observation, [], info["admissible_actions"])
    observation, _, _, info = env.step(episode.steps[0].action)
    answer = PromptBuilder(None, 2, "webshop").observation_text(2, observation, info["admissible_actions"])
    assert answer.startswith("This is step 2. The page you see now: ")
    expected = (
        f"{IM_START}user\n{first}{IM_END}\n{IM_START}assistant\n{texts[0]}{IM_END}\n"
        f"{IM_START}user\n{answer}{IM_END}\n{IM_START}assistant\n"
    )
    assert tiny_tokenizer.decode(episode.context_ids(1), skip_special_tokens=False) == expected


# ---- template files and mistakes -----------------------------------------------------------------------------------
def test_a_template_file_overrides_some_parts_and_keeps_generic_ones(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text('prompt: |-\n  Goal {{literal}}: {task}\n  {history}\n  Now: {observation}\n  {actions}\n  Act.\n')
    template = load_prompt_template(str(path))
    assert template.history == GENERIC.history and template.answer == GENERIC.answer
    builder = PromptBuilder(None, 1, str(path))
    assert builder.text("win", "room", [Turn("hall", "go north")], ["look"]) == (
        "Goal {literal}: win\n"
        "You have taken 1 steps. Your last 1 observations and actions:\n"
        "[Observation 1: hall] [Action 1: go north]\n"
        "Now: room\n"
        'Your admissible actions are: ["look"]\n'
        "Act."
    )
    assert template.fingerprint != GENERIC.fingerprint


@pytest.mark.parametrize(
    "content,message",
    [
        ("prompt: 'Do {taks} now'\n", r"unknown field \{taks\} in `prompt`; the fields of `prompt` are .*\{task\}"),
        ("turn: '{number}: {observation} -> {task}'\n", r"unknown field \{task\} in `turn`"),
        ("prompt: 'Do {task.upper} now'\n", r"unknown field \{task.upper\}"),
        ("prompt: 'Do {} now'\n", r"unknown field \{\}"),
        ("prompt: 'a } b'\n", r"Single '\}'.*literal braces"),
        ("prompt: '{step_number:q}'\n", r"part `prompt`: Unknown format code 'q'"),
        ("promt: 'x'\n", r"unknown key\(s\) promt; a template has the keys prompt, history, turn, actions, answer"),
        ("- a list\n", r"must be a YAML mapping"),
    ],
)
def test_a_bad_template_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(PromptTemplateError, match=message):
        load_prompt_template(str(path))


def test_an_unknown_template_name_says_what_exists():
    with pytest.raises(PromptTemplateError, match=r"'alfwrld' is neither a built-in template \(generic, alfworld, "):
        load_prompt_template("alfwrld")


def test_the_recipe_refuses_a_bad_template_before_any_model_loads(tmp_path, capsys, no_model_loading):
    (tmp_path / "words.yaml").write_text("prompt: 'Task {task}, step {step}'\n")
    recipe = write_recipe(tmp_path, prompt_template="words.yaml")  # relative: found next to the recipe
    code = main(["train", "--config", str(recipe)])
    err = capsys.readouterr().err
    assert code == 2 and "unknown field {step} in `prompt`" in err and str(tmp_path / "words.yaml") in err
    with pytest.raises(RecipeError, match="neither a built-in template"):
        parse_train_args(["--config", str(write_recipe(tmp_path, prompt_template="nowhere.yaml"))])


def test_a_recipes_template_file_is_found_next_to_the_recipe(tmp_path, monkeypatch):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "words.yaml").write_text("prompt: 'Task: {task}\\n{actions}'\n")
    recipe = tmp_path / "recipes" / "run.yaml"
    recipe.write_text("env_id: household-easy\nprompt_template: words.yaml\n")
    monkeypatch.chdir(tmp_path)  # the current folder has no words.yaml
    assert load_recipe(recipe)["prompt_template"] == str((tmp_path / "recipes" / "words.yaml").resolve())
    recipe.write_text("env_id: household-easy\nprompt_template: alfworld\n")  # a built-in name stays a name
    assert load_recipe(recipe)["prompt_template"] == "alfworld"
