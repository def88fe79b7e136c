"""Errors the CLI reports as one line (exit code 2), kept import-light so `agentrl envs` starts fast."""


class RecipeError(ValueError):
    """A recipe or command line that cannot run; the message says what to fix."""
