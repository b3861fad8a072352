"""Training-data checks: label errors, duplicates, out-of-distribution rows and backdoors,
merged into per-row flags that a quarantine split and the reports use."""
