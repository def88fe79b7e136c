"""agentrl: reinforcement-learning fine-tuning of LLM agents in multi-turn text environments, on TRL."""

__version__ = "0.1.0"
