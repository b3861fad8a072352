"""Targets: adapters that put every kind of model behind one metered interface."""

from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.spec import InputSpec

__all__ = ["Capabilities", "InputSpec", "Target"]
