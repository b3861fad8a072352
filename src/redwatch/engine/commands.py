"""Fill the command templates in findings' mitigations from the campaign config, so that
stored and reported findings carry a literal command (e.g. the `redwatch harden` line that
addresses an evasion finding) instead of placeholders."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from redwatch.findings import Finding, Mitigation

NO_MODEL_FILE = "redwatch harden needs the model file; this target was not loaded from one"


def fill_commands(findings: Iterable[Finding], config: Mapping[str, Any]) -> None:
    """Replace {model}, {data}, {model_stem} and {label_option} in every mitigation's
    params["command"], in place."""
    for finding in findings:
        finding.mitigations = [_filled(m, config) for m in finding.mitigations]


def _filled(mitigation: Mitigation, config: Mapping[str, Any]) -> Mitigation:
    command = mitigation.params.get("command")
    if not isinstance(command, str) or "{model}" not in command:
        return mitigation
    return replace(mitigation, params={**mitigation.params, "command": render(command, config)})


def render(template: str, config: Mapping[str, Any]) -> str:
    """The literal command, or NO_MODEL_FILE when the campaign has no model file."""
    model = config.get("model")
    if not isinstance(model, str) or not Path(model).is_file():
        return NO_MODEL_FILE
    data = str(config.get("data", "DATA.csv"))
    labels = config.get("labels")
    label_option = (
        f" --label {shlex.quote(str(labels))}"
        if isinstance(labels, str) and labels and labels != "model predictions"
        else ""
    )
    stem = Path(model).stem
    text = template.replace("{label_option}", label_option)
    text = text.replace("{model_stem}-hardened", shlex.quote(f"{stem}-hardened"))
    return (
        text.replace("{model_stem}", shlex.quote(stem))
        .replace("{model}", shlex.quote(model))
        .replace("{data}", shlex.quote(data))
    )
