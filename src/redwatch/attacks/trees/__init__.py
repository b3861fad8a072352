"""Attacks that read a tree ensemble's structure: exact minimal evasion (MILP) for small
ensembles and a fast leaf-region walk for large ones."""

from redwatch.attacks.trees.ensemble import Tree, TreeEnsemble, extract

__all__ = ["Tree", "TreeEnsemble", "extract"]
