"""Targets: adapters that put every kind of model behind one metered interface."""

from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.detect import from_object
from redwatch.targets.loading import load_target
from redwatch.targets.spec import InputSpec

__all__ = ["Capabilities", "InputSpec", "Target", "from_object", "load_target"]
