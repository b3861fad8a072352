"""Poisoning-susceptibility probes: how much poison does it take to compromise this model?
Each retrains the target's recipe on the campaign rows poisoned at several rates — label
flips, or a BadNets backdoor trigger — and measures the retrained models on clean rows."""

from redwatch.probes.poisoning.backdoor import BackdoorProbe
from redwatch.probes.poisoning.label_flip import LabelFlipProbe

__all__ = ["BackdoorProbe", "LabelFlipProbe"]
