"""LLM probes: prompt injection (direct and indirect), jailbreaks, system-prompt extraction,
sensitive-data leakage, excessive agency, insecure output handling and multi-turn
escalation against chat targets. Each runs a family's prompt set through the shared attempt
loop in `common` and returns at most one finding with transcripts as evidence."""
