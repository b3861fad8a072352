"""Integrity probes: is the model the one that was approved? Artifact safety scan, signature
status, and behavioral-fingerprint drift."""

from redwatch.probes.integrity.artifact import ArtifactScanProbe
from redwatch.probes.integrity.fingerprint import FingerprintDriftProbe
from redwatch.probes.integrity.signature import SignatureProbe

__all__ = ["ArtifactScanProbe", "FingerprintDriftProbe", "SignatureProbe"]
