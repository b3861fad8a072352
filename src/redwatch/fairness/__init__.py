"""Group fairness of a classifier's decisions: per-group rates with fairlearn's MetricFrame,
demographic parity, equalized odds and the four-fifths rule, with stratified bootstrap
confidence intervals (used by the `fairness.groups` probe and the audit)."""
