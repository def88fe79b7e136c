"""Adapters: environments of other libraries run as agentrl TextEnvs, named in a recipe by a spec.

    env_id: gymnasium:ID        any Gymnasium-style text environment (reset -> (obs, info), step -> 5-tuple)
    env_id: gem:ID              GEM (gem-llm) environments, made with gem.make(ID)
    env_id: textarena:ID        TextArena single-player games, made with textarena.make(ID)
    env_id: openenv:...         OpenEnv environments, in-process or through an HTTP server
    env_id: trl:module:Class    a class written for TRL's GRPOTrainer(environment_factory=...)

One module per library (from_<library>.py), each importing its library only when an environment is built, so
`import agentrl.envs` never needs them. What every adapter maps that the libraries lack is shared here
(seeded.py): task ids and splits from seed ranges, `anchor` from the observation, `won` from a positive
terminal reward unless the library says otherwise.
"""
