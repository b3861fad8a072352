"""Every LLM probe's guard mitigations name a real LLM guard stage, and the policy snippet
they carry passes that stage's own option validation, so a finding's fix can be pasted
into a policy file as is."""

from __future__ import annotations

from importlib import import_module

import pytest

from redwatch.guard.stage import GuardStage
from redwatch.probes.llm.agency import ExcessiveAgencyProbe
from redwatch.probes.llm.common import LlmProbe
from redwatch.probes.llm.direct_injection import DirectInjectionProbe
from redwatch.probes.llm.escalation import EscalationProbe
from redwatch.probes.llm.indirect_injection import IndirectInjectionProbe
from redwatch.probes.llm.jailbreak import JailbreakProbe
from redwatch.probes.llm.leakage import SensitiveLeakageProbe
from redwatch.probes.llm.output import InsecureOutputProbe
from redwatch.probes.llm.system_prompt import SystemPromptExtractionProbe

PROBES: list[type[LlmProbe]] = [
    DirectInjectionProbe,
    IndirectInjectionProbe,
    JailbreakProbe,
    SystemPromptExtractionProbe,
    SensitiveLeakageProbe,
    ExcessiveAgencyProbe,
    InsecureOutputProbe,
    EscalationProbe,
]


def stage_class(name: str) -> type[GuardStage]:
    """The guard stage class declaring `name`, from its module in redwatch.guard.stages."""
    module = import_module(f"redwatch.guard.stages.{name.replace('-', '_')}")
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, GuardStage) and getattr(v, "name", "") == name
    ]
    assert found, f"no stage named {name}"
    return found[0]


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_guard_fixes_validate_against_the_stage_options(probe: type[LlmProbe]) -> None:
    fixes = [m for m in probe().fixes() if m.kind == "guard_rule"]
    assert fixes, f"{probe.name} names no guard stage"
    for fix in fixes:
        stage = fix.params["stage"]
        assert stage.startswith("llm-")
        cls = stage_class(stage)
        assert cls.domain == "chat"
        [entry] = fix.params["policy"]["stages"]
        assert entry == {"name": stage, "options": fix.params["options"]}
        cls.options_model.model_validate(entry["options"])
