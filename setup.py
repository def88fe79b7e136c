"""Package layout only (everything else is in pyproject.toml).

The environments live in the repository's top-level `envs/` folder but install as `agentrl.envs`: one import
name for users, and no top-level `envs` package to clash with the PyPI package of that name or with a user
project's own `envs/` folder. The installed distribution's only top-level package is `agentrl`.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["agentrl", "agentrl.*"])
    + ["agentrl.envs"]
    + [f"agentrl.envs.{package}" for package in find_packages("envs")],
    package_dir={"agentrl.envs": "envs"},
)
