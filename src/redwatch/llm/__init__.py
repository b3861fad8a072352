"""LLM applications: chat messages and tool calls (chat), prompt sets and converters,
detectors that judge replies and prompts. Shared by the chat targets, the LLM probes and the
LLM guard stages; imports nothing above `targets`."""
