"""Breadth through ART: Carlini-Wagner L2, DeepFool, ZOO and the Boundary attack as probes.

These are declarations only. ART (the optional `art` extra) is imported when a probe runs,
through `art_adapter`, which wraps the metered Target as an ART estimator; without ART the
planner skips them and says which extra to install.
"""

from __future__ import annotations

import importlib.util
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from redwatch.exceptions import ProbeError
from redwatch.findings import Category, Finding
from redwatch.probes.base import Probe, ProbeContext
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities

EXTRA_HINT = "needs the optional extra: pip install 'redwatch[art]'"
WHITE_BOX_REFS = ("AML.T0015", "AML.T0043.000", "OWASP-ML01")
BLACK_BOX_REFS = ("AML.T0015", "AML.T0043.001", "AML.T0040", "OWASP-ML01")


def art_missing() -> str | None:
    """Why ART cannot be used here (the install hint), or None when it can be imported.

    ART 1.20.1 imports `packaging` without declaring it, so both must be present."""
    for module in ("art", "packaging"):
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        if found is None:
            return EXTRA_HINT
    return None


class ArtEvasionProbe(Probe):
    """An ART minimal-perturbation attack run through our metered Target (L2, untargeted).

    `mode` says what the attack reads: "gradients" (class gradients, run in chunks of
    rows), "scores" or "labels" (one row at a time, with a per-row query cap). `defaults`
    lists every option a user may set under `probes:` and its default value."""

    category: ClassVar[Category] = Category.EVASION
    default: ClassVar[bool] = False  # optional extra: runs when named, not in every scan
    mode: ClassVar[str]
    attack_label: ClassVar[str]
    defaults: ClassVar[Mapping[str, float]]

    @classmethod
    def why_not(cls, capabilities: Capabilities) -> str | None:
        """The install hint when ART is missing, else the usual capability check."""
        return art_missing() or super().why_not(capabilities)

    @property
    def black_box(self) -> bool:
        """True when the attack needs no gradients."""
        return self.mode != "gradients"

    def settings(self, params: Mapping[str, Any]) -> dict[str, float]:
        """The attack options: defaults overridden by params, each checked to be positive
        (`confidence` and `overshoot` may be zero)."""
        out: dict[str, float] = {}
        for key, default in self.defaults.items():
            raw = params.get(key, default)
            try:
                value = float(raw) if isinstance(default, float) else int(raw)
            except (TypeError, ValueError):
                raise ProbeError(
                    f"{self.name}: option {key} must be a number, not {raw!r}"
                ) from None
            if value < 0 or (value == 0 and key not in ("confidence", "overshoot")):
                raise ProbeError(f"{self.name}: option {key} must be positive, got {value}")
            out[key] = value
        return out

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Run the ART attack on the correctly classified sample rows (see art_adapter)."""
        missing = art_missing()
        if missing is not None:
            raise ProbeError(f"{self.name} {missing}")
        try:
            from redwatch.probes.evasion.art_adapter import run_art_probe
        except ImportError as exc:
            raise ProbeError(f"{self.name} {EXTRA_HINT} ({exc.name} is missing)") from None
        return run_art_probe(self, target, ctx)

    @abstractmethod
    def build_attack(self, estimator: Any, settings: Mapping[str, float]) -> Any:
        """The configured ART attack over `estimator` (ART is importable when called)."""


class ArtCarliniProbe(ArtEvasionProbe):
    """Carlini & Wagner L2 (ART): optimisation-based, finds small L2 evasions on models
    that expose gradients; slower than PGD but a strong reference for minimal size."""

    name: ClassVar[str] = "evasion.art_carlini"
    requires: ClassVar[frozenset[str]] = frozenset({"scores", "gradients"})
    references: ClassVar[tuple[str, ...]] = WHITE_BOX_REFS
    cost: ClassVar[int] = 4
    description: ClassVar[str] = "White-box minimal L2 evasion with ART's Carlini-Wagner attack"
    mode: ClassVar[str] = "gradients"
    attack_label: ClassVar[str] = "ART C&W L2"
    defaults: ClassVar[Mapping[str, float]] = {
        "samples": 20,
        "batch_size": 16,
        "max_iter": 10,
        "binary_search_steps": 5,
        "learning_rate": 0.1,
        "initial_const": 1.0,
        "confidence": 0.0,
    }

    def build_attack(self, estimator: Any, settings: Mapping[str, float]) -> Any:
        """ART CarliniL2Method, untargeted."""
        from art.attacks.evasion import CarliniL2Method

        return CarliniL2Method(
            estimator,
            confidence=settings["confidence"],
            learning_rate=settings["learning_rate"],
            binary_search_steps=int(settings["binary_search_steps"]),
            max_iter=int(settings["max_iter"]),
            initial_const=settings["initial_const"],
            batch_size=int(settings["batch_size"]),
            verbose=False,
        )


class ArtDeepFoolProbe(ArtEvasionProbe):
    """DeepFool (ART): walks to the nearest linearised decision boundary; cheap, gives a
    quick upper bound on each row's L2 robustness radius."""

    name: ClassVar[str] = "evasion.art_deepfool"
    requires: ClassVar[frozenset[str]] = frozenset({"scores", "gradients"})
    references: ClassVar[tuple[str, ...]] = WHITE_BOX_REFS
    cost: ClassVar[int] = 2
    description: ClassVar[str] = "White-box minimal L2 evasion with ART's DeepFool attack"
    mode: ClassVar[str] = "gradients"
    attack_label: ClassVar[str] = "ART DeepFool"
    defaults: ClassVar[Mapping[str, float]] = {
        "samples": 50,
        "batch_size": 16,
        "max_iter": 20,
        "overshoot": 0.02,
        "nb_grads": 10,
    }

    def build_attack(self, estimator: Any, settings: Mapping[str, float]) -> Any:
        """ART DeepFool with the paper's 2 % overshoot (ART's own default is 1e-6)."""
        from art.attacks.evasion import DeepFool

        return DeepFool(
            estimator,
            max_iter=int(settings["max_iter"]),
            epsilon=settings["overshoot"],
            nb_grads=int(settings["nb_grads"]),
            batch_size=int(settings["batch_size"]),
            verbose=False,
        )


class ArtZooProbe(ArtEvasionProbe):
    """ZOO (ART): Carlini-Wagner loss minimised by coordinate-wise finite differences on the
    scores, so it needs no gradients; expensive in queries, one row at a time."""

    name: ClassVar[str] = "evasion.art_zoo"
    requires: ClassVar[frozenset[str]] = frozenset({"scores"})
    references: ClassVar[tuple[str, ...]] = BLACK_BOX_REFS
    cost: ClassVar[int] = 5
    description: ClassVar[str] = "Score-based zeroth-order L2 evasion with ART's ZOO attack"
    mode: ClassVar[str] = "scores"
    attack_label: ClassVar[str] = "ART ZOO"
    defaults: ClassVar[Mapping[str, float]] = {
        "samples": 10,
        "max_queries": 3000,
        "max_iter": 100,
        "binary_search_steps": 1,
        "learning_rate": 0.02,
        "initial_const": 1.0,
        "nb_parallel": 16,
        "confidence": 0.0,
    }

    def build_attack(self, estimator: Any, settings: Mapping[str, float]) -> Any:
        """ART ZooAttack on a feature vector (no resizing or importance sampling)."""
        from art.attacks.evasion import ZooAttack

        n_inputs = int(estimator.input_shape[0])
        return ZooAttack(
            estimator,
            confidence=settings["confidence"],
            learning_rate=settings["learning_rate"],
            max_iter=int(settings["max_iter"]),
            binary_search_steps=int(settings["binary_search_steps"]),
            initial_const=settings["initial_const"],
            abort_early=True,
            use_resize=False,
            use_importance=False,
            nb_parallel=max(1, min(int(settings["nb_parallel"]), n_inputs)),
            batch_size=1,
            verbose=False,
        )


class ArtBoundaryProbe(ArtEvasionProbe):
    """Boundary attack (ART): starts from an input of another class and walks along the
    decision boundary towards the original, using predicted labels only."""

    name: ClassVar[str] = "evasion.art_boundary"
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = BLACK_BOX_REFS
    cost: ClassVar[int] = 5
    description: ClassVar[str] = "Decision-based L2 evasion with ART's Boundary attack"
    mode: ClassVar[str] = "labels"
    attack_label: ClassVar[str] = "ART Boundary"
    defaults: ClassVar[Mapping[str, float]] = {
        "samples": 10,
        "max_queries": 3000,
        "max_iter": 200,
        "num_trial": 10,
        "sample_size": 20,
        "delta": 0.01,
        "step": 0.01,
    }

    def build_attack(self, estimator: Any, settings: Mapping[str, float]) -> Any:
        """ART BoundaryAttack, untargeted; the adapter supplies the starting points."""
        from art.attacks.evasion import BoundaryAttack

        return BoundaryAttack(
            estimator,
            targeted=False,
            delta=settings["delta"],
            epsilon=settings["step"],
            max_iter=int(settings["max_iter"]),
            num_trial=int(settings["num_trial"]),
            sample_size=int(settings["sample_size"]),
            batch_size=64,
            verbose=False,
        )
