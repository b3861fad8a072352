"""Privacy probes: membership inference with scores (threshold, LiRA, RMIA) and from labels
alone, against the target or a replica of its training recipe."""

from redwatch.probes.privacy.label_only import LabelOnlyMembershipProbe
from redwatch.probes.privacy.membership import MembershipProbe

__all__ = ["LabelOnlyMembershipProbe", "MembershipProbe"]
