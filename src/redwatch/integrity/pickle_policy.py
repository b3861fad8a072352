"""Which pickle globals are safe, dangerous or unknown.

A pickle can call any importable callable, so the only sound stance is an allowlist of the
globals that ML serialization formats (numpy, scikit-learn, XGBoost, LightGBM, SciPy sparse,
joblib, PyTorch) legitimately import; a denylist of known code-execution gadgets lets the scan
tell "certainly dangerous" apart from "unknown, refuse by default".
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class Verdict(StrEnum):
    """Outcome for one global or a whole artifact; ordered safe < suspicious < unsafe."""

    SAFE = "safe"
    SUSPICIOUS = "suspicious"
    UNSAFE = "unsafe"

    @property
    def rank(self) -> int:
        """Severity order, for taking the worst of several verdicts."""
        return _RANK[self]


_RANK = {Verdict.SAFE: 0, Verdict.SUSPICIOUS: 1, Verdict.UNSAFE: 2}


def worst(verdicts: list[Verdict]) -> Verdict:
    """The most severe verdict of a list (SAFE for an empty list)."""
    return max(verdicts, key=lambda v: v.rank, default=Verdict.SAFE)


# Modules whose every member is a code-execution, file, process or network gadget.
DANGEROUS_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "_posixsubprocess",
        "pty",
        "commands",
        "sys",
        "importlib",
        "_frozen_importlib",
        "_frozen_importlib_external",
        "_imp",
        "pkgutil",
        "zipimport",
        "runpy",
        "code",
        "codeop",
        "marshal",
        "types",
        "socket",
        "ssl",
        "shutil",
        "tempfile",
        "pickle",
        "_pickle",
        "dill",
        "cloudpickle",
        "ctypes",
        "_ctypes",
        "multiprocessing",
        "threading",
        "_thread",
        "signal",
        "asyncio",
        "webbrowser",
        "http",
        "urllib",
        "urllib2",
        "requests",
        "httpx",
        "ftplib",
        "smtplib",
        "telnetlib",
        "socketserver",
        "xmlrpc",
        "pdb",
        "bdb",
        "trace",
        "timeit",
        "cProfile",
        "profile",
        "pydoc",
        "doctest",
        "inspect",
        "gc",
        "site",
        "glob",
        "fileinput",
        "platform",
        "mmap",
        "sqlite3",
        "tarfile",
        "zipfile",
        "shelve",
        "pip",
        "ensurepip",
        "venv",
        "distutils",
        "_io",
        "io",
        "operator",
        "_operator",
        "functools",
        "uuid",
        "atexit",
        "idlelib",
        "numpy.f2py",
        "numpy.distutils",
        "torch.hub",
        "torch.jit",
        "torch._dynamo",
        "torch._inductor",
        "torch.utils.cpp_extension",
        "torch.utils.collect_env",
        "torch._C",
        "torch.ops",
        "torch._ops",
        "torch.library",
        "torch.package",
        "torch.multiprocessing",
        "torch.distributed",
        "torch.testing",
        "fickling",
        "imp",
        "_sitebuiltins",
        "sysconfig",
        "numpy.ctypeslib",
        "numpy.lib.npyio",
        "numpy.testing",
        "pandas.io",
        "scipy.io",
        "keras.models",
        "keras.saving",
        "tensorflow.io",
    }
)
# Names in libraries that read files, unpickle or evaluate strings (pandas.read_csv ...).
_DANGEROUS_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pandas", ("read_", "eval", "to_", "DataFrame.eval", "DataFrame.query")),
    ("numpy", ("load", "save", "fromfile", "genfromtxt", "memmap")),
    ("torch", ("load", "save", "hub", "from_file")),
    ("torch.serialization", ("load", "save", "_load")),
)

# Individual dangerous members of otherwise harmless modules.
DANGEROUS_NAMES = frozenset(
    {
        ("builtins", n)
        for n in (
            "eval",
            "exec",
            "compile",
            "open",
            "__import__",
            "getattr",
            "setattr",
            "delattr",
            "globals",
            "locals",
            "vars",
            "input",
            "breakpoint",
            "memoryview",
            "exit",
            "quit",
            "help",
            "__loader__",
            "__spec__",
            "__build_class__",
        )
    }
    | {("codecs", n) for n in ("open", "EncodedFile", "StreamReaderWriter", "lookup")}
    | {
        ("numpy", "load"),
        ("numpy", "loadtxt"),
        ("numpy", "fromfile"),
        ("numpy", "save"),
        ("numpy.testing._private.utils", "runstring"),
        ("torch", "load"),
        ("torch", "save"),
        ("torch", "compile"),
        ("torch.storage", "_load_from_bytes"),
        ("joblib", "load"),
        ("joblib.numpy_pickle", "load"),
    }
)

# Exact (module, name) pairs that ML formats emit.
_NUMPY_SCALARS = frozenset(t.__name__ for t in set(np.sctypeDict.values()) if isinstance(t, type))
SAFE_NAMES = frozenset(
    {
        (m, n)
        for m in ("numpy.core.multiarray", "numpy._core.multiarray")
        for n in ("_reconstruct", "scalar")
    }
    | {("numpy", n) for n in ("ndarray", "dtype", "matrix", *_NUMPY_SCALARS)}
    | {(m, "_frombuffer") for m in ("numpy.core.numeric", "numpy._core.numeric")}
    | {("numpy.ma.core", "_mareconstruct"), ("numpy.ma.core", "MaskedArray")}
    | {
        ("numpy.random._pickle", n)
        for n in ("__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor")
    }
    | {
        (b, n)
        for b in ("builtins", "__builtin__")
        for n in (
            "set",
            "frozenset",
            "slice",
            "complex",
            "bytearray",
            "bytes",
            "list",
            "dict",
            "tuple",
            "int",
            "float",
            "bool",
            "str",
            "object",
            "range",
            "NoneType",
        )
    }
    | {("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor")}
    # dill's array wrapper calls a reconstructor that is itself a global in the same stream
    # (so it is classified on its own) and then sets the array state.
    | {("dill._dill", "_create_array")}
    | {("_codecs", "encode"), ("codecs", "encode")}
    | {("collections", n) for n in ("OrderedDict", "defaultdict", "Counter", "deque")}
    | {("datetime", n) for n in ("datetime", "date", "time", "timedelta", "timezone")}
    | {("decimal", "Decimal"), ("fractions", "Fraction")}
    | {
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("joblib.numpy_pickle_compat", "NDArrayWrapper"),
        ("joblib.numpy_pickle_compat", "ZNDArrayWrapper"),
    }
    | {
        ("torch._utils", n)
        for n in (
            "_rebuild_tensor",
            "_rebuild_tensor_v2",
            "_rebuild_tensor_v3",
            "_rebuild_parameter",
            "_rebuild_parameter_with_state",
            "_rebuild_qtensor",
            "_rebuild_sparse_tensor",
            "_rebuild_meta_tensor_no_storage",
            "_rebuild_wrapper_subclass",
        )
    }
    | {("torch._tensor", "_rebuild_from_type_v2"), ("torch", "Size"), ("torch", "device")}
    | {("torch", "Tensor"), ("torch.nn.parameter", "Parameter")}
    | {("torch.serialization", "_get_layout"), ("torch", "strided")}
    | {("torch.storage", n) for n in ("UntypedStorage", "TypedStorage", "_TypedStorage")}
)

# Torch storage classes and dtypes, e.g. torch.FloatStorage, torch.float32.
_TORCH_STORAGE_SUFFIX = "Storage"
_TORCH_DTYPES = frozenset(
    {
        "float16",
        "float32",
        "float64",
        "bfloat16",
        "half",
        "float",
        "double",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "bool",
        "complex64",
        "complex128",
        "long",
        "int",
        "short",
    }
)

# Library prefixes whose classes (CamelCase names) and Cython unpicklers are allowed.
SAFE_CLASS_PREFIXES = (
    "sklearn.",
    "xgboost.",
    "lightgbm.",
    "torch.nn.modules.",
    "numpy.random.",
)
_SPARSE_PREFIX = "scipy.sparse."
_TORCHSCRIPT_PREFIX = "__torch__."
_TORCHSCRIPT_SAFE_MODULES = frozenset({"torch.jit._pickle"})


_ALIASES = {"__builtin__": "builtins", "__builtins__": "builtins", "copy_reg": "copyreg"}


def _is_dunder(part: str) -> bool:
    return len(part) > 4 and part.startswith("__") and part.endswith("__")


def classify(module: str, name: str, *, torchscript: bool = False) -> tuple[Verdict, str]:
    """Classify one imported global; returns the verdict and a short reason."""
    if not module or not name:
        return Verdict.SUSPICIOUS, "empty module or name"
    module = _ALIASES.get(module, module)
    parts = name.split(".")
    if len(parts) > 1 and any(_is_dunder(p) for p in parts):
        return Verdict.UNSAFE, "attribute traversal through a dunder name"
    if torchscript and module in _TORCHSCRIPT_SAFE_MODULES:
        return Verdict.SAFE, "resolved by the TorchScript loader, not by Python"
    top = module.split(".")[0]
    dotted = {module.rsplit(".", i)[0] for i in range(module.count(".") + 1)}
    in_dangerous = bool(dotted & DANGEROUS_MODULES) or top in DANGEROUS_MODULES
    if in_dangerous and (module, name) not in SAFE_NAMES:
        return Verdict.UNSAFE, f"module {module} can run code or touch files/network"
    if (module, name) in DANGEROUS_NAMES or (module, parts[0]) in DANGEROUS_NAMES:
        return Verdict.UNSAFE, f"{module}.{name} can run code or touch files"
    if _dangerous_by_prefix(module, name):
        return Verdict.UNSAFE, f"{module}.{name} reads or writes files or evaluates strings"
    if "_ufunc_reconstruct" in name:
        return Verdict.SUSPICIOUS, "imports an arbitrary attribute by name"
    if (module, name) in SAFE_NAMES:
        return Verdict.SAFE, "allowlisted"
    if _allowed_by_pattern(module, name, torchscript=torchscript):
        return Verdict.SAFE, "allowlisted pattern"
    return Verdict.SUSPICIOUS, "not on the allowlist of ML serialization globals"


def _dangerous_by_prefix(module: str, name: str) -> bool:
    top = module.split(".")[0]
    for owner, prefixes in _DANGEROUS_PREFIXES:
        if (module == owner or (owner == "pandas" and top == "pandas")) and name.startswith(
            prefixes
        ):
            return True
    return False


def _allowed_by_pattern(module: str, name: str, *, torchscript: bool) -> bool:
    if module == "torch" and (name.endswith(_TORCH_STORAGE_SUFFIX) or name in _TORCH_DTYPES):
        return True
    if module.startswith(_SPARSE_PREFIX):
        return name.endswith(("_matrix", "_array"))
    if torchscript and module.startswith(_TORCHSCRIPT_PREFIX):
        return True
    if "." in name:
        return False
    if module.startswith(SAFE_CLASS_PREFIXES) or module in ("sklearn", "xgboost", "lightgbm"):
        return name[:1].isupper() or name.startswith("__pyx_unpickle_")
    return False
