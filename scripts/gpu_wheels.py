"""The wheels agentrl needs on the GPU machine: which, fetching them, checking they fit, installing them there.

The GPU machine has no network, so what agentrl needs and its image lacks travels with the working tree as wheels
in `wheels/` (git-ignored), and everything that travels must fit in 64 MiB. The set is computed, not listed by
hand. Starting from agentrl's own requirements (pyproject.toml, read from this environment's installed metadata),
each requirement, with its markers evaluated for the machine (CPython 3.12, Linux x86_64), is
  - satisfied when the machine has the package at a version inside the specifier (or the specifier is empty);
  - assumed satisfied when the machine has it at an unknown version and the specifier is only a lower bound
    (`>=`, `>`): the image is newer than such bounds; `gpu_check.py run` checks every one there and records misses;
  - carried otherwise (missing, a version outside the specifier, or an unknown version under an upper bound or an
    exact pin), at the version this environment has (the one the tests ran with); a carried package's own
    requirements are then walked the same way.
torch and the CUDA libraries are never carried: the machine's CUDA build is what is being measured.

Fetching: `pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux...` per package;
a package published only as an sdist (deepspeed) is built here into a wheel when that wheel is pure Python
(`py3-none-any`; deepspeed with DS_BUILD_OPS=0: its CUDA ops compile on first use there), else prepare fails
naming it. agentrl itself travels as a wheel built from the files that travel (tracked + untracked, not ignored).

Only the standard library is imported at module level: `gpu_check.py run` imports this module on the bare machine
before anything is installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MACHINE_PACKAGES_FILE = Path(__file__).resolve().parent / "gpu_machine_packages.txt"
LIMIT_BYTES = 64 * 2**20  # the device tool carries at most 64 MiB: working tree + carried paths together
MACHINE_PYTHON = "3.12"
# Markers of the machine's interpreter (PEP 508 environment), to evaluate `; python_version < "3.11"` and the like.
MACHINE_MARKERS = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "implementation_name": "cpython",
    "implementation_version": "3.12.3",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "sys_platform": "linux",
    "os_name": "posix",
    "extra": "",
}
# pip matches manylinux tags exactly: offer every glibc from 2.17 (manylinux2014) to the machine's (Ubuntu 24.04, 2.39).
PLATFORMS = ["manylinux2014_x86_64", "manylinux1_x86_64"] + [f"manylinux_2_{n}_x86_64" for n in range(5, 40)]
NEVER_CARRY = re.compile(r"^(torch|triton|torchvision|torchaudio|nvidia-.*|cuda-.*)$")
# sdist-only packages that build into a pure-Python wheel with these settings.
SDIST_BUILD_ENV = {"deepspeed": {"DS_BUILD_OPS": "0"}}
UPPER_BOUND_OPERATORS = {"<", "<=", "==", "===", "~=", "!="}


class WheelSetTooLarge(ValueError):
    """The wheels plus the working tree exceed what the device tool carries."""


def canonical(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_machine_packages(path: str | os.PathLike = MACHINE_PACKAGES_FILE) -> dict[str, str | None]:
    """{name: version or None} from a `name==version` / bare-name list (comments and blank lines skipped)."""
    packages: dict[str, str | None] = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        packages[canonical(name.strip())] = version.strip() or None
    return packages


@dataclass
class WheelPlan:
    """What travels: {name: version} with why, and what is assumed present on the machine."""

    carry: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    assumed: list[dict] = field(default_factory=list)  # {"name", "specifier", "required_by"}: unknown version there
    left_out: list[str] = field(default_factory=list)  # --without: not carried, nor their requirements


def plan_wheels(
    roots: Iterable[str],
    machine: dict[str, str | None],
    local_version: Callable[[str], str | None],
    local_requires: Callable[[str], list[str]],
    without: Iterable[str] = (),
    parent: str = "agentrl",
) -> WheelPlan:
    """Walk the requirement strings `roots` (those of `parent`) and decide, package by package, what travels.

    `machine`: the machine's packages ({name: version or None}); `local_version(name)`: this environment's version
    (what is carried); `local_requires(name)`: its requirement strings (importlib.metadata.requires). Raises
    ValueError when a carried package's local version does not satisfy a requirement, or torch/CUDA would have to.
    """
    from packaging.requirements import Requirement
    from packaging.version import Version

    plan = WheelPlan()
    skip = {canonical(name) for name in without}
    wanted: dict[str, list[tuple[str, str]]] = {}  # carried name -> [(specifier, required_by)]
    queue = [(text, parent) for text in roots]
    while queue:
        text, required_by = queue.pop(0)
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(MACHINE_MARKERS):
            continue
        name, specifier = canonical(requirement.name), requirement.specifier
        if name in skip:
            if name not in plan.left_out:
                plan.left_out.append(name)
            continue
        if name in plan.carry:
            wanted[name].append((str(specifier), required_by))
            continue
        have = machine.get(name, "missing")
        if have is None:  # there, version unknown
            if not specifier:
                continue
            if all(spec.operator not in UPPER_BOUND_OPERATORS for spec in specifier):
                entry = {"name": name, "specifier": str(specifier), "required_by": required_by}
                if entry not in plan.assumed:
                    plan.assumed.append(entry)
                continue
            reason = f"the machine's version is unknown and {required_by} pins {specifier}"
        elif have == "missing":
            reason = f"not on the machine (required by {required_by})"
        elif specifier.contains(Version(have), prereleases=True):
            continue
        else:
            reason = f"the machine has {have}; {required_by} needs {specifier}"
        if NEVER_CARRY.match(name):
            raise ValueError(f"{name} would have to travel ({reason}), but the machine's own CUDA build must be used")
        version = local_version(name)
        if version is None:
            raise ValueError(f"{name} must travel ({reason}) but is not installed here: pip install it first")
        plan.carry[name] = version
        plan.reasons[name] = reason
        wanted[name] = [(str(specifier), required_by)]
        queue += [(text, name) for text in local_requires(name)]
    for name, specs in wanted.items():  # every requirement on a carried package must hold for the carried version
        for spec, required_by in specs:
            if not Requirement(f"{name}{spec}").specifier.contains(Version(plan.carry[name]), prereleases=True):
                raise ValueError(
                    f"{required_by} needs {name}{spec} but this environment has {name} {plan.carry[name]}: "
                    f"install a matching {name} here, then run prepare again"
                )
    # A machine package assumed present may be carried after all (another requirement pinned it): not assumed then.
    plan.assumed = [entry for entry in plan.assumed if entry["name"] not in plan.carry]
    return plan


def installed_version(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def installed_requires(name: str) -> list[str]:
    import importlib.metadata

    return list(importlib.metadata.requires(name) or [])


def check_size(wheel_bytes: int, tree_bytes: int, limit: int = LIMIT_BYTES) -> int:
    """The total that travels; WheelSetTooLarge when it is over `limit`."""
    total = wheel_bytes + tree_bytes
    if total > limit:
        raise WheelSetTooLarge(
            f"what travels to the GPU machine is {total / 2**20:.1f} MiB (wheels {wheel_bytes / 2**20:.1f} MiB + "
            f"working tree {tree_bytes / 2**20:.1f} MiB), over the device tool's {limit / 2**20:.0f} MiB limit. "
            "Leave a package out (`gpu_check.py prepare --without NAME`, e.g. deepspeed, which item 1 does not use) "
            "or move large untracked files out of the working tree."
        )
    return total


def travelling_files(root: Path = ROOT) -> list[Path]:
    """The files the device tool sends: tracked, and untracked but not ignored (git ls-files -co --exclude-standard)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    return [root / name for name in listing.split("\0") if name and (root / name).is_file()]


def working_tree_bytes(root: Path = ROOT) -> int:
    return sum(path.stat().st_size for path in travelling_files(root))


def _pip(*arguments: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", *arguments], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


def download_binary(name: str, version: str, dest: Path) -> subprocess.CompletedProcess:
    platforms = [argument for platform in PLATFORMS for argument in ("--platform", platform)]
    return _pip(
        "download", "--no-deps", "--only-binary=:all:", "--python-version", MACHINE_PYTHON, "--implementation", "cp",
        *platforms, "--dest", str(dest), "--quiet", f"{name}=={version}",
    )  # fmt: skip


def build_from_sdist(name: str, version: str, dest: Path) -> Path:
    """Download the sdist and build a wheel here; refused unless the wheel is pure Python (runs on any machine)."""
    with tempfile.TemporaryDirectory() as scratch:
        fetched = _pip("download", "--no-deps", "--no-binary=:all:", "--dest", scratch, "--quiet", f"{name}=={version}")
        if fetched.returncode:
            raise RuntimeError(f"{name}=={version}: no wheel and no sdist could be downloaded:\n{fetched.stderr}")
        sdist = next(Path(scratch).iterdir())
        env = {**os.environ, **SDIST_BUILD_ENV.get(name, {})}
        built = _pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", scratch + "/out", str(sdist), env=env)
        if built.returncode:
            raise RuntimeError(f"{name}=={version}: building its sdist failed:\n{built.stderr[-3000:]}")
        wheel = next((Path(scratch) / "out").glob("*.whl"))
        if not wheel.name.endswith("-py3-none-any.whl"):
            raise RuntimeError(
                f"{name}=={version} has no wheel for the machine and its sdist built {wheel.name}, not a pure-Python "
                f"wheel: it cannot travel; leave it out with --without {name}"
            )
        return Path(shutil.copy(wheel, dest))


def build_agentrl_wheel(dest: Path, root: Path = ROOT) -> Path:
    """agentrl as a wheel, built from exactly the files that travel (a copy, so the working tree is not touched)."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "agentrl"
        for path in travelling_files(root):
            target = copy / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        built = _pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(dest), str(copy))
        if built.returncode:
            raise RuntimeError(f"building the agentrl wheel failed:\n{built.stderr[-3000:]}")
    return next(dest.glob("agentrl-*.whl"))


def wheel_name_version(path: Path) -> tuple[str, str]:
    """(canonical name, version) of a wheel file, from its METADATA."""
    with zipfile.ZipFile(path) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
    fields = dict(re.findall(r"^(Name|Version): (.+)$", text, flags=re.MULTILINE))
    return canonical(fields["Name"]), fields["Version"].strip()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_state(root: Path = ROOT) -> dict:
    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], cwd=root, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "changed_files": git("status", "--porcelain").splitlines()}


def prepare(dest: Path, without: Iterable[str] = (), machine_file: Path = MACHINE_PACKAGES_FILE) -> dict:
    """Fill `dest` with the wheel set and manifest.json; return the manifest. Raises WheelSetTooLarge when over."""
    plan = plan_wheels(
        installed_requires("agentrl"), read_machine_packages(machine_file), installed_version, installed_requires,
        without=without,
    )  # fmt: skip
    if dest.exists():  # one version of each package: two would stop the install there
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    wheels = []
    for name, version in sorted(plan.carry.items()):
        print(f"[prepare] {name}=={version}: {plan.reasons[name]}", flush=True)
        fetched = download_binary(name, version, dest)
        how = "wheel from the index"
        if fetched.returncode:
            if "No matching distribution" not in fetched.stderr and "Could not find a version" not in fetched.stderr:
                raise RuntimeError(f"pip download {name}=={version} failed:\n{fetched.stderr}")
            build_from_sdist(name, version, dest)
            how = "built here from its sdist (pure Python)"
        wheels.append({"name": name, "version": version, "reason": plan.reasons[name], "source": how})
    agentrl_wheel = build_agentrl_wheel(dest)
    files = {wheel_name_version(path): path for path in dest.glob("*.whl")}
    for entry in wheels:
        entry["file"] = files[(entry["name"], entry["version"])].name
    agentrl_name, agentrl_version = wheel_name_version(agentrl_wheel)
    wheels.append(
        {
            "name": agentrl_name,
            "version": agentrl_version,
            "reason": "the project itself, built from the working tree",
            "source": "built here",
            "file": agentrl_wheel.name,
        }
    )
    for entry in wheels:
        path = dest / entry["file"]
        entry["bytes"], entry["sha256"] = path.stat().st_size, sha256(path)
    wheel_bytes = sum(entry["bytes"] for entry in wheels)
    tree_bytes = working_tree_bytes()
    manifest = {
        "python": MACHINE_PYTHON,
        "platforms": "manylinux x86_64 (glibc 2.5-2.39) or pure Python",
        "machine_packages": Path(machine_file).name,
        "git": git_state(),
        "wheels": wheels,
        "assumed_on_machine": plan.assumed,
        "left_out": plan.left_out,
        "wheel_bytes": wheel_bytes,
        "working_tree_bytes": tree_bytes,
        "total_bytes": wheel_bytes + tree_bytes,
        "limit_bytes": LIMIT_BYTES,
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    check_size(wheel_bytes, tree_bytes)  # after writing: the manifest shows what was over
    return manifest


# ------------------------------------------------------------------------------------------ on the GPU machine
def read_manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run `python scripts/gpu_check.py prepare` on the CPU machine first and carry "
            f"{folder.name} with the command (device tool: carry [\"{folder.name}\"])"
        )
    return json.loads(path.read_text())


def install_list(manifest: dict, have: Callable[[str], str | None] = installed_version) -> tuple[list, list]:
    """(to install, already there at exactly that version) among the manifest's wheels. agentrl itself is always
    installed: its wheel is this working tree, whatever version number an installed copy carries."""
    needed, present = [], []
    for entry in manifest["wheels"]:
        there = entry["name"] != "agentrl" and have(entry["name"]) == entry["version"]
        (present if there else needed).append(entry)
    return needed, present


def install_command(folder: Path, entries: list[dict], target: Path) -> list[str]:
    """Offline pip install of exactly these wheels into `target` (put first on PYTHONPATH, so the carried versions
    win over the image's, which stay untouched)."""
    return [
        sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(folder), "--no-deps",
        "--no-compile", "--no-cache-dir", "--disable-pip-version-check", "--quiet", "--target", str(target),
        *[f"{entry['name']}=={entry['version']}" for entry in entries],
    ]  # fmt: skip


def unmet_requirements(manifest: dict, search_path: list[str]) -> list[str]:
    """Requirements of the carried packages (and the assumed ones) that what is importable does not meet."""
    import importlib.metadata

    from packaging.requirements import Requirement
    from packaging.version import InvalidVersion, Version

    def version_of(name: str) -> str | None:
        found = next(iter(importlib.metadata.distributions(name=name, path=search_path)), None)
        if found is None:
            found = next(iter(importlib.metadata.distributions(name=name.replace("-", "_"), path=search_path)), None)
        return None if found is None else found.version

    unmet = []
    for entry in manifest["wheels"]:
        found = next(iter(importlib.metadata.distributions(name=entry["name"], path=search_path)), None)
        requirements = (found.requires or []) if found is not None else []
        for text in requirements:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            version = version_of(canonical(requirement.name))
            try:
                ok = version is not None and requirement.specifier.contains(Version(version), prereleases=True)
            except InvalidVersion:
                ok = False
            if not ok:
                unmet.append(f"{entry['name']} needs {requirement}: found {version or 'nothing'}")
    return unmet
