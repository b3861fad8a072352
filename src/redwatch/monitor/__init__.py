"""Continuous monitoring as pure logic: baselines from reference data, window drift tests
(PSI, KS, chi²), streaming detectors (river ADWIN, Page-Hinkley) on the score and error
streams, delayed-label evaluation and integrity checks. No store access here: the service's
MonitorHub does the I/O and publishes the events."""
