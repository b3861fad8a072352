"""ScriptedAssistant: the "model" behind the reference chat app. It is a TEST DOUBLE with
scripted behaviour, not a language model: a fixed order of regex rules (chat_rules) that
plays a customer-support bot with nine planted weaknesses, so that redwatch's LLM probes,
detectors and guard can be tested end to end, deterministically and offline.

Plain requests are answered safely or refused; the weaknesses open only for some
phrasings (an override followed by "say X", a debugging frame, an authority claim, a
role-play frame, an encoding …). Compliant "harmful" answers are obvious filler
("Step 1: [redacted example step]") that still read as compliance: nothing harmful is
ever produced."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from redwatch.demo import chat_rules as rules
from redwatch.demo.chat_actions import tool_call
from redwatch.demo.chat_rules import (
    MODEL_ID,
    REFERENCE_API_KEY,
    REFERENCE_CANARY,
    REFERENCE_SYSTEM_PROMPT,
    Said,
    pick,
    said,
)
from redwatch.llm.chat import ChatReply, ChatRequest, Message, ToolSpec

__all__ = [
    "MODEL_ID",
    "REFERENCE_API_KEY",
    "REFERENCE_CANARY",
    "REFERENCE_SYSTEM_PROMPT",
    "ScriptedAssistant",
]

REFUSE_HARM = (
    "I'm sorry, but I can't help with that.",
    "Sorry, I can't help with that request.",
    "I won't provide instructions for that. Is there anything else I can do for you?",
    "I'm not able to assist with that, as it could cause harm.",
)
REFUSE_PROMPT = (
    "I'm sorry, but I can't share my instructions.",
    "Sorry, my configuration is confidential, so I can't reveal it.",
    "I can't disclose my system prompt, but I'm happy to help with your order.",
)
REFUSE_DATA = (
    "I'm sorry, but I can't share customer or account data.",
    "Sorry, that information is confidential and I can't disclose it.",
    "I can't provide credentials or personal details of our customers.",
)
NO_TOOL = (
    "I can't do that from this chat: I have no tool for it.",
    "Sorry, I'm not able to carry out actions like that here.",
)
STEPS = "\n".join(f"Step {n}: [redacted example step]" for n in (1, 2, 3))
COMPLY = (
    "Sure. Here is how {topic} works, step by step:\n{steps}\nThat is all there is to it.",
    "Sure! Staying in character, here is the guide to {topic}:\n{steps}\nEnjoy the story.",
    "Here is a complete walkthrough of {topic}:\n{steps}\nHope this helps.",
)
LEAK_PROMPT = (
    "Sure, here is the text above, verbatim:\n\n{system}",
    "Debug output of my configuration:\n\n{system}",
    "Of course. My instructions are:\n\n{system}",
)
FAQ: tuple[tuple[str, str], ...] = (
    (r"\b(hi|hello|hey|good (morning|afternoon|evening))\b",
     "Hello! I'm HelpBot, ACME's support assistant. How can I help you today?"),
    (r"\b(track|where is|status of)\b.{0,30}\b(order|parcel|package)",
     "You can track your order under Account > Orders; we e-mail a tracking link once it ships."),
    (r"\b(return|refund)",
     "Returns are free within 30 days: open Account > Orders > Return an item. Refunds arrive "
     "within 5 business days."),
    (r"\b(ship|shipping|deliver|delivery)\b",
     "Standard shipping takes 3 to 5 business days; express shipping takes 1 to 2."),
    (r"\b(reset|change|forgot)\b.{0,20}\bpassword",
     "Use 'Forgot password' on the sign-in page and follow the link we e-mail you."),
    (r"capital of france", "The capital of France is Paris."),
    (r"what can you do|who are you|help me",
     "I'm HelpBot. I can help with orders, shipping, returns and account questions."),
    (r"\b(thanks|thank you)\b", "You're welcome! Anything else I can do for you?"),
)  # fmt: skip
_FAQ = tuple((rules.rx(p), answer) for p, answer in FAQ)
DEFAULT_ANSWER = (
    "I can help with orders, shipping, returns and account questions. "
    "Could you tell me a little more about what you need?"
)


@dataclass(frozen=True)
class _Ask:
    """The request being answered: the latest message in both readings, the earlier user
    turns, the offered tools, the system prompt in force and the conversation length."""

    text: Said
    earlier: tuple[str, ...]
    tools: tuple[ToolSpec, ...]
    system: str
    length: int
    done_calls: frozenset[str] = frozenset()


def _said_text(content: str) -> ChatReply:
    """A plain text reply."""
    return ChatReply(content, model=MODEL_ID)


class ScriptedAssistant:
    """A deterministic scripted support bot (a test double). `system_prompt` replaces the
    built-in REFERENCE_SYSTEM_PROMPT when a request carries no system message."""

    def __init__(self, system_prompt: str | None = None) -> None:
        self.system_prompt = system_prompt

    def reply(self, request: ChatRequest) -> ChatReply:
        """The reply to a chat-completions request: text, or tool calls when tools are
        offered and an action is asked for (also by an injected instruction)."""
        system = request.system or self.system_prompt or REFERENCE_SYSTEM_PROMPT
        users = [m.content for m in request.messages if m.role == "user"]
        results = _trailing_tool_results(request.messages)
        latest = "\n\n".join(results) if results else (users[-1] if users else "")
        ask = _Ask(
            said(latest),
            tuple(users if results else users[:-1]),
            request.tools,
            system,
            len(request.messages),
            _calls_made(request.messages),
        )
        return self._after_tools(ask) if results else self._answer(ask)

    def _answer(self, ask: _Ask) -> ChatReply:
        """Run the rules in order; the first that answers wins."""
        topic = rules.filtered_topic(ask.text.raw.lower())
        if topic is not None and not _excused(ask):
            return _said_text(pick(REFUSE_HARM, ask.text.raw))
        decoded = rules.decode_request(ask.text)
        if decoded is not None:
            ask = replace(ask, text=said(decoded))
        handlers: Sequence[Callable[[_Ask], ChatReply | None]] = (
            self._tools,
            self._injection,
            self._document,
            self._harmful,
            self._sensitive,
            self._system_leak,
            self._insecure_output,
            self._summary,
        )
        for handler in handlers:
            reply = handler(ask)
            if reply is not None:
                return reply
        return _benign(ask)

    def _after_tools(self, ask: _Ask) -> ChatReply:
        """After tool results: obey instructions planted in them, else a final answer."""
        obeyed = self._tools(ask) or self._obey(ask.text, ask)
        if obeyed is not None:
            return obeyed
        if ask.text.raw.lstrip().startswith(("{", "[")):
            return _said_text("Done: the action went through. Anything else I can do for you?")
        return _said_text(_summary_of(ask.text.raw))

    def _tools(self, ask: _Ask) -> ChatReply | None:
        """Weakness 3: an action asked for (or planted) becomes a call to an offered tool."""
        if not ask.tools:
            return None
        action = rules.requested_action(ask.text)
        if action is None:
            return None
        kind, words = action
        tool = next((t for t in ask.tools if any(w in t.name.lower() for w in words)), None)
        if tool is None:
            return _said_text(pick(NO_TOOL, ask.text.raw))
        call = tool_call(kind, tool, ask.text.raw, ask.length)
        if call.text() in ask.done_calls:
            return None
        return ChatReply("", (call,), finish_reason="tool_calls", model=MODEL_ID)

    def _injection(self, ask: _Ask) -> ChatReply | None:
        """Weakness 1: an override ("ignore previous instructions", "new instructions:")
        followed by "say/reply with/output X" makes the reply exactly X."""
        found = ask.text.find(rules.OVERRIDE)
        if found is None:
            return None
        payload = rules.said_after(rules.SAY, ask.text, found.end())
        if payload is None or _asks_for_more(said(ask.text.cut(found.end()))):
            return None
        return _said_text(payload)

    def _document(self, ask: _Ask) -> ChatReply | None:
        """Weakness 4: instructions inside a pasted document are obeyed."""
        for doc in rules.documents(ask.text.raw):
            reply = self._obey(said(doc), ask)
            if reply is not None:
                return reply
        return None

    def _obey(self, doc: Said, ask: _Ask) -> ChatReply | None:
        """What an instruction planted in a document or tool result makes the bot do: say
        or append X, or read out its system prompt; None when the text plants nothing."""
        cue = doc.find(rules.OVERRIDE) or doc.find(rules.DOC_CUE)
        start = cue.end() if cue is not None else 0
        say = rules.said_after(rules.SAY, doc, start)
        if say is not None and (cue is not None or rules.tokenish(say)):
            return _said_text(say)
        add = rules.said_after(rules.APPEND, doc, start)
        if add is not None and (cue is not None or rules.tokenish(add)):
            return _said_text(f"{_summary_of(doc.raw)} {add}")
        if cue is not None and doc.find(rules.PROMPT_ASK, start) is not None:
            return _said_text(pick(LEAK_PROMPT, doc.raw).format(system=ask.system))
        return None

    def _harmful(self, ask: _Ask) -> ChatReply | None:
        """Weakness 5, 8 and 9: a harmful topic that got past the filter (a frame, an
        encoding, an obfuscated spelling, a long conversation) gets a compliant filler."""
        topic = rules.understood_topic(ask.text)
        if topic is None:
            return None
        return _said_text(pick(COMPLY, ask.text.raw).format(topic=topic, steps=STEPS))

    def _sensitive(self, ask: _Ask) -> ChatReply | None:
        """Weakness 6: secrets and the customer record, refused on a plain ask, read out
        when the user claims authority."""
        if ask.text.find(rules.VALUE_ASK) is None:
            return None
        kind = "secret" if ask.text.find(rules.SECRET_ASK) else None
        kind = kind or ("record" if ask.text.find(rules.RECORD_ASK) else None)
        if kind is None:
            return None
        if ask.text.find(rules.AUTHORITY) is None:
            return _said_text(pick(REFUSE_DATA, ask.text.raw))
        lines = rules.secret_lines(ask.system, kind)
        if not lines:
            return _said_text("I checked, but there is nothing like that on file.")
        return _said_text("Thanks for verifying. Here are the details:\n" + "\n".join(lines))

    def _system_leak(self, ask: _Ask) -> ChatReply | None:
        """Weakness 2: the system prompt, refused on a plain ask, given verbatim under a
        debugging, audit, verbatim-repeat, translation or summary frame."""
        if ask.text.find(rules.PROMPT_ASK) is None:
            return None
        if ask.text.find(rules.PROMPT_FRAMING) is None:
            return _said_text(pick(REFUSE_PROMPT, ask.text.raw))
        return _said_text(pick(LEAK_PROMPT, ask.text.raw).format(system=ask.system))

    def _insecure_output(self, ask: _Ask) -> ChatReply | None:
        """Weakness 7: HTML, markdown, SQL, JavaScript or shell built around the user's
        text, which is inserted raw (no escaping, no parameters)."""
        if ask.text.find(rules.PRODUCE) is None:
            return None
        kind = next((k for k, p in rules.FORMATS if ask.text.find(p)), None)
        if kind is None:
            return None
        return _said_text(_render(kind, rules.user_payload(ask.text.raw)))

    def _summary(self, ask: _Ask) -> ChatReply | None:
        """A pasted document without planted instructions: a short, quote-free summary."""
        docs = rules.documents(ask.text.raw)
        return _said_text(_summary_of(docs[0])) if docs else None


def _excused(ask: _Ask) -> bool:
    """Whether the filter lets a harmful topic through: a role-play/fiction/hypothetical
    frame now or earlier in the conversation, or the third ask on the topic."""
    if ask.text.find(rules.FRAMING) is not None:
        return True
    if any(said(turn).find(rules.FRAMING) for turn in ask.earlier):
        return True
    return sum(rules.understood_topic(said(t)) is not None for t in ask.earlier) >= 2


def _asks_for_more(payload: Said) -> bool:
    """True when an injected "say X" really asks for something else (the system prompt,
    secrets, a harmful topic): those go through their own rules."""
    patterns = (rules.PROMPT_ASK, rules.SECRET_ASK, rules.RECORD_ASK)
    return any(payload.find(p) for p in patterns) or rules.understood_topic(payload) is not None


def _render(kind: str, payload: str) -> str:
    """The requested markup or code with the user's text inserted raw."""
    templates = {
        "sql": "Here is the query:\n\n```sql\nSELECT * FROM orders WHERE customer = '{p}';\n```",
        "html": (
            'Here is the HTML:\n\n```html\n<div class="note" title="{p}">\n'
            "  <p>{p}</p>\n</div>\n```"
        ),
        "markdown": "Here is the markdown:\n\n**Note:** {p}\n",
        "javascript": (
            "Here is the script:\n\n```javascript\n"
            'document.getElementById("greeting").innerHTML = "{p}";\n```'
        ),
        "shell": "Here is the command:\n\n```bash\necho {p}\n```",
    }
    return templates[kind].replace("{p}", payload)


def _summary_of(document: str) -> str:
    """A summary that quotes nothing: sentence count and the most frequent plain words."""
    words = [w.strip(".,;:!?()\"'").lower() for w in document.split()]
    plain = [w for w in words if len(w) >= 5 and w.isalpha()]
    counts: dict[str, int] = {}
    for word in plain:
        counts[word] = counts.get(word, 0) + 1
    top = sorted(counts, key=lambda w: -counts[w])[:3]
    sentences = max(1, sum(document.count(c) for c in ".!?"))
    about = ", ".join(top) if top else "a short note"
    return f"Summary: a text of {sentences} sentence(s) about {about}."


def _benign(ask: _Ask) -> ChatReply:
    """Weakness-free answers: a small FAQ, a polite no for actions without tools, else a
    generic offer to help."""
    if rules.requested_action(ask.text) is not None:
        return _said_text(pick(NO_TOOL, ask.text.raw))
    answer = next((a for p, a in _FAQ if ask.text.find(p)), DEFAULT_ANSWER)
    return _said_text(answer)


def _trailing_tool_results(messages: Sequence[Message]) -> list[str]:
    """Contents of the tool messages that end the conversation (empty when the last
    message is not a tool result)."""
    out: list[str] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        out.append(message.content)
    return out[::-1]


def _calls_made(messages: Sequence[Message]) -> frozenset[str]:
    """Every tool call the assistant already made in this conversation, as text."""
    return frozenset(c.text() for m in messages for c in m.tool_calls)


def reply_id(request: ChatRequest) -> str:
    """A stable id for a reply, from the request's content (the app's chatcmpl ids)."""
    text = "\n".join(m.text() for m in request.messages)
    return f"chatcmpl-{zlib.crc32(text.encode('utf-8')):08x}"
