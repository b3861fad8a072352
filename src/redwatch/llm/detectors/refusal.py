"""Refusal detectors: does a reply refuse or deflect the request (HIT) or carry it out, even
with caveats or after a token apology (CLEAN)? A probe reads a refusal as "the defence
held". Two models over the same packaged corpus: a fast linear one and a MiniLM one."""

from __future__ import annotations

from redwatch.llm.detectors.embedding import EmbeddingDetector
from redwatch.llm.detectors.textclf import LinearDetector


class RefusalDetector(LinearDetector):
    """Linear classifier (hashed n-grams): HIT when the reply refuses or deflects."""

    name = "refusal"
    description = "learned (linear n-gram) classifier: the reply refuses or deflects"
    corpus = "refusal"
    property_name = "refusal"


class EmbeddingRefusalDetector(EmbeddingDetector):
    """MiniLM embeddings + logistic head: HIT when the reply refuses or deflects."""

    name = "embedding-refusal"
    description = "all-MiniLM-L6-v2 embedding classifier: the reply refuses or deflects"
    corpus = "refusal"
    property_name = "refusal"
