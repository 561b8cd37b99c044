"""Somerset safeguarding procedures knowledge base and guided-decision assistant.

Importing the package fixes the process-wide defaults that keep it offline and quiet:
no Haystack telemetry, no model hub look-ups, and one BLAS thread so that NumPy does not
fight torch for the machine's cores. Each is only a default: an explicit environment
variable wins.
"""

import os

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

__version__ = "0.1.0"
