"""Reference tables for MITRE ATLAS, OWASP ML Top 10 (2023), OWASP LLM Top 10 (2025),
NIST AI RMF and the EU AI Act. Data, not code: probes cite these ids in `references`."""

from __future__ import annotations

from dataclasses import dataclass

ATLAS_URL = "https://atlas.mitre.org/techniques/{id}"

ATLAS: dict[str, str] = {
    "AML.T0010": "ML Supply Chain Compromise",
    "AML.T0010.003": "ML Supply Chain Compromise: Model",
    "AML.T0011": "User Execution",
    "AML.T0011.000": "User Execution: Unsafe ML Artifacts",
    "AML.T0015": "Evade ML Model",
    "AML.T0018": "Backdoor ML Model",
    "AML.T0020": "Poison Training Data",
    "AML.T0024": "Exfiltration via ML Inference API",
    "AML.T0024.000": "Exfiltration via ML Inference API: Infer Training Data Membership",
    "AML.T0024.001": "Exfiltration via ML Inference API: Invert ML Model",
    "AML.T0024.002": "Exfiltration via ML Inference API: Extract ML Model",
    "AML.T0029": "Denial of ML Service",
    "AML.T0031": "Erode ML Model Integrity",
    "AML.T0040": "ML Model Inference API Access",
    "AML.T0042": "Verify Attack",
    "AML.T0043": "Craft Adversarial Data",
    "AML.T0043.000": "Craft Adversarial Data: White-Box Optimization",
    "AML.T0043.001": "Craft Adversarial Data: Black-Box Optimization",
    "AML.T0043.002": "Craft Adversarial Data: Black-Box Transfer",
    "AML.T0043.003": "Craft Adversarial Data: Manual Modification",
    "AML.T0043.004": "Craft Adversarial Data: Insert Backdoor Trigger",
    "AML.T0044": "Full ML Model Access",
    "AML.T0051": "LLM Prompt Injection",
    "AML.T0051.000": "LLM Prompt Injection: Direct",
    "AML.T0051.001": "LLM Prompt Injection: Indirect",
    "AML.T0054": "LLM Jailbreak",
    "AML.T0056": "Extract LLM System Prompt",
    "AML.T0057": "LLM Data Leakage",
}

OWASP_ML: dict[str, str] = {
    "OWASP-ML01": "Input Manipulation Attack",
    "OWASP-ML02": "Data Poisoning Attack",
    "OWASP-ML03": "Model Inversion Attack",
    "OWASP-ML04": "Membership Inference Attack",
    "OWASP-ML05": "Model Theft",
    "OWASP-ML06": "AI Supply Chain Attacks",
    "OWASP-ML07": "Transfer Learning Attack",
    "OWASP-ML08": "Model Skewing",
    "OWASP-ML09": "Output Integrity Attack",
    "OWASP-ML10": "Model Poisoning",
}

OWASP_LLM: dict[str, str] = {
    "OWASP-LLM01": "Prompt Injection",
    "OWASP-LLM02": "Sensitive Information Disclosure",
    "OWASP-LLM03": "Supply Chain",
    "OWASP-LLM04": "Data and Model Poisoning",
    "OWASP-LLM05": "Improper Output Handling",
    "OWASP-LLM06": "Excessive Agency",
    "OWASP-LLM07": "System Prompt Leakage",
    "OWASP-LLM08": "Vector and Embedding Weaknesses",
    "OWASP-LLM09": "Misinformation",
    "OWASP-LLM10": "Unbounded Consumption",
}

NIST_AI_RMF: dict[str, str] = {
    "NIST-MAP-5.1": "Likelihood and magnitude of each identified impact are documented",
    "NIST-MEASURE-2.5": "The AI system is demonstrated to be valid and reliable",
    "NIST-MEASURE-2.6": "The AI system is evaluated regularly for safety risks",
    "NIST-MEASURE-2.7": "AI system security and resilience are evaluated and documented",
    "NIST-MEASURE-2.10": "Privacy risk of the AI system is examined and documented",
    "NIST-MEASURE-2.11": "Fairness and bias are evaluated and results are documented",
    "NIST-MANAGE-2.4": "Mechanisms are in place to supersede or deactivate AI systems",
    "NIST-MANAGE-4.1": "Post-deployment monitoring plans are implemented",
}

EU_AI_ACT: dict[str, str] = {
    "EU-AIA-Art9": "Risk management system",
    "EU-AIA-Art10": "Data and data governance",
    "EU-AIA-Art12": "Record-keeping",
    "EU-AIA-Art15": "Accuracy, robustness and cybersecurity",
}

TABLES: dict[str, dict[str, str]] = {
    "MITRE ATLAS": ATLAS,
    "OWASP ML Top 10": OWASP_ML,
    "OWASP LLM Top 10": OWASP_LLM,
    "NIST AI RMF": NIST_AI_RMF,
    "EU AI Act": EU_AI_ACT,
}


@dataclass(frozen=True)
class Reference:
    """One resolved reference id: which framework, its name, and a link where public."""

    id: str
    framework: str
    name: str
    url: str | None


def resolve(ref_id: str) -> Reference | None:
    """Look a reference id up in every table; None if no table knows it."""
    for framework, table in TABLES.items():
        if ref_id in table:
            url = ATLAS_URL.format(id=ref_id) if framework == "MITRE ATLAS" else None
            return Reference(ref_id, framework, table[ref_id], url)
    return None


def is_known(ref_id: str) -> bool:
    """True when some table lists the id; the probe conformance test relies on this."""
    return resolve(ref_id) is not None
