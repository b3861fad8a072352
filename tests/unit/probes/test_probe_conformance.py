"""Every registered probe: valid declarations, and findings that honour them on a real model."""

import numpy as np
import pytest

from redwatch.engine.planner import available_probes
from redwatch.probes.base import Budget, ProbeContext
from redwatch.testing.conformance import probe_declaration_problems, run_probe_checked

PROBES = available_probes()
SMALL = {"samples": 20, "steps": 10, "max_queries": 200, "draws": 2}
CHAT = {"max_prompts": 3, "embeddings": False}


def test_builtin_probes_are_registered() -> None:
    assert {
        "evasion.pgd",
        "evasion.square",
        "evasion.hopskipjump",
        "evasion.noise",
        "evasion.sensitivity",
    } <= set(PROBES)


@pytest.mark.parametrize("name", sorted(PROBES))
def test_declarations(name: str) -> None:
    assert probe_declaration_problems(name, PROBES[name]) == []


CASES = ("cancer_logreg", "digits_image_logreg", "cancer_trees", "scripted_chat")


@pytest.mark.parametrize("name", sorted(PROBES))
def test_run_on_a_real_model(name: str, request: pytest.FixtureRequest) -> None:
    """Run each probe on the first real model it applies to (tabular white-box, image,
    tree ensemble, chat endpoint); a probe that applies to none of them fails."""
    cls = PROBES[name]
    cases = ("scripted_chat",) if "chat" in cls.requires else CASES  # skip training models
    for fixture in cases:
        case = request.getfixturevalue(fixture)
        case.target.mark_artifact()  # artifact probes apply; with no file given they record that
        if cls.applies(case.target.capabilities):
            break
    else:
        pytest.fail(f"{name} applies to none of {cases}")
    params = CHAT if fixture == "scripted_chat" else SMALL
    ctx = ProbeContext(case.x, case.y, Budget(queries=100_000), seed=1, params=params)
    with case.target.limit(100_000):
        findings = run_probe_checked(cls, case.target, ctx)
    assert case.target.queries <= 100_000
    for f in findings:
        assert np.isfinite(f.metrics.get("samples", 0))


def test_declaration_checker_catches_a_bad_probe() -> None:
    from redwatch.findings import Category
    from redwatch.probes.base import Probe

    class Bad(Probe):
        name = "llm.bad"
        category = Category.EVASION
        requires = frozenset({"telepathy"})
        references = ("AML.T9999",)
        cost = 0

        def run(self, target, ctx):  # type: ignore[no-untyped-def]
            return []

    problems = " ".join(probe_declaration_problems("llm.bad", Bad))
    for expected in (
        "must start with its category",
        "unknown capabilities",
        "unknown reference",
        "cost must be",
        "no description",
    ):
        assert expected in problems
