"""Settings from the environment and the project file redwatch.yaml, validated with pydantic.

Every problem in redwatch.yaml becomes one UsageError line naming the file and the field,
e.g. "redwatch.yaml: features.amount.lower: Input should be a valid number".
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from redwatch.exceptions import UsageError
from redwatch.findings import Severity

DEFAULT_PROJECT_FILE = Path("redwatch.yaml")
NO_FAILURE = "none"


class Settings(BaseModel):
    """Where redwatch keeps its data: REDWATCH_HOME and REDWATCH_DB_URL."""

    model_config = ConfigDict(frozen=True)

    home: Path
    db_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from `env` (os.environ by default); empty values count as unset."""
        env = os.environ if env is None else env
        home_text = env.get("REDWATCH_HOME", "").strip()
        home = Path(home_text).expanduser() if home_text else Path(".redwatch")
        home = home if home.is_absolute() else Path.cwd() / home
        db_url = env.get("REDWATCH_DB_URL", "").strip() or f"sqlite:///{home / 'redwatch.db'}"
        return cls(home=home, db_url=db_url)


class _Strict(BaseModel):
    """Base of the project-file models: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class FeatureDecl(_Strict):
    """What the user declares about one input feature (refines what the data shows)."""

    lower: float | None = None
    upper: float | None = None
    integer: bool = False
    immutable: bool = False
    categorical: list[float] | None = None
    cost: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> FeatureDecl:
        """Reject lower > upper."""
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"lower ({self.lower}) is greater than upper ({self.upper})")
        return self


class BudgetDecl(_Strict):
    """Campaign-wide limits; None means unlimited."""

    queries: int | None = Field(default=None, ge=1)
    seconds: float | None = Field(default=None, gt=0)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env_name(value: str | None) -> str | None:
    """An environment variable's name (never the secret itself)."""
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError("must name an environment variable that holds the key, not the key")
    return value


def _http_url(value: str) -> str:
    """An http(s) URL."""
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https://, not {value!r}")
    return value


def _json_text(value: Any) -> Any:
    """A JSON template given as a YAML mapping is stored as JSON text."""
    return json.dumps(value) if isinstance(value, dict) else value


class ChatModelDecl(_Strict):
    """An auxiliary OpenAI-compatible model (attacker or judge)."""

    url: str
    model: str | None = None
    api_key_env: str | None = None

    _check_url = field_validator("url")(_http_url)
    _check_env = field_validator("api_key_env")(_env_name)


class ChatLoginDecl(_Strict):
    """The login call a stateful chat application needs at the start of each session."""

    url: str
    body: str  # JSON template; $VAR / ${VAR} read from the environment
    token_path: str | None = None

    _check_url = field_validator("url")(_http_url)
    _body_text = field_validator("body", mode="before")(_json_text)


class ChatConfig(_Strict):
    """The `chat:` section: how to talk to an LLM application and what redwatch may do."""

    model: str | None = None
    api_key_env: str | None = None
    template: str | None = None  # JSON request template: a generic HTTP chat application
    response_path: str | None = None
    tool_calls_path: str | None = None
    login: ChatLoginDecl | None = None
    stateful: bool = False
    accepts_system: bool = True
    system_prompt_file: Path | None = None
    attacker: ChatModelDecl | None = None
    judge: ChatModelDecl | None = None
    max_turns: int = Field(default=5, ge=1, le=50)

    _check_env = field_validator("api_key_env")(_env_name)
    _template_text = field_validator("template", mode="before")(_json_text)

    @field_validator("response_path", "tool_calls_path")
    @classmethod
    def _json_path(cls, value: str | None) -> str | None:
        """JSONPaths start with '$'."""
        if value is not None and not value.startswith("$"):
            raise ValueError(f"must be a JSONPath starting with '$', not {value!r}")
        return value

    @model_validator(mode="after")
    def _template_options(self) -> ChatConfig:
        """A template needs a response path; the HTTP-app options need a template."""
        if self.template is not None and self.response_path is None:
            raise ValueError("template needs response_path (where the reply is in the answer)")
        for key in ("response_path", "tool_calls_path", "login"):
            if self.template is None and getattr(self, key) is not None:
                raise ValueError(f"{key} applies to a template (generic HTTP) chat target only")
        return self


class ProjectConfig(_Strict):
    """Contents of redwatch.yaml."""

    features: dict[str, FeatureDecl] = Field(default_factory=dict)
    probes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    budget: BudgetDecl = Field(default_factory=BudgetDecl)
    fail_on: str = "high"
    image_shape: list[int] | None = None
    label: str | None = None
    onehot: list[list[str]] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    sensitive: list[str] = Field(default_factory=list)  # sensitive columns of the data
    chat: ChatConfig | None = None  # LLM chat targets (redwatch scan --kind chat)

    @field_validator("fail_on")
    @classmethod
    def _known_severity(cls, value: str) -> str:
        """A severity name or "none" (never fail), stored lower-case."""
        text = value.strip().lower()
        if text != NO_FAILURE:
            try:
                Severity.parse(text)
            except UsageError as exc:
                raise ValueError(f"{exc}, or none") from None
        return text

    @field_validator("image_shape")
    @classmethod
    def _positive_dims(cls, value: list[int] | None) -> list[int] | None:
        """Every dimension of an image shape is at least 1."""
        if value is not None and (not value or min(value) < 1):
            raise ValueError("every dimension must be a positive integer")
        return value

    @field_validator("onehot")
    @classmethod
    def _groups_of_two(cls, value: list[list[str]]) -> list[list[str]]:
        """Each one-hot group names two or more distinct features."""
        for group in value:
            if len(group) < 2 or len(set(group)) != len(group):
                raise ValueError(f"one-hot group {group} needs two or more distinct features")
        return value

    @field_validator("constraints")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        """Constraints are non-empty strings (checked against the features at scan time)."""
        for text in value:
            if not text.strip():
                raise ValueError("empty constraint")
        return [text.strip() for text in value]

    @field_validator("probes", mode="before")
    @classmethod
    def _empty_params(cls, value: Any) -> Any:
        """Allow `probe.name:` with no parameters (YAML null) as an empty mapping."""
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    def fail_threshold(self) -> Severity | None:
        """Severity from which a campaign fails the build, None when it never does."""
        return None if self.fail_on == NO_FAILURE else Severity.parse(self.fail_on)


def load_project_config(path: Path | None = None) -> ProjectConfig:
    """Read redwatch.yaml (or `path`). A missing default file gives defaults; a missing,
    unreadable or invalid file that was named raises UsageError."""
    target = path if path is not None else DEFAULT_PROJECT_FILE
    if path is None and not target.exists():
        return ProjectConfig()
    data = read_yaml(target)
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{target}: {first_error(exc)}") from None


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse the file into a mapping (an empty file is an empty mapping)."""
    if not path.exists():
        raise UsageError(f"{path}: file not found")
    if not path.is_file():
        raise UsageError(f"{path}: not a file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read file ({exc})") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({_yaml_problem(exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what went wrong while parsing, on one line."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)


def first_error(exc: ValidationError) -> str:
    """First validation error as `dotted.field: message`, with a count of the others."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {message}{more}"
