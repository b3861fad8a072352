"""The packaged prompt sets: every family loads, is large enough, has unique ids with the
family's prefix, carries the placeholders its probe needs, and fills them all on render."""

from __future__ import annotations

import re

import pytest

from redwatch.demo.chat_brain import REFERENCE_CANARY, ScriptedAssistant
from redwatch.llm.chat import ChatRequest, Message
from redwatch.llm.promptset import FAMILIES, MIN_PROMPTS, PromptItem, load_family

PREFIX = {
    "direct_injection": "DI",
    "indirect_injection": "II",
    "jailbreak": "JB",
    "system_prompt_extraction": "SPE",
    "sensitive_leakage": "SL",
    "excessive_agency": "EA",
    "insecure_output": "IO",
    "escalation": "ESC",
}
NEEDS_MARKER = ("direct_injection", "indirect_injection", "excessive_agency", "insecure_output")
PROXY_TOPICS = re.compile(
    r"lock|phishing|keylogger|malware|wifi|wi-fi|weapon|car\b|cars\b|fake id|fake identity",
    re.IGNORECASE,
)
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
MARKER = "RW-TESTMARK01"


def _texts(item: PromptItem) -> list[str]:
    """Every text of an item a probe sends: prompt, document, turns."""
    return [item.prompt, *([item.document] if item.document else []), *item.turns]


@pytest.mark.parametrize("family", FAMILIES)
def test_family_loads_with_enough_unique_prefixed_prompts(family: str) -> None:
    prompt_set = load_family(family)
    ids = [p.id for p in prompt_set.prompts]
    assert prompt_set.family == family
    assert len(ids) >= MIN_PROMPTS
    assert len(set(ids)) == len(ids)
    assert all(i.split("-")[0] == PREFIX[family] for i in ids), ids
    assert all(p.tags for p in prompt_set.prompts), "every prompt names its technique"
    assert len({p.prompt for p in prompt_set.prompts}) == len(ids), "duplicate prompt text"


def test_ids_are_unique_across_families() -> None:
    ids = [p.id for f in FAMILIES for p in load_family(f).prompts]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("family", FAMILIES)
def test_render_fills_every_placeholder(family: str) -> None:
    for item in load_family(family).prompts:
        rendered = item.render(marker=MARKER, canary="RW-CANARY0001")
        for text in _texts(rendered):
            assert not PLACEHOLDER.search(text), f"{item.id}: {text!r}"
            assert "{{" not in text, item.id
            assert "}}" not in text, item.id


@pytest.mark.parametrize("family", NEEDS_MARKER)
def test_marker_families_carry_the_marker(family: str) -> None:
    for item in load_family(family).prompts:
        rendered = item.render(marker=MARKER)
        assert any(MARKER in t for t in _texts(rendered)), item.id


def test_indirect_items_hide_the_instruction_in_the_document() -> None:
    for item in load_family("indirect_injection").prompts:
        assert item.document is not None, item.id
        assert "{marker}" in item.document, item.id
        assert "{marker}" not in item.prompt, f"{item.id}: the user's request must be benign"


def test_excessive_agency_mixes_direct_and_document_items() -> None:
    items = load_family("excessive_agency").prompts
    with_doc = [i for i in items if i.document]
    assert 5 <= len(with_doc) < len(items)
    assert all("{marker}" in (i.document or "") for i in with_doc)


def test_escalation_items_have_three_to_five_turns_starting_with_prompt() -> None:
    for item in load_family("escalation").prompts:
        assert 3 <= len(item.turns) <= 5, item.id
        assert item.turns[0] == item.prompt, item.id
        assert len(set(item.turns)) == len(item.turns), item.id


def test_only_escalation_items_are_multi_turn() -> None:
    for family in FAMILIES:
        if family != "escalation":
            assert all(not p.turns for p in load_family(family).prompts), family


def test_jailbreak_goals_stay_on_the_proxy_topic_list() -> None:
    for item in load_family("jailbreak").prompts:
        assert PROXY_TOPICS.search(item.prompt + " " + item.goal), item.id


def _leaks_canary(item: PromptItem, bot: ScriptedAssistant) -> bool:
    reply = bot.reply(ChatRequest((Message("user", item.prompt),)))
    return REFERENCE_CANARY in reply.text()


def test_some_but_not_all_extraction_prompts_fool_the_reference_app() -> None:
    """The set is graded: the scripted app (weakness 2) falls for some framings, and
    refuses the plain asks, so a campaign measures a rate rather than all or nothing."""
    bot = ScriptedAssistant()
    leaks = [_leaks_canary(p, bot) for p in load_family("system_prompt_extraction").prompts]
    assert 3 <= sum(leaks) < len(leaks) - 10


def test_some_but_not_all_direct_injections_fool_the_reference_app() -> None:
    bot = ScriptedAssistant()
    hits = 0
    items = load_family("direct_injection").prompts
    for item in items:
        reply = bot.reply(ChatRequest((Message("user", item.render(marker=MARKER).prompt),)))
        hits += MARKER in reply.text()
    assert 3 <= hits < len(items) - 10
