"""Run the wake word libraries' TFLite interpreters with our thread count (and XNNPACK).

pyopen-wakeword and pymicro-wakeword call the TFLite C API through ctypes and create every
interpreter with ``TfLiteInterpreterCreate(model, NULL)``: default options, which start a thread pool
as large as the machine at the first ``Invoke``. For 80 ms inferences that pool costs more than it
saves (openWakeWord used about 4x the CPU of one thread with the XNNPACK delegate, same scores).
Neither library has an option for this, so :func:`interpreter_options` steps in while the library
objects are built:

* each library object loads the C library in ``TfLiteWakeWord.__init__`` and keeps the handle as
  ``self.lib``; while the context is open we wrap that ``__init__`` so ``self.lib`` becomes a
  :class:`_OptionsLib`, which forwards everything to the real handle except
  ``TfLiteInterpreterCreate``, where it passes our options instead of ``NULL``. The wrapper stays
  on the object, so interpreters re-created later (microWakeWord's ``reset`` reloads its model)
  get the same options;
* the options carry ``threads`` and, when asked and available, an XNNPACK delegate with its default
  options, which have no thread pool. That is deliberate: with a 2-thread XNNPACK pool the
  openWakeWord models took ~6x the wall time of one thread on a 2-core machine (its workers spin).
  So with XNNPACK the graph runs on the calling thread and ``threads`` only reaches ops XNNPACK does
  not take. If the delegate cannot be applied, the interpreter is created again without it and a
  warning is logged.

This depends on private details of those libraries, so it is guarded: the installed version must
be one we checked (pyopen-wakeword is pinned in pyproject.toml), and when the context closes every
object built inside must have created its interpreters through us. Anything else raises
:class:`TfLiteOptionsError` instead of silently running with the default thread pool.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

_LOGGER = logging.getLogger(__name__)

SUPPORTED_VERSIONS: dict[str, tuple[str, ...]] = {
    "pyopen-wakeword": ("1.1.0",),
    "pymicro-wakeword": ("2.5.",),
}
"""Library versions whose internals this module was checked against: exact versions, or a prefix
ending in a dot for a patch series (pyproject pins pyopen-wakeword exactly)."""

_BASE_CLASSES = {
    "pyopen-wakeword": ("pyopen_wakeword.wakeword", "TfLiteWakeWord"),
    "pymicro-wakeword": ("pymicro_wakeword.wakeword", "TfLiteWakeWord"),
}


class TfLiteOptionsError(RuntimeError):
    """The wake word library is not the version (or shape) this module knows how to configure."""


@dataclass(frozen=True)
class InterpreterOptions:
    threads: int = 1
    """TFLite kernel threads (``TfLiteInterpreterOptionsSetNumThreads``)."""
    xnnpack: bool = False
    """Add the XNNPACK delegate (float models; it changes int8 microWakeWord scores, so not there)."""

    def __post_init__(self) -> None:
        if not 1 <= self.threads <= 64:
            raise ValueError(f"threads must be 1-64, not {self.threads}")


class _OptionsLib:
    """Stands in for a library object's ctypes handle; creates interpreters with our options."""

    def __init__(self, lib: ctypes.CDLL, options: InterpreterOptions) -> None:
        self._lib = lib
        self.interpreters_created = 0
        self.xnnpack_active = False
        self._delegate: int | None = None

        lib.TfLiteInterpreterOptionsCreate.argtypes = []
        lib.TfLiteInterpreterOptionsCreate.restype = ctypes.c_void_p
        lib.TfLiteInterpreterOptionsSetNumThreads.argtypes = [ctypes.c_void_p, ctypes.c_int32]
        lib.TfLiteInterpreterOptionsSetNumThreads.restype = None
        lib.TfLiteInterpreterOptionsAddDelegate.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.TfLiteInterpreterOptionsAddDelegate.restype = None
        lib.TfLiteInterpreterOptionsDelete.argtypes = [ctypes.c_void_p]
        lib.TfLiteInterpreterOptionsDelete.restype = None

        self._plain = self._new_options(options.threads)
        self._options = self._plain
        if options.xnnpack:
            self._delegated = self._with_xnnpack(options.threads)
            if self._delegated is not None:
                self._options = self._delegated
                self.xnnpack_active = True

    def _new_options(self, threads: int) -> int:
        handle: int | None = self._lib.TfLiteInterpreterOptionsCreate()
        if not handle:
            raise TfLiteOptionsError("TfLiteInterpreterOptionsCreate returned NULL")
        self._lib.TfLiteInterpreterOptionsSetNumThreads(handle, threads)
        return handle

    def _with_xnnpack(self, threads: int) -> int | None:
        lib = self._lib
        if not hasattr(lib, "TfLiteXNNPackDelegateCreate"):
            _LOGGER.warning("this TFLite build has no XNNPACK delegate; running without it")
            return None
        lib.TfLiteXNNPackDelegateCreate.argtypes = [ctypes.c_void_p]
        lib.TfLiteXNNPackDelegateCreate.restype = ctypes.c_void_p
        lib.TfLiteXNNPackDelegateDelete.argtypes = [ctypes.c_void_p]
        lib.TfLiteXNNPackDelegateDelete.restype = None
        # NULL = the delegate's default options (no thread pool); their struct layout is version-specific
        delegate: int | None = lib.TfLiteXNNPackDelegateCreate(None)
        if not delegate:
            _LOGGER.warning("could not create the XNNPACK delegate; running without it")
            return None
        self._delegate = delegate
        options = self._new_options(threads)
        lib.TfLiteInterpreterOptionsAddDelegate(options, delegate)
        return options

    def __getattr__(self, name: str) -> Any:
        lib = self.__dict__.get("_lib")
        if lib is None:
            raise AttributeError(name)
        value = getattr(lib, name)
        self.__dict__[name] = value  # the library looks these up in its inner loop: cache them
        return value

    def TfLiteInterpreterCreate(self, model: int | None, options: object) -> int | None:  # the C function's name
        if options is not None:
            raise TfLiteOptionsError("the wake word library now passes its own interpreter options; "
                                     "speaker/wake/tflite_threads.py needs updating")
        interpreter: int | None = self._lib.TfLiteInterpreterCreate(model, self._options)
        if not interpreter and self._options != self._plain:
            _LOGGER.warning("TFLite could not apply the XNNPACK delegate; running without it")
            self._options = self._plain
            self.xnnpack_active = False
            interpreter = self._lib.TfLiteInterpreterCreate(model, self._plain)
        if interpreter:
            self.interpreters_created += 1
        return interpreter

    def release(self) -> None:
        """Free the options and the delegate. Only after every interpreter made with them is deleted."""
        lib = self.__dict__.get("_lib")
        if lib is None:
            return
        for name in ("_plain", "_delegated"):
            handle = self.__dict__.pop(name, None)
            if handle:
                lib.TfLiteInterpreterOptionsDelete(handle)
        delegate = self.__dict__.pop("_delegate", None)
        if delegate:
            lib.TfLiteXNNPackDelegateDelete(delegate)
        del self.__dict__["_lib"]

    def __del__(self) -> None:
        # The owning library object deletes its interpreters in its own __del__/close, which runs
        # before its attributes (this object among them) are released.
        with contextlib.suppress(Exception):  # at interpreter shutdown ctypes may already be gone
            self.release()


def check_version(distribution: str) -> str:
    """Return the installed version of ``distribution``, or raise if it is not one we checked."""
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        raise TfLiteOptionsError(f"{distribution} is not installed") from None
    supported = SUPPORTED_VERSIONS[distribution]
    if not any(version == v or (v.endswith(".") and version.startswith(v)) for v in supported):
        raise TfLiteOptionsError(
            f"speaker/wake/tflite_threads.py was written against {distribution} "
            f"{' / '.join(v + 'x' if v.endswith('.') else v for v in supported)}, but {version} is installed. "
            "It patches private internals of that library; check them and add the version to "
            "SUPPORTED_VERSIONS, or install a supported version."
        )
    return version


@contextlib.contextmanager
def interpreter_options(distribution: str, options: InterpreterOptions) -> Iterator[list[_OptionsLib]]:
    """Inside this context, wake word objects of ``distribution`` ("pyopen-wakeword" or
    "pymicro-wakeword") create their TFLite interpreters with ``options``.

    Yields the list of installed handles (one per library object built), for inspection. On a clean
    exit, raises :class:`TfLiteOptionsError` if nothing was built through the patched constructor or
    an object built no interpreter through it. Not thread-safe: build engines from one thread.
    """
    check_version(distribution)
    module_name, class_name = _BASE_CLASSES[distribution]
    module = importlib.import_module(module_name)
    base: Any = getattr(module, class_name, None)
    original = base.__dict__.get("__init__") if isinstance(base, type) else None
    if original is None:
        raise TfLiteOptionsError(f"{module_name}.{class_name} is missing; tflite_threads.py needs updating")

    installed: list[_OptionsLib] = []

    def patched_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        lib = getattr(self, "lib", None)
        if not isinstance(lib, ctypes.CDLL):
            raise TfLiteOptionsError(f"{class_name}.__init__ no longer sets self.lib to the TFLite C library; "
                                     "speaker/wake/tflite_threads.py needs updating")
        self.lib = _OptionsLib(lib, options)
        installed.append(self.lib)

    base.__init__ = patched_init
    try:
        yield installed
    finally:
        base.__init__ = original
    if not installed or any(h.interpreters_created == 0 for h in installed):
        raise TfLiteOptionsError(f"{distribution} did not create its interpreters through "
                                 f"{class_name}.lib; speaker/wake/tflite_threads.py needs updating")
