"""redwatch: an always-on red team and runtime defense for machine-learning models."""

__version__ = "0.1.0"
