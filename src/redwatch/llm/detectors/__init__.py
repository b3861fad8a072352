"""Detectors: judge one text (a reply, or a prompt for input detectors) and say hit, clean
or unscorable. Registered under the `redwatch.llm_detectors` entry point."""
