"""The vLLM rollout backend on CPU: the importance-sampling ratio by hand, the generator and the served-weights
check on an engine that honours TRL's `VLLMGeneration` contract with Hugging Face generate (tests/hf_engine.py;
vLLM itself runs on CUDA only), ranks in lockstep under a collective backend, and the trainer's vLLM path.
"""

from __future__ import annotations

import copy
import json
import math
from unittest.mock import patch

import pytest
import torch
import trl.trainer.grpo_trainer
from agentrl.envs import make_env
from transformers import AutoModelForCausalLM

from agentrl.algorithms.importance import importance_sampling_ratio, sampler_mismatch
from agentrl.config import AgentRLConfig
from agentrl.rollout.generator import HFGenerator
from agentrl.rollout.vllm_backend import ServedWeightsCheck, VLLMGenerator
from agentrl.trainer import AgentGRPOTrainer
from tests.hf_engine import HFEngine

T = torch.tensor


# ---------------------------------------------------------------- importance sampling ratio, by hand
POLICY = T([[-1.0, -2.0, -0.5], [-0.3, -0.1, -4.0]])
SAMPLED = T([[-1.5, -1.0, -0.5], [-0.3, math.nan, -3.0]])
MASK = T([[1, 1, 0], [1, 1, 1]])


def test_token_ratios_by_hand():
    # row 0: exp(0.5), exp(-1.0), masked -> exp(0); row 1: exp(0), NaN -> exp(0), exp(-1.0)
    expected = T([[math.exp(0.5), math.exp(-1.0), 1.0], [1.0, 1.0, math.exp(-1.0)]])
    got = importance_sampling_ratio(POLICY, SAMPLED, MASK, "token_truncate", clip_min=None, clip_max=1.5)
    assert torch.allclose(got, expected.clamp(max=1.5))
    masked = importance_sampling_ratio(POLICY, SAMPLED, MASK, "token_mask", clip_min=0.5, clip_max=1.5)
    assert torch.allclose(masked, T([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]))  # exp(.5)=1.65 > 1.5, exp(-1)=.37 < .5


def test_sequence_ratios_by_hand():
    # row 0: exp(0.5 - 1.0) = exp(-0.5) = 0.607; row 1: exp(0 + 0 - 1.0) = 0.368
    got = importance_sampling_ratio(POLICY, SAMPLED, MASK, "sequence_truncate", clip_min=0.5, clip_max=3.0)
    assert got.shape == (2, 1) and torch.allclose(got, T([[math.exp(-0.5)], [0.5]]))
    masked = importance_sampling_ratio(POLICY, SAMPLED, MASK, "sequence_mask", clip_min=0.5, clip_max=3.0)
    assert torch.allclose(masked, T([[math.exp(-0.5)], [0.0]]))
    with pytest.raises(ValueError, match="token_truncate"):
        importance_sampling_ratio(POLICY, SAMPLED, MASK, "per_token")


def test_sampler_mismatch_skips_unknown_and_masked_tokens():
    assert sorted(sampler_mismatch(POLICY, SAMPLED, MASK).tolist()) == pytest.approx([0.0, 0.5, 1.0, 1.0])


# ---------------------------------------------------------------- the generator on an engine
def independent_scores(model, temperature):
    """log softmax(logits / T) of each response token and the full-vocabulary entropy, one plain forward each."""

    def score(prompts, responses):
        logps, entropies = [], []
        for prompt, response in zip(prompts, responses, strict=True):
            ids = torch.tensor([list(prompt) + list(response)])
            with torch.no_grad():
                logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1] / temperature
            log_probs = torch.log_softmax(logits.double(), -1)
            logps.append(log_probs.gather(-1, torch.tensor(response)[:, None]).squeeze(-1).tolist())
            entropies.append((-(log_probs.exp() * log_probs).sum(-1)).tolist())
        return logps, entropies

    return score


def test_generator_returns_the_engines_tokens_and_logprobs_and_the_policys_entropies(tiny_model, tiny_tokenizer):
    engine = HFEngine(tiny_model, tiny_tokenizer, temperature=0.8)
    score = independent_scores(tiny_model, 0.8)
    generator = VLLMGenerator(engine, {tiny_tokenizer.eos_token_id}, 10, 0.8, score)
    prompts = [tiny_tokenizer("go to the drawer", add_special_tokens=False)["input_ids"], [5, 6, 7, 8, 9, 10]]
    torch.manual_seed(3)
    out = generator.generate(prompts)
    torch.manual_seed(3)
    direct = HFGenerator(tiny_model, tiny_tokenizer, 10, 0.8).generate(prompts)  # same weights, same stream
    assert engine.max_completion_length == 16 and engine.temperature == 0.8  # per-call settings restored
    for got, want, prompt in zip(out, direct, prompts, strict=True):
        assert got.token_ids == want.token_ids and got.truncated == want.truncated
        assert got.logprobs == want.logprobs  # vLLM's sampling log-probs, as the engine returned them
        logps, entropies = score([prompt], [got.token_ids])
        assert got.entropies == entropies[0]  # from the scorer, not the engine
        # sampler and policy agree (same weights): two float32 computations, within 1e-4 (see test_rollout's
        # test_generator_logprobs_and_entropies_match_an_independent_forward for the bound)
        assert got.logprobs == pytest.approx(logps[0], abs=1e-4)


def test_served_weights_check_catches_a_sync_that_changes_nothing(tiny_model, tiny_tokenizer):
    score = independent_scores(tiny_model, 1.0)
    for broken in (False, True):
        policy = tiny_model
        engine = HFEngine(policy, tiny_tokenizer, broken_sync=broken)
        check = ServedWeightsCheck(tiny_tokenizer("you see a drawer", add_special_tokens=False)["input_ids"])
        engine.sync_weights()
        first = check(engine, 1.0, score)
        assert first["vllm/probe_logp_mismatch"] < 1e-4  # served == policy at the start: float32 rounding (< 1e-4)
        engine.sync_weights()  # the policy has not moved: no alarm either way
        assert check(engine, 1.0, score)["vllm/probe_policy_shift"] == 0.0
        with torch.no_grad():  # an optimizer step
            policy.lm_head.weight.add_(0.05 * torch.randn_like(policy.lm_head.weight))
        engine.sync_weights()
        if broken:
            with pytest.raises(RuntimeError, match="did not change the served model"):
                check(engine, 1.0, score)
        else:
            metrics = check(engine, 1.0, score)
            assert metrics["vllm/probe_policy_shift"] > 1e-3 and metrics["vllm/probe_logp_mismatch"] < 1e-4


def test_served_weights_check_adds_up_small_updates(tiny_model_dir, tiny_tokenizer):
    """Updates each below the tolerance still trip the check once their sum exceeds it (the baseline stays)."""
    policy = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    score = independent_scores(policy, 1.0)
    engine = HFEngine(policy, tiny_tokenizer, broken_sync=True)
    check = ServedWeightsCheck(tiny_tokenizer("you see a drawer", add_special_tokens=False)["input_ids"])
    check(engine, 1.0, score)
    direction = torch.randn_like(policy.lm_head.weight)
    shifts = []
    with pytest.raises(RuntimeError, match="did not change the served model"):
        for _ in range(50):
            with torch.no_grad():
                policy.lm_head.weight.add_(1e-5 * direction)
            shifts.append(check(engine, 1.0, score)["vllm/probe_policy_shift"])
    assert 1 <= len(shifts) and all(shift <= check.policy_tolerance for shift in shifts)  # each alone passed
    assert shifts == sorted(shifts)  # measured against the first probe: growing


@pytest.mark.parametrize("lora", [False, True])
def test_a_seal_policy_streams_exactly_the_served_models_weights(tiny_model_dir, lora):
    """TRL's own weight iteration (the one vLLM's sync streams), wrapped to leave the SEAL head out: the names
    are exactly the plain model's, under LoRA too (merged; the head saved as a module to save)."""
    from accelerate import Accelerator
    from peft import LoraConfig, get_peft_model
    from trl.distributed import DistributedBackend
    from trl.generation.vllm_generation import VLLMGeneration

    from agentrl.seal_capture import HEAD_NAME, attach_seal_head
    from agentrl.trl_seam import filter_served_parameters

    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    served_names = {name for name, _ in plain.named_parameters()}
    policy = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    attach_seal_head(policy, 3, seed=0)
    if lora:
        config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], modules_to_save=[HEAD_NAME])
        policy = get_peft_model(policy, config)
    engine = object.__new__(VLLMGeneration)  # its __init__ starts vLLM (CUDA); the iteration needs none of it
    engine.model, engine.accelerator = policy, Accelerator(cpu=True)
    engine._dist = DistributedBackend(engine.accelerator)
    streamed = {name for name, _ in engine._iter_named_params()}
    assert any(HEAD_NAME in name for name in streamed)  # what TRL alone would send: vLLM would refuse it
    filter_served_parameters(engine, lambda name: HEAD_NAME not in name)
    weights = dict(engine._iter_named_params())
    assert set(weights) == served_names
    expected = plain.state_dict()
    for name, tensor in weights.items():  # LoRA B starts at 0: the merged weights are the base weights
        assert torch.equal(tensor, expected[name]), name


@pytest.mark.slow
@pytest.mark.multiprocess
def test_ranks_stay_in_lockstep_under_a_collective_backend(tiny_model_dir, tmp_path):
    from tests.launch import ROOT, accelerate_launch

    out = tmp_path / "lockstep.json"
    script = f"{ROOT}/tests/scripts/lockstep_rollout.py"
    accelerate_launch("cpu_ddp_2.yaml", [script, str(tiny_model_dir), str(out)], timeout=300)
    ranks = {r["rank"]: r for r in json.loads(out.read_text())}
    assert ranks[0]["lengths"] == [1, 1] and ranks[1]["lengths"] == [3, 3]
    assert ranks[1]["calls"] == [2, 2, 2]  # three turns of two live episodes
    assert ranks[0]["calls"] == [2, 2, 2]  # one turn, then it joined rank 1's two calls with two filler prompts
    assert ranks[0]["own"] == [True] * 2 and ranks[1]["own"] == [True] * 6  # each step got its own prompt's output


# ---------------------------------------------------------------- the trainer's vLLM path
def reward_by_tokens(episodes, **kwargs):
    """Returns that differ within a group (the tiny random model never wins), so the update is not zero."""
    return [float(sum(e.steps[0].response_ids) % 5) if e.steps else 0.0 for e in episodes]


def train(model_dir, tokenizer, tmp_path, engine=None, mode="sequence_mask", **overrides):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    options = {
        "output_dir": str(tmp_path),
        "per_device_train_batch_size": 4,
        "num_generations": 2,
        "max_completion_length": 6,
        "max_episode_steps": 2,
        "learning_rate": 1e-3,
        "temperature": 1.0,
        "bf16": False,
        "use_cpu": True,
        "report_to": [],
        "max_steps": 2,
        "seed": 0,
        "logging_steps": 1,
        "save_strategy": "no",
        "vllm_importance_sampling_mode": mode,
        "use_vllm": engine is not None,
    }
    args = AgentRLConfig(**{**options, **overrides})
    served = copy.deepcopy(model)  # vLLM's copy, taken before TRL patches the policy's forward

    def build_engine(model, accelerator, processing_class, **vllm_options):  # VLLMGeneration's signature
        return engine(model, processing_class, served)

    # use_vllm: true goes through GRPOTrainer.__init__ as on a GPU; only the engine it builds is the HF one
    with patch.object(trl.trainer.grpo_trainer, "VLLMGeneration", build_engine):
        trainer = AgentGRPOTrainer(
            model=model,
            args=args,
            env_factory=lambda: make_env("household-easy", max_steps=2),
            processing_class=tokenizer,
            reward_funcs=[reward_by_tokens],
        )
    trainer.train()
    return trainer


# Plain SGD for the backend comparison: the weights are then a smooth function of the gradients (Adam divides by
# sqrt(v) + 1e-8, which turns a 1e-10 gradient difference on a coordinate whose gradient is ~0 into a 1e-2 change
# of its step, so two paths that agree to float32 rounding can end 1e-5 apart: the failure seen on other machines).
SGD = {"optim": "sgd", "learning_rate": 0.05}


@pytest.fixture(scope="module")
def hf_backend_run(tiny_model_dir, tiny_tokenizer, tmp_path_factory):
    return train(tiny_model_dir, tiny_tokenizer, tmp_path_factory.mktemp("hf"), **SGD)


@pytest.mark.parametrize("mode", ["sequence_mask", "token_truncate"])
def test_trainer_on_an_exact_engine_matches_the_hf_backend(
    hf_backend_run, tiny_model_dir, tiny_tokenizer, tmp_path, mode
):
    """Same weights served, same sampling stream: the same episodes, importance ratios ~1, the same update."""
    trainer = train(tiny_model_dir, tiny_tokenizer, tmp_path, engine=HFEngine, mode=mode, **SGD)
    assert trainer.vllm_generation.syncs == 2  # once before each update's rollouts
    history = [h for h in trainer.state.log_history if "sampling/importance_sampling_ratio/mean" in h]
    assert len(history) == 2
    # The engine's log-probs (generate, KV cache) and the policy's (one forward) are two float32 computations of the
    # same numbers: each |log-prob| < 8 is rounded to ulp(8) = 9.5e-7, so a token's ratio is 1 within 2e-6 and a
    # sequence's (6 tokens at most) within delta = 6 x 2 x 9.5e-7 ~ 1.2e-5.
    delta = 1.2e-5
    for logged in history:
        assert logged["sampling/sampling_logp_difference/max"] <= 2e-6
        assert abs(logged["sampling/importance_sampling_ratio/min"] - 1) <= delta
        assert abs(logged["sampling/importance_sampling_ratio/max"] - 1) <= delta
        assert logged["vllm/probe_logp_mismatch"] <= 2e-6
    assert history[1]["vllm/probe_policy_shift"] > 1e-4  # the policy did move between the syncs
    reference = dict(hf_backend_run.model.named_parameters())
    initial = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    # The only difference between the runs is each row's (token's) loss multiplied by its ratio w, |w - 1| <= delta:
    # per SGD step the weights differ by lr x |sum_r (w_r - 1) grad L_r| <= lr x delta x G, with G the sum over rows
    # of one coordinate's per-row gradients (<= 10 here: 8 rows of gradients of norm <= ~1.3, as the logged
    # grad_norm). Two steps: 2 x 0.05 x 1.2e-5 x 10 = 1.2e-5 (the runs measure ~1e-8).
    tolerance = 2 * SGD["learning_rate"] * delta * 10
    moved = 0.0
    for name, parameter in trainer.model.named_parameters():
        assert (parameter - reference[name]).abs().max().item() <= tolerance, name
        moved = max(moved, (parameter - initial[name]).abs().max().item())
    assert moved > 100 * tolerance  # and the update was far larger than the tolerance


def test_a_seal_run_syncs_only_the_language_model(tiny_model_dir, tiny_tokenizer, tmp_path):
    """The SEAL head stays out of the sync (the served model has none); the served weights follow the policy."""
    trainer = train(tiny_model_dir, tiny_tokenizer, tmp_path, engine=HFEngine, seal=True)
    engine = trainer.vllm_generation
    assert engine.syncs == 2 and not any("seal" in name for name, _ in engine.served.named_parameters())
    history = [h for h in trainer.state.log_history if "vllm/probe_logp_mismatch" in h]
    assert len(history) == 2 and all(h["vllm/probe_logp_mismatch"] < 1e-4 for h in history)


def test_trainer_stops_on_a_sync_that_changes_nothing(tiny_model_dir, tiny_tokenizer, tmp_path):
    def broken(policy, tokenizer, served):
        return HFEngine(policy, tokenizer, served, broken_sync=True)

    with pytest.raises(RuntimeError, match="did not change the served model"):
        train(tiny_model_dir, tiny_tokenizer, tmp_path, engine=broken)


def count_policy_passes(monkeypatch):
    """Count the update's own policy passes through the seam (TRL's loss forward is not one of them), by kind."""
    from agentrl import trl_seam

    counts = {"scoring": 0, "logps": 0}
    real = trl_seam.per_token_logps_and_entropies

    def counted(*args, compute_entropy=False, **kwargs):
        counts["scoring" if compute_entropy else "logps"] += 1
        return real(*args, compute_entropy=compute_entropy, **kwargs)

    monkeypatch.setattr(trl_seam, "per_token_logps_and_entropies", counted)
    return counts


def test_vllm_rollouts_are_scored_only_when_something_reads_their_entropies(
    tiny_model_dir, tiny_tokenizer, tmp_path, monkeypatch
):
    """No reader of rollout entropies: no scoring pass, no entropy/* figures, old log-probs from one pass per update.
    EMPG reads them: every turn is scored, and those scores are the old log-probs (no second pass)."""
    counts = count_policy_passes(monkeypatch)
    plain = train(tiny_model_dir, tiny_tokenizer, tmp_path / "plain", engine=HFEngine, vllm_sync_check=False)
    assert counts == {"scoring": 0, "logps": 2}  # the importance-sampling correction's old log-probs, per update
    logged = [h for h in plain.state.log_history if "reward/mean" in h]
    assert len(logged) == 2 and not any(key.startswith("entropy/") for h in logged for key in h)

    counts.update(scoring=0, logps=0)
    scored = train(tiny_model_dir, tiny_tokenizer, tmp_path / "empg", engine=HFEngine, vllm_sync_check=False, empg=True)
    assert counts["scoring"] >= 2 * 1 and counts["logps"] == 0  # at least one turn per update; no old-logps pass
    logged = [h for h in scored.state.log_history if "reward/mean" in h]
    assert all("entropy/token_mean" in h and "empg/g_mean" in h for h in logged)
    for h in logged:  # reused scores are the policy's log-probs: the importance ratio is 1 (float32 rounding)
        assert abs(h["sampling/importance_sampling_ratio/mean"] - 1) <= 1.2e-5


def test_rows_carry_scored_log_probs_only_when_every_step_has_them():
    from agentrl.rollout.episode import Episode, Step
    from agentrl.rollout.samples import concat_rows, per_step_rows

    def step(prompt, response, policy):
        return Step(
            prompt,
            response,
            [-1.0] * len(response),
            [0.5] * len(response),
            "r",
            "a",
            True,
            True,
            0.0,
            0.0,
            "obs",
            None,
            False,
            policy_logprobs=policy,
        )

    scored = Episode("t", 0, steps=[step([1, 2], [3, 4], [-0.5, -0.25]), step([5], [6], [-0.75])])
    rows = per_step_rows([scored], [1.0, 1.0], pad_token_id=0)
    assert rows["rollout_policy_logps"].tolist() == [[-0.5, -0.25], [-0.75, 0.0]]  # exact in float32
    rows = concat_rows([scored], [1.0, 1.0], pad_token_id=0)  # response 3 4, environment 5 (0), response 6
    assert rows["rollout_policy_logps"].tolist() == [[-0.5, -0.25, 0.0, -0.75]]
    unscored = Episode("t", 0, steps=[step([1, 2], [3, 4], None)])
    assert "rollout_policy_logps" not in per_step_rows([scored, unscored], [1.0] * 3, pad_token_id=0)
    assert "rollout_policy_logps" not in concat_rows([scored, unscored], [1.0] * 3, pad_token_id=0)
