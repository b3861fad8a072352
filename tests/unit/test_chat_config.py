"""The `chat:` section of redwatch.yaml: a full section loads, JSON templates may be written
as YAML mappings, and every mistake is one UsageError line naming the field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from redwatch.config import load_project_config
from redwatch.exceptions import UsageError

FULL = """
chat:
  template:
    message: "{{prompt}}"
    session_id: "{{session_id}}"
  response_path: $.data.reply
  tool_calls_path: $.data.tool_calls
  login:
    url: http://127.0.0.1:8765/api/login
    body: {user: demo, password: "${APP_PASSWORD}"}
    token_path: $.token
  stateful: true
  accepts_system: false
  system_prompt_file: prompts/system.txt
  attacker: {url: "http://127.0.0.1:8000/v1", model: qwen2.5-7b, api_key_env: ATTACKER_KEY}
  judge: {url: "http://127.0.0.1:8001/v1"}
  max_turns: 4
"""


def test_a_full_chat_section_loads(tmp_path: Path) -> None:
    config = load_project_config(_write(tmp_path, FULL))
    chat = config.chat
    assert chat is not None
    assert json.loads(chat.template or "") == {
        "message": "{{prompt}}",
        "session_id": "{{session_id}}",
    }
    assert chat.login is not None
    assert json.loads(chat.login.body) == {"user": "demo", "password": "${APP_PASSWORD}"}
    assert chat.stateful
    assert not chat.accepts_system
    assert chat.system_prompt_file == Path("prompts/system.txt")
    assert chat.attacker is not None
    assert chat.attacker.model == "qwen2.5-7b"
    assert chat.judge is not None
    assert chat.judge.api_key_env is None
    assert chat.max_turns == 4


def test_no_chat_section_means_none(tmp_path: Path) -> None:
    assert load_project_config(_write(tmp_path, "fail_on: high\n")).chat is None


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("{api_key_env: sk-live-123}", "chat.api_key_env: must name an environment variable"),
        ("{modle: x}", "chat.modle: Extra inputs are not permitted"),
        ('{template: "{}"}', "chat: template needs response_path"),
        ("{response_path: $.reply}", "response_path applies to a template"),
        ('{template: "{}", response_path: reply}', "chat.response_path: must be a JSONPath"),
        ("{attacker: {url: 'localhost:8000'}}", "chat.attacker.url: must start with http://"),
        ("{judge: {model: m}}", "chat.judge.url: Field required"),
        ("{max_turns: 0}", "chat.max_turns: Input should be greater than or equal to 1"),
        ("{login: {url: 'http://h/login'}}", "chat.login.body: Field required"),
    ],
)
def test_chat_mistakes_are_one_line_naming_the_field(
    tmp_path: Path, section: str, problem: str
) -> None:
    with pytest.raises(UsageError) as info:
        load_project_config(_write(tmp_path, f"chat: {section}\n"))
    message = str(info.value)
    assert problem in message
    assert "\n" not in message
    assert "sk-live-123" not in message


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "redwatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_chat_section_shown_in_the_docs_is_valid(tmp_path: Path) -> None:
    page = Path(__file__).parents[2] / "docs" / "llm-targets.md"
    blocks = re.findall(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
    sections = [b for b in blocks if b.startswith("chat:")]
    assert len(sections) == 1
    chat = load_project_config(_write(tmp_path, sections[0])).chat
    assert chat is not None
    assert chat.login is not None
    assert chat.login.token_path == "$.token"
