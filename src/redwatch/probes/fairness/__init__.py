"""Fairness probes: how a model's decisions differ between groups of a sensitive attribute."""
