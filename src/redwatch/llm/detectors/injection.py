"""Injection detectors: does a text try to override the assistant's instructions, jailbreak
it or extract its system prompt, directly or from inside a pasted document or tool result?
Long texts are scored window by window, so one planted instruction in a long document is
still seen. A fast linear model (the guard's default) and a MiniLM one."""

from __future__ import annotations

from redwatch.llm.detectors.embedding import EmbeddingDetector
from redwatch.llm.detectors.textclf import LinearDetector


class InjectionDetector(LinearDetector):
    """Linear classifier (hashed n-grams): HIT when the text tries to take over the model."""

    name = "injection"
    description = "learned (linear n-gram) classifier: instruction override, jailbreak, extraction"
    corpus = "injection"
    property_name = "injection"
    window = 64  # tokens


class EmbeddingInjectionDetector(EmbeddingDetector):
    """MiniLM embeddings + logistic head: HIT when the text tries to take over the model."""

    name = "embedding-injection"
    description = "all-MiniLM-L6-v2 embedding classifier: instruction override, jailbreak"
    corpus = "injection"
    property_name = "injection"
    window = 128  # words
