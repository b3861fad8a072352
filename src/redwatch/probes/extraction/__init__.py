"""Extraction probes: how stealable is this model? Knockoff (natural queries), Jacobian
augmentation (a few seeds) and synthetic rows (tables); each reports surrogate fidelity and
accuracy against the number of queries for probabilities, labels only and rounded scores."""

from redwatch.probes.extraction.jacobian import JacobianExtractionProbe
from redwatch.probes.extraction.knockoff import KnockoffExtractionProbe
from redwatch.probes.extraction.synthetic import SyntheticExtractionProbe

__all__ = ["JacobianExtractionProbe", "KnockoffExtractionProbe", "SyntheticExtractionProbe"]
