"""Somerset safeguarding procedures knowledge base and guided-decision assistant.

Importing the package fixes the process-wide defaults that keep it offline and quiet:
no Haystack telemetry, no model hub look-ups, and one BLAS thread so that NumPy does not
fight torch for the machine's cores. Each is only a default: an explicit environment
variable wins. It also caps glibc's memory arenas at two (`MALLOC_ARENA_MAX`, unless set).
"""

import ctypes
import os
import sys

_OFFLINE_DEFAULTS = {
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}

for _name, _value in _OFFLINE_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def _fewer_malloc_arenas() -> None:
    """glibc gives threads that allocate at once arenas of their own, up to eight per core, and
    keeps what they held: with eight sessions answering on threads while an editor re-indexes,
    that was 130 MB of the app's peak (`kb bench --load`: 1,159 MB, 1,027 MB with two arenas, no
    slower). The environment variable is read only when a process starts, so it is set here for
    the arenas not yet made; an explicit MALLOC_ARENA_MAX wins."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to cap
        pass


_fewer_malloc_arenas()

__version__ = "0.1.0"
