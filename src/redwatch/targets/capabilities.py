"""Capabilities: what a target exposes, as data the planner and probes read."""

from __future__ import annotations

from dataclasses import dataclass

from redwatch.targets.spec import InputSpec

KNOWN_CAPABILITIES = frozenset(
    {"labels", "scores", "gradients", "chat", "artifact", "trees", "trainable"}
)


@dataclass(frozen=True)
class Capabilities:
    """Flags for what a target can do, plus the input description and class count."""

    labels: bool = True
    scores: bool = False
    gradients: bool = False
    chat: bool = False
    artifact: bool = False
    trees: bool = False  # the model is a tree ensemble whose structure attacks can read
    trainable: bool = False  # redwatch.recipe can retrain the model from scratch by itself
    input_spec: InputSpec | None = None
    n_classes: int | None = None

    @property
    def names(self) -> frozenset[str]:
        """The set of capability names that are switched on."""
        flags = {
            "labels": self.labels,
            "scores": self.scores,
            "gradients": self.gradients,
            "chat": self.chat,
            "artifact": self.artifact,
            "trees": self.trees,
            "trainable": self.trainable,
        }
        return frozenset(k for k, v in flags.items() if v)

    def has(self, *names: str) -> bool:
        """True when every named capability is present."""
        return set(names) <= self.names
