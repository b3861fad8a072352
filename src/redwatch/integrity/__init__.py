"""Integrity: artifact scanning (unsafe pickles and friends), later signing and fingerprints."""

from redwatch.integrity.artifact_report import FileReport, ScanItem
from redwatch.integrity.formats import Format, sniff
from redwatch.integrity.pickle_policy import Verdict
from redwatch.integrity.pickle_scan import (
    GlobalRef,
    PickleScanReport,
    scan_bytes,
    scan_file,
    scan_pickle_bytes,
)
from redwatch.integrity.scan import scan_path

__all__ = [
    "FileReport",
    "Format",
    "GlobalRef",
    "PickleScanReport",
    "ScanItem",
    "Verdict",
    "scan_bytes",
    "scan_file",
    "scan_path",
    "scan_pickle_bytes",
    "sniff",
]
