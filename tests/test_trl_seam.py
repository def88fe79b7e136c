"""agentrl/trl_seam.py: every private TRL / transformers / accelerate / torch member agentrl uses still exists with
the arguments it was written for, and another TRL minor version stops `import agentrl.trainer` with one message."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

from agentrl import trl_seam


def resolve(dotted: str):
    """The owner object and the member name of a dotted path like trl.GRPOTrainer._step."""
    module_path, _, rest = dotted.partition(".")
    owner = importlib.import_module(module_path)
    parts = rest.split(".")
    for index, part in enumerate(parts[:-1]):
        try:
            owner = getattr(owner, part)
        except AttributeError:  # a submodule not imported by its package
            owner = importlib.import_module(".".join([module_path, *parts[: index + 1]]))
    return owner, parts[-1]


@pytest.mark.parametrize("dotted", sorted(trl_seam.TOUCHPOINTS))
def test_touchpoint_is_where_agentrl_expects_it(dotted):
    kind, parameters = trl_seam.TOUCHPOINTS[dotted]
    owner, name = resolve(dotted)
    if kind == "attribute":
        # instance attributes: set in the owner's __init__ (read from its source: `self.x =`, or torch's
        # `super().__setattr__("x", ...)`), or a class attribute
        init = inspect.getsource(owner.__init__) if inspect.isclass(owner) else ""
        assert hasattr(owner, name) or f"self.{name} =" in init or f'setattr__("{name}"' in init, dotted
        return
    member = inspect.getattr_static(owner, name)
    function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
    assert tuple(inspect.signature(function).parameters)[: len(parameters)] == parameters, dotted


def test_every_overridden_method_is_listed():
    """The trainer overrides exactly the TRL methods the seam names (a new override must be listed there)."""
    from trl import GRPOTrainer

    from agentrl.trainer import AgentGRPOTrainer

    overridden = {
        name
        for name, member in vars(AgentGRPOTrainer).items()
        if callable(member) and name.startswith("_") and not name.startswith("__") and hasattr(GRPOTrainer, name)
    }
    listed = {d.rsplit(".", 1)[1] for d, (kind, _) in trl_seam.TOUCHPOINTS.items() if d.startswith("trl.GRPOTrainer")}
    assert overridden <= listed, overridden - listed


def test_loss_normalisers_cover_trl_loss_types_as_its_source_reads():
    """Each loss type's branch in TRL's _compute_loss divides the way LOSS_NORMALISERS says."""
    from trl import GRPOTrainer

    source = inspect.getsource(GRPOTrainer._compute_loss)
    for loss_type in trl_seam.LOSS_NORMALISERS:
        assert f'"{loss_type}"' in source, loss_type
    assert "per_token_loss.size(0) * self.max_completion_length" in source  # dr_grpo: per row
    assert 'inputs["num_items_in_batch"]' in source  # dapo / cispo / vespo: the whole batch's tokens


def test_installed_trl_is_the_supported_one():
    import trl

    trl_seam.check_trl_version()
    assert trl.__version__.startswith(trl_seam.SUPPORTED_TRL + ".")


def test_another_trl_minor_version_stops_the_import_with_one_message():
    code = "import trl; trl.__version__ = '1.17.0'; import agentrl.trainer"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "UnsupportedTRLError" in last and "written for TRL 1.16.x" in last and "TRL 1.17.0 is installed" in last
    assert "pip install 'trl==1.16.*'" in last
    with pytest.raises(trl_seam.UnsupportedTRLError, match="TRL 2.0.1 is installed"):
        trl_seam.check_trl_version("2.0.1")
    trl_seam.check_trl_version("1.16.7")  # a patch release is fine
