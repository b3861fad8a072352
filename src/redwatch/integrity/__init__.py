"""Integrity: artifact scanning (unsafe pickles and friends), later signing and fingerprints."""

from redwatch.integrity.formats import Format, sniff
from redwatch.integrity.pickle_policy import Verdict
from redwatch.integrity.pickle_scan import (
    GlobalRef,
    PickleScanReport,
    scan_bytes,
    scan_file,
    scan_pickle_bytes,
)

__all__ = [
    "Format",
    "GlobalRef",
    "PickleScanReport",
    "Verdict",
    "scan_bytes",
    "scan_file",
    "scan_pickle_bytes",
    "sniff",
]
