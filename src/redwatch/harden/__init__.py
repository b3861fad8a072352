"""Hardening: turn evasion findings into a more robust model and prove it with a re-scan.

torch_training  PGD adversarial training (Madry) and TRADES for PyTorch modules
tabular         adversarial data augmentation and refit for scikit-learn API models
train           picks and runs the method that fits the model kind
rescan          the before/after campaigns with the same probes, budget, seed and data
compare         the before/after table built from those two campaigns
record          the JSON record and the Markdown report of how the model was made
pipeline        the whole `redwatch harden` run, from files to the hardened model folder
"""
