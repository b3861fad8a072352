"""Reporter base class: a declaration plus one method that turns a campaign into text."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from redwatch.results import CampaignResult


class Reporter(ABC):
    """Renders a `CampaignResult` as one document. Reporters never write files: the engine
    (or the CLI) decides where the text goes, using `extension` and `media_type`."""

    name: ClassVar[str]
    extension: ClassVar[str]
    media_type: ClassVar[str]

    @abstractmethod
    def render(self, result: CampaignResult) -> str:
        """Return the whole document as text."""
