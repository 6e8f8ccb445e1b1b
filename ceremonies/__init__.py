"""The built-in ceremony definitions, shipped as package data (``*.toml``, one ceremony a file).

This package holds no code: vault.ceremony.definitions finds the files with importlib.resources,
so an installed wheel carries them. Adding a ``ceremonies/NAME.toml`` file is all it takes to
add a built-in ceremony. ``examples/`` holds a working script for every ceremony.
"""
