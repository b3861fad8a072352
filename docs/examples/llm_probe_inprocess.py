"""Prompt injection against the reference chat app's scripted assistant, in-process: no
server, no model download. The assistant is a TEST DOUBLE with planted weaknesses; point
redwatch at a real model server with `redwatch scan URL --kind chat` instead."""

import sys

import numpy as np

from redwatch.demo.chat_brain import ScriptedAssistant
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.llm.direct_injection import DirectInjectionProbe
from redwatch.targets.chat_callable import CallableChatTarget

print(f"output folder (unused): {sys.argv[1] if len(sys.argv) > 1 else '-'}")
target = CallableChatTarget(ScriptedAssistant().reply, name="helpbot")
ctx = ProbeContext(
    x=np.empty((0, 0)),
    y=np.empty(0),
    budget=Budget(queries=50),
    seed=0,
    params={"max_prompts": 12, "converters": ["none", "base64"], "transcripts": 2},
)
with target.limit(ctx.budget.queries):
    findings = list(DirectInjectionProbe().run(target, ctx))

m = ctx.metrics
print(f"attempts: {m['attempts']}, successes: {m['successes']}, queries: {m['queries']}")
for name, row in m["by_converter"].items():
    print(f"  {name:>7}: {row['successes']} of {row['attempts']}")
for finding in findings:
    print(f"finding [{finding.severity.label}]: {finding.title}")
    first = finding.evidence[0].data
    print(f"  {first['prompt_id']} ({first['converter']}):")
    for message in first["messages"]:
        print(f"    {message['role']:>9}: {message['content'][:90]!r}")
    fix = finding.mitigations[0]
    print(f"  fix: {fix.title} (guard stage {fix.params['stage']})")
