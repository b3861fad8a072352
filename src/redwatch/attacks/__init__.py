"""Pure attack algorithms: arrays in, arrays out. No I/O, no findings, no store."""

from redwatch.attacks.base import AttackResult
from redwatch.attacks.hopskipjump import hopskipjump
from redwatch.attacks.noise import random_noise
from redwatch.attacks.pgd import pgd
from redwatch.attacks.square import square

__all__ = ["AttackResult", "hopskipjump", "pgd", "random_noise", "square"]
