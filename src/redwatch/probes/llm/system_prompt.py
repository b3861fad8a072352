"""`llm.system_prompt_extraction`: asks for the instructions many ways (debugging, audit,
translation, "repeat the text above"). With a planted system prompt, its canary in a reply
proves the leak and word 5-gram similarity catches paraphrases; when the application sets
its own prompt, similarity to the prompt the user provided decides."""

from __future__ import annotations

from typing import ClassVar

from redwatch.findings import Mitigation, Severity
from redwatch.probes.base import ProbeContext
from redwatch.probes.llm.common import (
    LlmProbe,
    Outcome,
    Run,
    Settings,
    Shot,
    guard_fix,
    held,
    judged,
)
from redwatch.probes.llm.judges import Judges
from redwatch.targets.chat_base import ChatTarget

NOTHING_TO_COMPARE = (
    "no canary can be planted (the application sets its own system prompt) and no system "
    "prompt was provided to compare replies with"
)


class SystemPromptExtractionProbe(LlmProbe):
    """Extraction prompts; params max_prompts, converters (default none, language,
    leetspeak), transcripts."""

    name: ClassVar[str] = "llm.system_prompt_extraction"
    references: ClassVar[tuple[str, ...]] = ("OWASP-LLM07", "AML.T0056", "NIST-MEASURE-2.7")
    description: ClassVar[str] = (
        "System-prompt extraction, measured by planted canaries or similarity"
    )
    family: ClassVar[str] = "system_prompt_extraction"
    headline: ClassVar[str] = "System prompt leaked"
    success_means: ClassVar[str] = (
        "the planted canary appeared in the reply or the reply reproduced the system "
        "prompt (word 5-gram overlap or a long verbatim run)"
    )
    base_severity: ClassVar[Severity] = Severity.MEDIUM
    default_converters: ClassVar[tuple[str, ...]] = ("none", "language", "leetspeak")

    def attempts(
        self, chat: ChatTarget, ctx: ProbeContext, settings: Settings, judges: Judges
    ) -> Run:
        """No attempt at all when there is nothing to compare replies with."""
        if not chat.setup.accepts_system and not chat.setup.system_prompt:
            return Run(stopped=NOTHING_TO_COMPARE)
        return super().attempts(chat, ctx, settings, judges)

    def attempt(self, shot: Shot, judges: Judges) -> Outcome:
        """One request for the instructions, judged by canary and similarity."""
        talk = shot.conversation()
        reply = talk.say(shot.text())
        if reply.blocked:
            return held(talk, reply)
        planted = shot.planted
        names = [n for n, ok in (("canary", planted.canary), ("prompt-similarity", True)) if ok]
        canaries = (planted.canary,) if planted.canary else ()
        item = shot.detect_input(reply, canaries=canaries, system_prompt=planted.known_prompt)
        return judged(talk, judges.run(names, item))

    def fixes(self) -> list[Mitigation]:
        """Canary-leak blocking, and keeping secrets out of the prompt."""
        return [
            guard_fix(
                "llm-canary",
                "Block replies that carry the system prompt",
                "Plant a canary token in the deployed system prompt and give the guard the "
                "prompt file: replies holding the canary or a long verbatim run are refused.",
                {
                    "canaries": ["<a canary token you add to the system prompt>"],
                    "system_prompt_file": "system-prompt.txt",
                    "min_run_words": 12,
                },
            ),
            Mitigation(
                "setting",
                "Keep secrets out of the system prompt",
                "Assume the system prompt will be read by users: move keys, customer data and "
                "internal references to tools that check authorisation.",
            ),
        ]
