"""The `smtp` alert sink: one plain-text e-mail per alert through smtplib, optionally over
STARTTLS and with a login whose user name and password come from environment variables."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator

from redwatch.alerts.alert import Alert
from redwatch.alerts.sinks.base import SinkOptions
from redwatch.alerts.sinks.webhook import DeliveryError, RemoteSink, env_secret
from redwatch.exceptions import UsageError

ADDRESS = r"^[^@\s<>]+@[^@\s<>]+$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SmtpOptions(SinkOptions):
    """Server (`host`, `port`), sender (`from`), recipients (`to`), STARTTLS, and the names
    of the environment variables holding the login (both or neither)."""

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(alias="from", pattern=ADDRESS)
    to: list[str] = Field(min_length=1, max_length=100)
    starttls: bool = False
    username_env: str | None = Field(default=None, pattern=ENV_NAME)
    password_env: str | None = Field(default=None, pattern=ENV_NAME)
    timeout_s: float = Field(default=10.0, gt=0, le=120, allow_inf_nan=False)
    subject_prefix: str = Field(default="[redwatch]", max_length=64)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        """Every recipient looks like an e-mail address."""
        for address in value:
            if "@" not in address or any(c in address for c in " <>,\r\n"):
                raise ValueError(f"not an e-mail address: {address!r}")
        return value


def subject(alert: Alert, prefix: str) -> str:
    """`[redwatch] HIGH: <title>` on one line."""
    title = " ".join(alert.title.split())
    return f"{prefix} {alert.severity.label.upper()}: {title}".strip()[:250]


def body(alert: Alert) -> str:
    """The plain-text body: every field of the alert, one per line."""
    lines = [f"{key}: {value}" for key, value in alert.to_dict().items()]
    return "\n".join([alert.title, "", *lines, ""])


class SmtpSink(RemoteSink):
    """One e-mail per alert to every recipient; raises DeliveryError when the server refuses."""

    name: ClassVar[str] = "smtp"
    description: ClassVar[str] = "Plain-text e-mail per alert over SMTP (STARTTLS, login)."
    options_model: ClassVar[type[SinkOptions]] = SmtpOptions

    def __init__(self, options: SmtpOptions, login: tuple[str, str] | None = None) -> None:
        self.options = options
        self.login = login

    @classmethod
    def build(cls, options: SinkOptions, base_dir: Path) -> SmtpSink:
        """An SMTP sink; UsageError for a bad recipient or an unset login variable."""
        assert isinstance(options, SmtpOptions)
        if (options.username_env is None) != (options.password_env is None):
            raise UsageError("sink smtp: username_env and password_env go together")
        user = env_secret(options.username_env, "sink smtp: username_env")
        password = env_secret(options.password_env, "sink smtp: password_env")
        return cls(options, None if user is None or password is None else (user, password))

    def message(self, alert: Alert) -> EmailMessage:
        """The e-mail for one alert."""
        mail = EmailMessage()
        mail["Subject"] = subject(alert, self.options.subject_prefix)
        mail["From"] = self.options.sender
        mail["To"] = ", ".join(self.options.to)
        mail["X-Redwatch-Alert"] = alert.id
        mail.set_content(body(alert))
        return mail

    def send(self, alert: Alert) -> None:
        """Deliver the e-mail; DeliveryError naming the server on any SMTP or network error."""
        opts = self.options
        where = f"{opts.host}:{opts.port}"
        try:
            with smtplib.SMTP(opts.host, opts.port, timeout=opts.timeout_s) as smtp:
                if self.options.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.login is not None:
                    smtp.login(*self.login)
                smtp.send_message(self.message(alert))
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {where}: {' '.join(str(exc).split())}") from None
