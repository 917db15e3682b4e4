"""Base models: the families likeness knows, the built-in tiny models, the registry of the
models a user added (hub ids, local diffusers folders, single ``.safetensors`` checkpoints), and
the loading code that turns any of them into a diffusers pipeline, offline."""
