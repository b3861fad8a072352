"""Symbolic pickle walker: follows the opcodes of a pickle stream without unpickling it.

It keeps an abstract stack and memo so that STACK_GLOBAL operands built from memoized strings
resolve to real names, and it understands joblib's extension of the format (raw numpy array
bytes written right after a NumpyArrayWrapper's BUILD), which a plain `pickletools.genops` walk
would misread as opcodes.
"""

from __future__ import annotations

import io
import math
import pickletools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_WRAPPERS = {("joblib.numpy_pickle", "NumpyArrayWrapper")}
# Calls whose bytes argument is itself a pickle, walked as a nested stream.
_NESTED_LOADERS = frozenset(
    (m, n)
    for m in ("pickle", "_pickle", "dill", "dill._dill", "cloudpickle", "joblib.numpy_pickle")
    for n in ("loads", "_loads", "load")
)
_ENCODERS = frozenset({("_codecs", "encode"), ("codecs", "encode")})


@dataclass(frozen=True)
class RawGlobal:
    """A global import found in a stream: where and through which opcode."""

    module: str
    name: str
    offset: int
    opcode: str


@dataclass(eq=False)
class _Global:
    module: str
    name: str


@dataclass(eq=False)
class _Call:
    func: object
    args: object
    state: object = None


class _Opaque:
    """A value the walker does not model (buffers, persistent ids, extension codes)."""


@dataclass
class WalkResult:
    """What one walk found: globals, issues, the opcode-only bytes and nested streams."""

    globals: list[RawGlobal] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    opcode_bytes: bytes = b""
    nested: list[tuple[int, WalkResult]] = field(default_factory=list)
    end: int = 0
    arrays_skipped: int = 0


_PUSH_ARG = frozenset(
    {
        "INT",
        "BININT",
        "BININT1",
        "BININT2",
        "LONG",
        "LONG1",
        "LONG4",
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
        "BINBYTES",
        "SHORT_BINBYTES",
        "BINBYTES8",
        "BYTEARRAY8",
        "UNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "BINUNICODE8",
        "FLOAT",
        "BINFLOAT",
    }
)
_CONSTANTS: dict[str, Callable[[], object]] = {
    "NONE": lambda: None,
    "NEWTRUE": lambda: True,
    "NEWFALSE": lambda: False,
    "EMPTY_LIST": list,
    "EMPTY_TUPLE": tuple,
    "EMPTY_DICT": dict,
    "EMPTY_SET": list,
    "NEXT_BUFFER": _Opaque,
}
_NOOPS = frozenset({"PROTO", "FRAME", "READONLY_BUFFER", "STOP"})


class PickleWalker:
    """Walk one pickle stream of `data` starting at `start`; call `walk()` to run it."""

    def __init__(self, data: bytes, start: int = 0) -> None:
        self.data = data
        self.start = start
        self._stack: list[Any] = []
        self._meta: list[list[Any]] = []
        self._memo: dict[int, Any] = {}
        self._result = WalkResult()
        self._kept: list[tuple[int, int]] = []
        self._segment = start

    # -- driver ---------------------------------------------------------------------------
    def walk(self) -> WalkResult:
        """Follow the opcodes up to STOP; malformed streams end with an issue, not an error."""
        stream = io.BytesIO(self.data)
        stream.seek(self.start)
        pos = self.start
        try:
            for op, arg, p in pickletools.genops(stream):
                pos = self.start if p is None else p
                skip_to = self._step(op.name, arg, pos)
                if skip_to is not None:
                    self._kept.append((self._segment, stream.tell()))
                    stream.seek(skip_to)
                    self._segment = skip_to
        except Exception as exc:  # genops raises ValueError/struct errors on garbage
            self._result.issues.append(f"malformed pickle stream at offset {pos}: {exc}")
        end = stream.tell()
        self._kept.append((self._segment, end))
        self._result.end = end
        self._result.opcode_bytes = b"".join(self.data[a:b] for a, b in self._kept)
        return self._result

    def _step(self, name: str, arg: Any, pos: int) -> int | None:
        if name in _PUSH_ARG:
            self._stack.append(arg)
        elif name in _CONSTANTS:
            self._stack.append(_CONSTANTS[name]())
        elif name in _NOOPS:
            pass
        elif name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            glob = self._record(module, attr, pos, name)
            if name == "INST":
                self._stack.append(_Call(glob, tuple(self._pop_mark())))
            else:
                self._stack.append(glob)
        elif name == "STACK_GLOBAL":
            self._stack_global(pos)
        elif name == "BUILD":
            return self._build(pos)
        else:
            self._structural(name, arg, pos)
        return None

    def _record(self, module: str, name: str, pos: int, opcode: str) -> _Global:
        self._result.globals.append(RawGlobal(module, name, pos, opcode))
        return _Global(module, name)

    # -- opcodes --------------------------------------------------------------------------
    def _pop(self) -> Any:
        return self._stack.pop() if self._stack else _Opaque()

    def _pop_mark(self) -> list[Any]:
        items = self._stack
        self._stack = self._meta.pop() if self._meta else []
        return items

    def _stack_global(self, pos: int) -> None:
        name, module = self._pop(), self._pop()
        if not isinstance(module, str) or not isinstance(name, str):
            self._result.issues.append(
                f"STACK_GLOBAL at offset {pos} has operands that are not strings"
            )
            module, name = "<unresolved>", "<unresolved>"
        self._stack.append(self._record(module, name, pos, "STACK_GLOBAL"))

    def _structural(self, name: str, arg: Any, pos: int) -> None:
        handler = _HANDLERS.get(name)
        if handler is None:
            self._result.issues.append(f"unhandled opcode {name} at offset {pos}")
            self._stack.append(_Opaque())
            return
        handler(self, arg, pos)

    def _mark(self, arg: Any, pos: int) -> None:
        self._meta.append(self._stack)
        self._stack = []

    def _memo_put(self, arg: Any, pos: int) -> None:
        if self._stack:
            self._memo[int(arg)] = self._stack[-1]

    def _memoize(self, arg: Any, pos: int) -> None:
        if self._stack:
            self._memo[len(self._memo)] = self._stack[-1]

    def _memo_get(self, arg: Any, pos: int) -> None:
        self._stack.append(self._memo.get(int(arg), _Opaque()))

    def _reduce(self, arg: Any, pos: int) -> None:
        args, func = self._pop(), self._pop()
        self._check_callable(func, pos)
        first = args[0] if isinstance(args, tuple) and args else None
        key = (func.module, func.name) if isinstance(func, _Global) else None
        if key in _ENCODERS and isinstance(first, str):
            self._stack.append(first.encode("latin-1", "replace"))  # protocol 2 bytes
            return
        if key in _NESTED_LOADERS and isinstance(first, (bytes, bytearray)):
            self._result.nested.append((pos, PickleWalker(bytes(first)).walk()))
        self._stack.append(_Call(func, args))

    def _newobj(self, arg: Any, pos: int) -> None:
        args, cls = self._pop(), self._pop()
        self._check_callable(cls, pos)
        self._stack.append(_Call(cls, args))

    def _newobj_ex(self, arg: Any, pos: int) -> None:
        _kwargs, args, cls = self._pop(), self._pop(), self._pop()
        self._check_callable(cls, pos)
        self._stack.append(_Call(cls, args))

    def _obj(self, arg: Any, pos: int) -> None:
        items = self._pop_mark()
        cls = items[0] if items else _Opaque()
        self._check_callable(cls, pos)
        self._stack.append(_Call(cls, tuple(items[1:])))

    def _check_callable(self, func: object, pos: int) -> None:
        if not isinstance(func, _Global):
            kind = "the result of another call" if isinstance(func, _Call) else "a non-global"
            self._result.issues.append(f"call at offset {pos} invokes {kind}")

    def _persid(self, arg: Any, pos: int) -> None:
        self._stack.append(_Opaque())

    def _binpersid(self, arg: Any, pos: int) -> None:
        self._pop()
        self._stack.append(_Opaque())

    def _ext(self, arg: Any, pos: int) -> None:
        self._result.issues.append(f"extension-registry code {arg} at offset {pos}")
        self._stack.append(_Opaque())

    def _container(self, name: str) -> None:
        if name in ("APPEND", "SETITEM"):
            count = 1 if name == "APPEND" else 2
            items = [self._pop() for _ in range(count)][::-1]
        else:
            items = self._pop_mark()
        target = self._stack[-1] if self._stack else None
        if isinstance(target, list):
            target.extend(items)
        elif isinstance(target, dict) and name in ("SETITEM", "SETITEMS"):
            for key, value in zip(items[::2], items[1::2], strict=False):
                if _hashable(key):
                    target[key] = value

    def _tuple(self, name: str) -> None:
        sizes = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
        if name in sizes:
            items = [self._pop() for _ in range(sizes[name])][::-1]
        else:
            items = self._pop_mark()
        if name == "LIST":
            self._stack.append(list(items))
        elif name == "DICT":
            self._stack.append(
                {k: v for k, v in zip(items[::2], items[1::2], strict=False) if _hashable(k)}
            )
        elif name == "FROZENSET":
            self._stack.append(list(items))
        else:
            self._stack.append(tuple(items))

    # -- BUILD and joblib arrays ----------------------------------------------------------
    def _build(self, pos: int) -> int | None:
        state = self._pop()
        target = self._stack[-1] if self._stack else _Opaque()
        if isinstance(target, _Global):
            self._result.issues.append(
                f"BUILD at offset {pos} modifies the global {target.module}.{target.name}"
            )
        if not isinstance(target, _Call):
            return None
        target.state = state
        func = target.func
        if isinstance(func, _Global) and (func.module, func.name) in _WRAPPERS:
            return self._skip_array(state, pos)
        return None

    def _skip_array(self, state: object, pos: int) -> int | None:
        layout = _array_layout(state)
        after = pos + 1
        if layout is None:
            self._result.issues.append(
                f"joblib array wrapper at offset {pos} has a layout the scan cannot follow"
            )
            return None
        nbytes, has_object, aligned = layout
        if has_object:
            nested = PickleWalker(self.data, after).walk()
            self._result.nested.append((after, nested))
            return nested.end
        if aligned:
            if after >= len(self.data):
                self._result.issues.append(f"truncated joblib array data at offset {after}")
                return None
            after += 1 + self.data[after]
        if after + nbytes > len(self.data):
            self._result.issues.append(f"truncated joblib array data at offset {after}")
            return len(self.data)
        self._result.arrays_skipped += 1
        return after + nbytes


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _array_layout(state: object) -> tuple[int, bool, bool] | None:
    """(byte count, has Python objects, has alignment padding) of a NumpyArrayWrapper state."""
    if not isinstance(state, dict):
        return None
    shape, dtype = state.get("shape"), state.get("dtype")
    if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
        return None
    itemsize, has_object = _dtype_size(dtype)
    if itemsize is None:
        return None
    aligned = state.get("numpy_array_alignment_bytes") is not None
    return math.prod(shape) * itemsize, has_object, aligned


def _dtype_size(dtype: object) -> tuple[int | None, bool]:
    """Item size of an abstract numpy.dtype(...) call; object dtypes report (0, True)."""
    if not isinstance(dtype, _Call) or not isinstance(dtype.args, tuple) or not dtype.args:
        return None, False
    typestr = dtype.args[0]
    if not isinstance(typestr, str) or not typestr:
        return None, False
    if typestr[0] == "O":
        return 0, True
    state = dtype.state
    if isinstance(state, tuple) and len(state) >= 6:
        fields, elsize = state[4], state[5]
        if fields is not None:
            return _structured_size(fields, elsize)
        if isinstance(elsize, int) and elsize > 0:
            return elsize, False
    try:
        return np.dtype(typestr).itemsize, False
    except TypeError:
        return None, False


def _structured_size(fields: object, elsize: object) -> tuple[int | None, bool]:
    """Item size of a structured dtype; (0, True) when any field holds Python objects."""
    if not isinstance(fields, dict) or not isinstance(elsize, int) or elsize <= 0:
        return None, False
    for spec in fields.values():
        if not isinstance(spec, tuple) or not spec:
            return None, False
        size, has_object = _dtype_size(spec[0])
        if size is None:
            return None, False
        if has_object:
            return 0, True
    return elsize, False


def _bind(name: str) -> Callable[[PickleWalker, Any, int], None]:
    def handler(walker: PickleWalker, arg: Any, pos: int) -> None:
        if name in ("APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"):
            walker._container(name)
        else:
            walker._tuple(name)

    return handler


def _pop_op(walker: PickleWalker, arg: Any, pos: int) -> None:
    walker._pop()


def _pop_mark_op(walker: PickleWalker, arg: Any, pos: int) -> None:
    walker._pop_mark()


def _dup(walker: PickleWalker, arg: Any, pos: int) -> None:
    walker._stack.append(walker._stack[-1] if walker._stack else _Opaque())


_HANDLERS: dict[str, Callable[[PickleWalker, Any, int], None]] = {
    "MARK": PickleWalker._mark,
    "PUT": PickleWalker._memo_put,
    "BINPUT": PickleWalker._memo_put,
    "LONG_BINPUT": PickleWalker._memo_put,
    "MEMOIZE": PickleWalker._memoize,
    "GET": PickleWalker._memo_get,
    "BINGET": PickleWalker._memo_get,
    "LONG_BINGET": PickleWalker._memo_get,
    "REDUCE": PickleWalker._reduce,
    "NEWOBJ": PickleWalker._newobj,
    "NEWOBJ_EX": PickleWalker._newobj_ex,
    "OBJ": PickleWalker._obj,
    "PERSID": PickleWalker._persid,
    "BINPERSID": PickleWalker._binpersid,
    "EXT1": PickleWalker._ext,
    "EXT2": PickleWalker._ext,
    "EXT4": PickleWalker._ext,
    "POP": _pop_op,
    "POP_MARK": _pop_mark_op,
    "DUP": _dup,
    **{
        n: _bind(n)
        for n in (
            "APPEND",
            "APPENDS",
            "SETITEM",
            "SETITEMS",
            "ADDITEMS",
            "LIST",
            "DICT",
            "TUPLE",
            "TUPLE1",
            "TUPLE2",
            "TUPLE3",
            "FROZENSET",
        )
    },
}
