"""Reference tables for MITRE ATLAS, OWASP ML Top 10 (2023), OWASP LLM Top 10 (2025),
NIST AI RMF, the EU AI Act and the GDPR. Data, not code: probes cite these ids in
`references`; the audit maps finding categories and its controls onto them through the
mapping tables at the end, every row citing its source document and version."""

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
    "AML.T0053": "LLM Plugin Compromise",
    "AML.T0054": "LLM Jailbreak",
    "AML.T0055": "Unsecured Credentials",
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
    "NIST-MEASURE-1.1": "Approaches and metrics for the most significant risks are selected",
    "NIST-MEASURE-2.1": "Test sets, metrics and tools used in evaluation are documented",
    "NIST-MEASURE-2.5": "The AI system is demonstrated to be valid and reliable",
    "NIST-MEASURE-2.6": "The AI system is evaluated regularly for safety risks",
    "NIST-MEASURE-2.7": "AI system security and resilience are evaluated and documented",
    "NIST-MEASURE-2.10": "Privacy risk of the AI system is examined and documented",
    "NIST-MEASURE-2.11": "Fairness and bias are evaluated and results are documented",
    "NIST-MANAGE-1.3": "Responses to high-priority risks are developed, planned and documented",
    "NIST-MANAGE-2.4": "Mechanisms are in place to supersede or deactivate AI systems",
    "NIST-MANAGE-4.1": "Post-deployment monitoring plans are implemented",
}

EU_AI_ACT: dict[str, str] = {
    "EU-AIA-Art9": "Risk management system",
    "EU-AIA-Art10": "Data and data governance",
    "EU-AIA-Art10(2)(f)": "Data governance: examination of data sets for possible biases",
    "EU-AIA-Art12": "Record-keeping",
    "EU-AIA-Art15": "Accuracy, robustness and cybersecurity",
    "EU-AIA-Art15(5)": "Resilience against attempts to exploit AI-specific vulnerabilities",
}

GDPR: dict[str, str] = {
    "GDPR-Art25": "Data protection by design and by default",
    "GDPR-Art32": "Security of processing",
    "GDPR-Art35": "Data protection impact assessment",
}

TABLES: dict[str, dict[str, str]] = {
    "MITRE ATLAS": ATLAS,
    "OWASP ML Top 10": OWASP_ML,
    "OWASP LLM Top 10": OWASP_LLM,
    "NIST AI RMF": NIST_AI_RMF,
    "EU AI Act": EU_AI_ACT,
    "GDPR": GDPR,
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


@dataclass(frozen=True)
class Source:
    """The document a framework table comes from, with the version its ids and names follow."""

    document: str
    version: str
    url: str


SOURCES: dict[str, Source] = {
    "MITRE ATLAS": Source(
        "MITRE ATLAS (Adversarial Threat Landscape for Artificial-Intelligence Systems)",
        "ATLAS data v4.8.0, March 2025",
        "https://atlas.mitre.org/",
    ),
    "OWASP ML Top 10": Source(
        "OWASP Machine Learning Security Top Ten",
        "2023 edition",
        "https://owasp.org/www-project-machine-learning-security-top-10/",
    ),
    "OWASP LLM Top 10": Source(
        "OWASP Top 10 for Large Language Model Applications",
        "2025 edition (November 2024)",
        "https://genai.owasp.org/llm-top-10/",
    ),
    "NIST AI RMF": Source(
        "NIST AI 100-1, Artificial Intelligence Risk Management Framework",
        "AI RMF 1.0, January 2023",
        "https://doi.org/10.6028/NIST.AI.100-1",
    ),
    "EU AI Act": Source(
        "Regulation (EU) 2024/1689 (Artificial Intelligence Act)",
        "as published in the Official Journal on 12 July 2024",
        "https://eur-lex.europa.eu/eli/reg/2024/1689/oj",
    ),
    "GDPR": Source(
        "Regulation (EU) 2016/679 (General Data Protection Regulation)",
        "as published in the Official Journal on 4 May 2016",
        "https://eur-lex.europa.eu/eli/reg/2016/679/oj",
    ),
}


def framework_of(ref_id: str) -> str | None:
    """Name of the table that lists the id, or None."""
    found = resolve(ref_id)
    return None if found is None else found.framework


def source_of(ref_id: str) -> Source | None:
    """The source document (and version) of the table that lists the id, or None."""
    framework = framework_of(ref_id)
    return None if framework is None else SOURCES[framework]


@dataclass(frozen=True)
class MappingRow:
    """One row of a mapping table: a subject (a finding category or a control id) meets a
    framework reference for the stated reason; `source` cites the document and version."""

    subject: str
    ref: str
    rationale: str
    source: Source


def _rows(subject: str, pairs: tuple[tuple[str, str], ...]) -> tuple[MappingRow, ...]:
    """Rows for one subject; the source is the one of the table that defines the ref."""
    return tuple(MappingRow(subject, ref, why, SOURCES[_framework(ref)]) for ref, why in pairs)


def _framework(ref_id: str) -> str:
    framework = framework_of(ref_id)
    if framework is None:
        raise KeyError(f"mapping table cites unknown reference {ref_id!r}")
    return framework


_ART15 = ("EU-AIA-Art15", "High-risk systems must be robust and secure against misuse.")
_ART32 = ("GDPR-Art32", "Security of processing covers the integrity of automated decisions.")
_ART32_TEST = (
    "GDPR-Art32",
    "Art. 32(1)(d) asks for regular testing of the effectiveness of security measures.",
)
_M27 = ("NIST-MEASURE-2.7", "Measures how the model withstands a deliberate adversary.")

# Finding categories (findings.Category values) -> framework references.
CATEGORY_MAP: tuple[MappingRow, ...] = (
    *_rows(
        "evasion",
        (
            ("AML.T0015", "Inputs crafted to change the model's decision."),
            ("AML.T0043", "The attack crafts adversarial data against the model."),
            ("OWASP-ML01", "Input manipulation is the OWASP name for evasion."),
            _M27,
            ("EU-AIA-Art15(5)", "Names adversarial examples and model evasion explicitly."),
            _ART15,
            _ART32,
        ),
    ),
    *_rows(
        "extraction",
        (
            ("AML.T0024.002", "A copy of the model is trained from its answers."),
            ("OWASP-ML05", "Model theft through the prediction interface."),
            _M27,
            ("EU-AIA-Art15(5)", "Confidentiality attacks on the model are in scope."),
            ("GDPR-Art32", "A stolen model may carry personal data it was trained on."),
        ),
    ),
    *_rows(
        "privacy",
        (
            ("AML.T0024.000", "Membership of a person's record in the training set is inferred."),
            ("AML.T0024.001", "Inversion reconstructs features or class prototypes."),
            ("OWASP-ML03", "Model inversion reveals sensitive inputs."),
            ("OWASP-ML04", "Membership inference reveals who was in the training data."),
            ("NIST-MEASURE-2.10", "Privacy risk of the model is examined and documented."),
            ("EU-AIA-Art15(5)", "Confidentiality attacks are one of the named vulnerabilities."),
            ("EU-AIA-Art10", "Training data governance includes the personal data it holds."),
            ("GDPR-Art25", "Protection by design limits what a model discloses of its data."),
            ("GDPR-Art32", "Leakage of training records is a confidentiality failure."),
            ("GDPR-Art35", "A measured leak is input to the impact assessment."),
        ),
    ),
    *_rows(
        "fairness",
        (
            ("NIST-MEASURE-2.11", "Fairness and bias are evaluated and the results documented."),
            ("EU-AIA-Art10(2)(f)", "Data sets must be examined for biases that harm people."),
            ("EU-AIA-Art9", "Discriminatory outcomes are a foreseeable risk to manage."),
            ("GDPR-Art35", "Systematic evaluation of people calls for an impact assessment."),
        ),
    ),
    *_rows(
        "poisoning",
        (
            ("AML.T0020", "Training rows inserted or altered by an adversary."),
            ("AML.T0018", "A trigger planted through training data acts as a backdoor."),
            ("OWASP-ML02", "Data poisoning."),
            ("OWASP-ML10", "Model poisoning through its training pipeline."),
            _M27,
            ("EU-AIA-Art15(5)", "Names data poisoning and model poisoning explicitly."),
            ("EU-AIA-Art10", "Data governance covers the origin and integrity of training data."),
            _ART32,
        ),
    ),
    *_rows(
        "integrity",
        (
            ("AML.T0010.003", "A tampered model file enters through the supply chain."),
            ("AML.T0011.000", "Loading an unsafe artifact executes an attacker's code."),
            ("AML.T0031", "The model's behaviour drifts from what was approved."),
            ("OWASP-ML06", "AI supply chain attacks."),
            ("OWASP-ML10", "A swapped or altered model is model poisoning."),
            _M27,
            ("EU-AIA-Art15(5)", "Resilience against alteration of the system by third parties."),
            _ART32,
        ),
    ),
    *_rows(
        "supply_chain",
        (
            ("AML.T0010", "Compromise of a component the model depends on."),
            ("OWASP-ML06", "AI supply chain attacks."),
            _M27,
            _ART15,
            _ART32,
        ),
    ),
    *_rows(
        "llm",
        (
            ("AML.T0051", "Instructions injected into the model's prompt."),
            ("AML.T0054", "Safety controls bypassed by a crafted prompt."),
            ("AML.T0053", "Tools the application offers are called with an attacker's arguments."),
            ("AML.T0056", "The system prompt is extracted through the chat interface."),
            ("AML.T0057", "Confidential data in the model's context is leaked in answers."),
            ("OWASP-LLM01", "Prompt injection."),
            ("OWASP-LLM02", "Sensitive information disclosed in answers."),
            ("OWASP-LLM05", "Replies carry markup or code passed on unescaped."),
            ("OWASP-LLM06", "The agent acts beyond what the user asked for."),
            ("OWASP-LLM07", "The system prompt leaks."),
            _M27,
            _ART15,
            _ART32,
        ),
    ),
)


@dataclass(frozen=True)
class Control:
    """An assurance activity the audit evidences; `categories` are the probe families whose
    runs perform it (empty: performed by the audit itself)."""

    id: str
    title: str
    description: str
    categories: tuple[str, ...] = ()


CONTROLS: tuple[Control, ...] = (
    Control(
        "RW-C01",
        "Adversarial robustness testing",
        "The model is attacked with white-box and black-box evasion within fixed budgets.",
        ("evasion",),
    ),
    Control(
        "RW-C02",
        "Model theft testing",
        "A surrogate is trained from the model's answers and its agreement measured.",
        ("extraction",),
    ),
    Control(
        "RW-C03",
        "Training-data privacy testing",
        "Membership, attribute inference and inversion attacks measure what the model "
        "discloses about the people in its training data.",
        ("privacy",),
    ),
    Control(
        "RW-C04",
        "Group fairness measurement",
        "Selection and error rates are compared across the declared sensitive groups.",
        ("fairness",),
    ),
    Control(
        "RW-C05",
        "Poisoning susceptibility testing",
        "The training recipe is re-run on poisoned copies of the data to see what it takes "
        "to corrupt the model.",
        ("poisoning",),
    ),
    Control(
        "RW-C06",
        "Model artifact integrity",
        "The model file is scanned for unsafe formats, its signature and its behavioural "
        "fingerprint are checked.",
        ("integrity", "supply_chain"),
    ),
    Control(
        "RW-C07",
        "Risk register",
        "Every finding and every clean test is rated likelihood x impact with an owner-facing "
        "mitigation.",
    ),
    Control(
        "RW-C08",
        "Reproducible test record",
        "The campaign's probes, budgets, data, seed and software versions are recorded so "
        "that the test can be repeated and compared.",
    ),
    Control(
        "RW-C09",
        "LLM application red teaming",
        "The chat endpoint is attacked with prompt injection, jailbreaks, system-prompt "
        "extraction, leakage, tool misuse and unsafe-output prompts; transcripts are kept.",
        ("llm",),
    ),
)

CONTROL_MAP: tuple[MappingRow, ...] = (
    *_rows(
        "RW-C01",
        (
            ("AML.T0015", "Exercises evasion as an adversary would."),
            _M27,
            ("EU-AIA-Art15(5)", "Tests the measures against adversarial examples."),
            _ART32_TEST,
        ),
    ),
    *_rows(
        "RW-C02",
        (
            ("AML.T0024.002", "Exercises model extraction."),
            _M27,
            ("EU-AIA-Art15(5)", "Tests resistance to confidentiality attacks."),
        ),
    ),
    *_rows(
        "RW-C03",
        (
            ("AML.T0024.000", "Exercises membership inference."),
            ("NIST-MEASURE-2.10", "Examines and documents privacy risk."),
            ("GDPR-Art25", "Checks that protection by design holds for the trained model."),
            ("GDPR-Art35", "Supplies measured figures to the impact assessment."),
            _ART32_TEST,
        ),
    ),
    *_rows(
        "RW-C04",
        (
            ("NIST-MEASURE-2.11", "Evaluates fairness and documents the results."),
            ("EU-AIA-Art10(2)(f)", "Examines outcomes for possible bias."),
            ("GDPR-Art35", "Supplies measured figures to the impact assessment."),
        ),
    ),
    *_rows(
        "RW-C05",
        (
            ("AML.T0020", "Exercises training-data poisoning."),
            _M27,
            ("EU-AIA-Art15(5)", "Tests the measures against data poisoning."),
            ("EU-AIA-Art10", "Informs the governance of training data."),
        ),
    ),
    *_rows(
        "RW-C06",
        (
            ("AML.T0010.003", "Checks the model file before it is loaded."),
            ("OWASP-ML06", "Checks the supply chain of the model artifact."),
            _M27,
            _ART32_TEST,
        ),
    ),
    *_rows(
        "RW-C07",
        (
            ("NIST-MAP-5.1", "Documents likelihood and magnitude of each impact."),
            ("NIST-MANAGE-1.3", "Plans a response to each high-priority risk."),
            ("EU-AIA-Art9", "Feeds the risk management system with tested risks."),
        ),
    ),
    *_rows(
        "RW-C08",
        (
            ("NIST-MEASURE-1.1", "Records the approaches and metrics selected."),
            ("NIST-MEASURE-2.1", "Documents test sets, metrics and tools."),
            ("EU-AIA-Art9", "Testing against prior defined metrics is part of risk management."),
            ("EU-AIA-Art15", "Documents the accuracy and robustness measured."),
            _ART32_TEST,
        ),
    ),
    *_rows(
        "RW-C09",
        (
            ("AML.T0051", "Exercises direct and indirect prompt injection."),
            ("AML.T0054", "Exercises jailbreaks of the model's safety behaviour."),
            ("OWASP-LLM01", "Tests the application against prompt injection."),
            ("OWASP-LLM06", "Tests whether the agent misuses the tools it is offered."),
            _M27,
            ("EU-AIA-Art15(5)", "Tests resilience against attempts to alter the system's use."),
        ),
    ),
)


def rows_for(subject: str) -> list[MappingRow]:
    """Every mapping row (categories and controls) for a category or a control id."""
    return [r for r in (*CATEGORY_MAP, *CONTROL_MAP) if r.subject == subject]
