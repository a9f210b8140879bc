"""The stormwatch application shell: CLI, settings loading, wiring, demo."""

__version__ = "0.1.0"
