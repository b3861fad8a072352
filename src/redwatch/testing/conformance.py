"""Conformance checks that every probe plugin must pass; plugin authors import these in
their own tests, and redwatch runs them over every registered probe."""

from __future__ import annotations

import inspect

from redwatch.findings import Category, Finding, Severity
from redwatch.frameworks import is_known
from redwatch.probes.base import Probe, ProbeContext
from redwatch.targets.base import Target
from redwatch.targets.capabilities import KNOWN_CAPABILITIES


def probe_declaration_problems(name: str, cls: type[Probe]) -> list[str]:
    """What is wrong with a probe class's declarations (empty list: nothing)."""
    problems = []
    if not (isinstance(cls, type) and issubclass(cls, Probe)):
        return [f"{name}: {cls!r} is not a Probe subclass"]
    if inspect.isabstract(cls):
        problems.append(f"{name}: run() is not implemented")
    if getattr(cls, "name", None) != name:
        problems.append(f"{name}: declares name {getattr(cls, 'name', None)!r}")
    if not isinstance(getattr(cls, "category", None), Category):
        problems.append(f"{name}: category is not a Category")
    elif not name.startswith(f"{cls.category.value}."):
        problems.append(f"{name}: name must start with its category '{cls.category.value}.'")
    requires = getattr(cls, "requires", None)
    if not isinstance(requires, frozenset) or not requires:
        problems.append(f"{name}: requires must be a non-empty frozenset")
    elif not requires <= KNOWN_CAPABILITIES:
        problems.append(f"{name}: unknown capabilities {sorted(requires - KNOWN_CAPABILITIES)}")
    refs = getattr(cls, "references", ())
    if not refs:
        problems.append(f"{name}: no framework references")
    problems += [f"{name}: unknown reference {r!r}" for r in refs if not is_known(r)]
    if not isinstance(cls.cost, int) or cls.cost < 1:
        problems.append(f"{name}: cost must be a positive int")
    if not cls.description:
        problems.append(f"{name}: no description")
    return problems


def finding_problems(cls: type[Probe], target: Target, findings: list[Finding]) -> list[str]:
    """What is wrong with the findings a probe returned for a target."""
    problems = []
    for f in findings:
        if not isinstance(f, Finding):
            problems.append(f"{cls.name}: returned {type(f).__name__}, not Finding")
            continue
        if f.probe != cls.name or f.category != cls.category:
            problems.append(f"{cls.name}: finding claims probe {f.probe!r} / {f.category}")
        if f.target != target.name:
            problems.append(f"{cls.name}: finding names target {f.target!r}")
        if not isinstance(f.severity, Severity) or not f.title:
            problems.append(f"{cls.name}: finding lacks severity or title")
        if not set(f.references) <= set(cls.references):
            problems.append(f"{cls.name}: finding cites undeclared references")
        if not f.mitigations:
            problems.append(f"{cls.name}: finding offers no mitigation")
    fingerprints = [f.fingerprint for f in findings if isinstance(f, Finding)]
    if len(set(fingerprints)) != len(fingerprints):
        problems.append(f"{cls.name}: two findings share a fingerprint")
    return problems


def run_probe_checked(cls: type[Probe], target: Target, ctx: ProbeContext) -> list[Finding]:
    """Run a probe and raise AssertionError listing every conformance problem."""
    findings = list(cls().run(target, ctx))
    problems = finding_problems(cls, target, findings)
    if problems:
        raise AssertionError("; ".join(problems))
    return findings
