"""The chat branch of `redwatch scan` (`--kind chat`): build the chat target, its attacker
and judge from the command-line options and redwatch.yaml's `chat:` section, then run the
chat campaign. Options that only make sense for one kind of scan are refused for the other,
so a mixed command line is one clear error instead of a silently ignored flag."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redwatch.cli.console import open_store, progress_bar
from redwatch.config import ProjectConfig
from redwatch.engine.campaign import ScanOptions
from redwatch.engine.chat_campaign import run_chat_scan
from redwatch.exceptions import UsageError
from redwatch.results import CampaignResult
from redwatch.targets.chat_base import ChatSetup, ChatTarget
from redwatch.targets.chat_loading import ChatOptions, load_chat_target

KINDS = ("model", "chat")
DEFAULT_TIMEOUT = 30.0  # seconds per chat call: language models answer slowly
# Options of `redwatch scan` that belong to model scans (data rows, model files) only.
MODEL_ONLY = (
    "--data",
    "--label",
    "--sensitive",
    "--model-class",
    "--input-shape",
    "--trust-model",
    "--key-env",
    "--key-file",
    "--require-signature",
    "--signature",
)


@dataclass
class ChatFlags:
    """The chat options of `redwatch scan` as the user typed them (None: not given)."""

    chat_model: str | None = None
    system_prompt: Path | None = None
    app_system_prompt: bool = False
    attacker: str | None = None
    attacker_model: str | None = None
    judge: str | None = None
    judge_model: str | None = None
    headers: list[str] = field(default_factory=list)
    auth_env: str | None = None
    template: str | None = None
    response_path: str | None = None
    timeout: float | None = None

    def chat_only(self) -> list[str]:
        """The chat-only options that were given (an error without --kind chat)."""
        named = {
            "--chat-model": self.chat_model,
            "--system-prompt": self.system_prompt,
            "--app-system-prompt": self.app_system_prompt or None,
            "--attacker": self.attacker,
            "--attacker-model": self.attacker_model,
            "--judge": self.judge,
            "--judge-model": self.judge_model,
        }
        return [name for name, value in named.items() if value is not None]


def scan_kind(text: str | None) -> str:
    """--kind: "model" (the default) or "chat"; UsageError naming the choices otherwise."""
    kind = (text or "model").strip().lower()
    if kind not in KINDS:
        raise UsageError(f"unknown --kind {text!r}; choose from {', '.join(KINDS)}")
    return kind


def check_options(kind: str, flags: ChatFlags, model_options: Mapping[str, bool]) -> None:
    """Refuse options of the other kind of scan; `model_options` says which MODEL_ONLY
    options were given."""
    if kind == "chat":
        given = [name for name in MODEL_ONLY if model_options.get(name)]
        if given:
            raise UsageError(
                f"{', '.join(given)} cannot be used with --kind chat: a chat scan sends its "
                "own prompts, it reads no data file or model file"
            )
        return
    given = flags.chat_only()
    if given:
        raise UsageError(f"{', '.join(given)} need --kind chat")


def run_chat_command(
    ref: str,
    flags: ChatFlags,
    project: ProjectConfig,
    options: ScanOptions,
    name: str | None = None,
) -> CampaignResult:
    """Build the target from `ref` (URL or module:attr) and run the chat campaign."""
    target = build_target(ref, flags, project, options, name)
    with open_store() as store:
        return run_chat_scan(target, store, options, progress=progress_bar)


def build_target(
    ref: str,
    flags: ChatFlags,
    project: ProjectConfig,
    options: ScanOptions,
    name: str | None = None,
) -> ChatTarget:
    """The chat target with its set-up: what redwatch may send, the deployed system prompt,
    the optional attacker and judge models (flags override redwatch.yaml)."""
    cfg = project.chat
    budget = options.budget.queries
    chat_options = ChatOptions(
        model=flags.chat_model or (cfg.model if cfg else None),
        api_key_env=flags.auth_env or (cfg.api_key_env if cfg else None),
        headers=parse_headers(flags.headers),
        template=flags.template or (cfg.template if cfg else None),
        response_path=flags.response_path or (cfg.response_path if cfg else None),
        tool_calls_path=cfg.tool_calls_path if cfg else None,
        login_url=cfg.login.url if cfg and cfg.login else None,
        login_body=cfg.login.body if cfg and cfg.login else None,
        token_path=cfg.login.token_path if cfg and cfg.login else None,
        stateful=bool(cfg and cfg.stateful),
        timeout=flags.timeout or DEFAULT_TIMEOUT,
        query_budget=None if budget is None else budget + 1,  # + the pre-flight call
        name=name or ref,
    )
    target = load_chat_target(ref, chat_options)
    target.setup = ChatSetup(
        accepts_system=not flags.app_system_prompt and (cfg.accepts_system if cfg else True),
        system_prompt=_system_prompt(flags, project, options.config_source),
        attacker=_helper("attacker", flags.attacker, flags.attacker_model, cfg, flags),
        judge=_helper("judge", flags.judge, flags.judge_model, cfg, flags),
        max_turns=cfg.max_turns if cfg else ChatSetup().max_turns,
    )
    return target


def _system_prompt(flags: ChatFlags, project: ProjectConfig, source: str) -> str | None:
    """The deployed system prompt from --system-prompt or chat.system_prompt_file (a path
    relative to redwatch.yaml's folder); UsageError when the file cannot be read."""
    if flags.system_prompt is not None:
        return _read_prompt(flags.system_prompt, "--system-prompt")
    cfg = project.chat
    if cfg is None or not cfg.system_prompt_file:
        return None
    path = Path(cfg.system_prompt_file)
    if not path.is_absolute():
        path = Path(source).parent / path
    return _read_prompt(path, f"{source}: chat.system_prompt_file")


def _read_prompt(path: Path, where: str) -> str:
    """The text of a system prompt file, which must exist and not be empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: cannot read {path}: {exc.__class__.__name__}") from None
    if not text.strip():
        raise UsageError(f"{where}: {path} is empty")
    return text


def _helper(
    role: str, url: str | None, model: str | None, cfg: Any, flags: ChatFlags
) -> ChatTarget | None:
    """The attacker or judge model (OpenAI-compatible) from the flags or redwatch.yaml."""
    section = getattr(cfg, role, None) if cfg is not None else None
    url = url or (section.url if section else None)
    if url is None:
        if model is not None:
            raise UsageError(f"--{role}-model needs --{role} URL")
        return None
    options = ChatOptions(
        model=model or (section.model if section else None),
        api_key_env=section.api_key_env if section else None,
        timeout=flags.timeout or DEFAULT_TIMEOUT,
        name=f"{role} {url}",
    )
    return load_chat_target(url, options)


def parse_headers(headers: list[str]) -> dict[str, str]:
    """--header 'Name: value' options as a mapping; UsageError on a malformed one."""
    parsed = {}
    for text in headers:
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header must look like 'Name: value', got {text!r}")
        parsed[name.strip()] = value.strip()
    return parsed
