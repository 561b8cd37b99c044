"""Hostile uploads against the editor, done for real: each attack goes through what the Editor page
does (convert the upload, fill in source_url as the editor would, save), the whole temporary tree is
snapshotted around it, and the test fails if anything outside the one intended corpus file changed,
if the app would crash instead of explaining, or if saved text could run in a browser."""

from __future__ import annotations

import hashlib
import io
import os
import re
import resource
import shutil
import stat
import struct
import sys
import tracemalloc
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pdf_files import pdf_file

from kb import editor
from kb.audit import AuditLog
from kb.config import PROJECT_ROOT, Settings
from kb.errors import KBError

FIXTURES = Path(__file__).parent / "fixtures" / "editor"
MB = 1024 * 1024
CORPUS_DOCS = ["README.md", "contacts.yaml", "head-lice.md", "responding-to-a-disclosure.md"]

VALID = (Path(__file__).parent / "fixtures" / "editor" / "kite-safety.md").read_text(encoding="utf-8")  # a small valid document


# the playing field: a real corpus nested inside the snapshotted tree, so "../.." lands where we look


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path


@pytest.fixture
def settings(root) -> Settings:
    corpus = root / "srv" / "kb" / "corpus"
    corpus.mkdir(parents=True)
    for name in CORPUS_DOCS:
        shutil.copy(PROJECT_ROOT / "corpus" / name, corpus / name)
    (root / "srv" / "outside").mkdir()
    (root / "srv" / "outside" / "secret.md").write_text("the server's own file: must never change\n")
    return Settings.from_env(environ={}, corpus_dir=corpus, data_dir=root / "srv" / "data")


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file, folder and link under root: kind, size, mtime, mode, link target, content hash."""
    entries: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            link = os.readlink(path) if path.is_symlink() else None
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else None
            entries[path.relative_to(root).as_posix()] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns, info.st_mode, link, digest)
    return entries


def changed(before: dict, after: dict) -> set[str]:
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


@dataclass
class Outcome:
    error: KBError | None
    saved: editor.SavedDocument | None
    changed: set[str]


def upload_as_editor(settings: Settings, filename: str, data: bytes) -> editor.SavedDocument:
    """What the Editor page does with an upload: convert it, the editor fills in source_url, save."""
    preview = editor.prepare_upload(settings, filename, data)
    return editor.write_document(settings, preview.name, preview.markdown.replace(editor.SOURCE_URL_PLACEHOLDER, "https://example.org/page"), action="uploaded")


def attack(settings: Settings, filename: str, data: bytes) -> Outcome:
    """Upload and save, with the whole temporary tree snapshotted around it. Anything but a KBError
    (which the page shows as a message) propagates and fails the test: the page would crash."""
    root = Path(settings.corpus_dir).parents[2]
    before = snapshot(root)
    try:
        saved = upload_as_editor(settings, filename, data)
    except KBError as exc:
        return Outcome(exc, None, changed(before, snapshot(root)))
    return Outcome(None, saved, changed(before, snapshot(root)))


@contextmanager
def nothing_changes(settings: Settings):
    """For attacks made by calling the editor directly (the text area, read and delete): the whole
    temporary tree must be exactly as it was afterwards."""
    root = Path(settings.corpus_dir).parents[2]
    before = snapshot(root)
    yield
    assert changed(before, snapshot(root)) == set()


def corpus_entry(settings: Settings, name: str) -> str:
    return (Path(settings.corpus_dir) / name).relative_to(Path(settings.corpus_dir).parents[2]).as_posix().removesuffix("/.")


def assert_refused(outcome: Outcome, *words: str) -> str:
    assert outcome.error is not None, f"accepted and saved as {outcome.saved}"
    assert outcome.changed == set(), f"a refused upload changed {sorted(outcome.changed)}"
    message = str(outcome.error)
    for word in words:
        assert word in message, f"{word!r} not in the message: {message}"
    return message


def assert_saved_only(settings: Settings, outcome: Outcome) -> Path:
    assert outcome.error is None, f"refused: {outcome.error}"
    path = outcome.saved.path
    assert path.parent == Path(settings.corpus_dir).resolve() and not path.is_symlink() and path.is_file()
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}\.md", path.name)
    corpus = corpus_entry(settings, ".")  # the folder's own time changes when a file is added to it
    root = Path(settings.corpus_dir).parents[2]
    history = (Path(settings.data_dir) / "document-history").relative_to(root).as_posix()
    kept = {c for c in outcome.changed if c.startswith(history)}
    assert kept <= {history, f"{history}/.lock", f"{history}/{path.name}", *(f"{history}/{path.name}/{f}" for f in ("log.jsonl", "v000001.md", "v000002.md"))}, (
        f"the history kept more than {path.name}'s versions: {sorted(kept)}"
    )
    audit = AuditLog(settings.data_dir)
    audited = {audit.path.relative_to(root).as_posix(), audit.path.parent.relative_to(root).as_posix()}
    assert [(e.action.value, e.document) for e in audit.read(1)] == [("uploaded", path.name)], "the upload is in the audit log"
    parents = {p.as_posix() for p in Path(history).parents if p.as_posix() != "."}
    assert outcome.changed - {corpus} - kept - audited - parents == {corpus_entry(settings, path.name)}, f"changed more than {path.name}: {sorted(outcome.changed)}"
    return path


# Work is bounded by what is done (nothing parsed, no part unpacked, pages after the limit never
# read) and by memory, never by the clock: a busy two-core machine runs these several times slower
# than a quiet one. How long the worst of them take is a figure of `kb bench` (uploads and documents
# at the limits).


@contextmanager
def memory_bounded(megabytes: int):
    """The block must allocate at most `megabytes` at its peak (Python allocations, zlib's output
    included), and the process's peak memory must not grow by more."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        yield
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024  # ru_maxrss is in KB on Linux
    assert peak < megabytes * MB, f"Python memory peaked at {peak / MB:.0f} MB; allowed {megabytes} MB"
    assert rss_growth < megabytes * MB, f"the process grew by {rss_growth / MB:.0f} MB; allowed {megabytes} MB"


# what a browser could run: rendered by a permissive Markdown renderer (raw HTML on, every link kept)


ACTIVE_TAGS = {"script", "iframe", "frame", "object", "embed", "applet", "style", "link", "meta", "base", "form", "svg", "math", "img", "video", "audio", "source"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster", "background", "srcdoc"}


class _ActiveContent(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ACTIVE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            if name in URL_ATTRIBUTES and re.match(r"^\s*(javascript|vbscript|data|file):", re.sub(r"[\x00-\x20]", "", value or ""), re.IGNORECASE):
                self.found.append(f"{name}={value!r} on <{tag}>")


@lru_cache(maxsize=1)
def permissive_renderer() -> MarkdownIt:
    renderer = MarkdownIt("commonmark", {"html": True}).enable("table")
    renderer.validateLink = lambda url: True
    return renderer


def active_content_in_html(html_text: str) -> list[str]:
    finder = _ActiveContent()
    finder.feed(html_text)
    finder.close()
    return finder.found


def active_content(markdown: str) -> list[str]:
    """What a browser could run if this Markdown were rendered with raw HTML allowed."""
    body = re.sub(r"\A---\n.*?\n---\n", "", markdown, flags=re.DOTALL)  # front matter is data, checked on its own
    return active_content_in_html(permissive_renderer().render(body))


def test_the_active_content_finder_finds_what_it_must():
    found = active_content("<script>x</script>\n\n<img src=x onerror=y>\n\n[a](javascript:x) ![b](data:image/png;base64,AA)\n")
    assert found == ["<script>", "<img>", "onerror= on <img>", "href='javascript:x' on <a>", "<img>", "src='data:image/png;base64,AA' on <img>"]
    assert active_content("`<script>` and\n\n```\n<script>\n```\n") == []


# file names


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/x.md",
        "../../../../../../../../tmp/x.md",
        "..\\..\\x.md",
        "C:\\Windows\\System32\\x.md",
        "corpus/../../x.md",
        "x.md\x00.exe",
        "x\x00.md",
        "line\nbreak.md",
        ".",
        "..",
        "...",
        ".md",
        "....md",
        ".hidden.md",
        ".htaccess.md",
        "a" * 300 + ".md",
        "harmless\u202egnp.md",
        "report\u202efdp.exe",
        "CON.md",
        "nul.html",
        "Aux.md",
        "COM1.md",
        "LPT9.md",
        "COM\u00b9.md",
        "readme.md",
    ],
)
def test_hostile_file_names_are_refused_and_nothing_is_written(settings, filename):
    message = assert_refused(attack(settings, filename, VALID.encode()))
    assert repr(filename)[:20] in message, f"the message does not name the file: {message}"
    assert re.search(r"e\.g\.|rename|upload|plain file name", message), f"the message does not say what would be right: {message}"


def test_an_absolute_path_is_refused(settings, root):
    target = root / "srv" / "outside" / "absolute.md"
    assert_refused(attack(settings, str(target), VALID.encode()), "without folders")
    assert not target.exists()


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("\uff3f\uff0e\uff0e\uff0f\uff3f\uff0e\uff0e\uff0fetc\uff0fkites.md", "etc-kites.md"),  # full-width '../' look-alikes
        ("p\u0430yp\u0430l kites.md", "pypl-kites.md"),  # Cyrillic 'а' look-alikes are dropped, not kept
        ("Kites\u200b\u200d.md", "kites.md"),  # zero-width characters
        ("a" * 200 + ".md", "a" * 80 + ".md"),  # long but possible: cut to 80 characters
        ("  Kite Safety (v2) .md", "kite-safety-v2.md"),
    ],
)
def test_odd_but_harmless_names_become_safe_names_inside_the_corpus(settings, filename, name):
    text = VALID.replace("id: kite-safety", f"id: {name[:-3]}")
    outcome = attack(settings, filename, text.encode())
    assert assert_saved_only(settings, outcome).name == name


def test_uploading_over_a_symlink_to_outside_never_writes_through_it(settings, root):
    outside = root / "srv" / "outside" / "secret.md"
    link = Path(settings.corpus_dir) / "linked.md"
    link.symlink_to(outside)
    assert_refused(attack(settings, "linked.md", VALID.replace("kite-safety", "linked").encode()), "symbolic link", "outside the corpus")
    assert outside.read_text() == "the server's own file: must never change\n"
    assert os.readlink(link) == str(outside)
    for operation in (editor.read_document, editor.delete_document):
        with nothing_changes(settings), pytest.raises(editor.EditorError, match="symbolic link"):
            operation(settings, "linked.md")
    assert link.is_symlink() and outside.exists()


def test_a_dangling_symlink_is_not_followed_to_create_a_file_outside(settings, root):
    target = root / "srv" / "outside" / "created-by-upload.md"
    (Path(settings.corpus_dir) / "ghost.md").symlink_to(target)
    assert_refused(attack(settings, "ghost.md", VALID.replace("kite-safety", "ghost").encode()), "symbolic link")
    assert not target.exists()


def test_a_symlink_to_contacts_cannot_be_used_to_overwrite_or_delete_the_contacts(settings):
    corpus = Path(settings.corpus_dir)
    contacts = (corpus / "contacts.yaml").read_bytes()
    (corpus / "alias.md").symlink_to(corpus / "contacts.yaml")
    assert_refused(attack(settings, "alias.md", VALID.replace("kite-safety", "alias").encode()), "symbolic link")
    with nothing_changes(settings), pytest.raises(editor.EditorError, match="symbolic link"):
        editor.delete_document(settings, "alias.md")
    assert (corpus / "contacts.yaml").read_bytes() == contacts


def test_a_folder_with_the_documents_name_is_left_alone(settings):
    (Path(settings.corpus_dir) / "kite-safety.md").mkdir()
    assert_refused(attack(settings, "kite-safety.md", VALID.encode()), "is a folder")


# types


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def zip_of(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "data", "what"),
    [
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00", "not accepted"),
        ("procedure.md.exe", VALID.encode(), "not accepted"),
        ("procedure.md.", VALID.encode(), "not accepted"),
        ("procedure", VALID.encode(), "not accepted"),
        ("report.docx", b"This is not a zip at all.", "not a Word document"),
        ("report.docx", zip_of({"hello.txt": b"hi"}), "not a Word document"),
        ("report.pdf", b"<!DOCTYPE html><html><body><p>A web page</p></body></html>", "not a PDF"),
        ("notes.md", PNG, "binary"),
        ("notes.md", b"# Title\n\n" + b"a" * 9000 + b"\x00\x01\x02\x03", "binary"),
        ("notes.md", b"# Title\n\nAn escape \x1b[31m sequence.\n", "control character"),
        ("notes.md", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "PDF"),
        ("notes.md", zip_of({"word/document.xml": b"<x/>"}), "Word or zip"),
        ("page.html", b"\x7fELF\x02\x01\x01\x00\x00\x00<p>elf</p>", "binary"),
        ("notes.md", "# Kites\n\nFly them.\n".encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
    ],
)
def test_wrong_types_are_refused_naming_the_file_and_what_would_be_accepted(settings, filename, data, what):
    message = assert_refused(attack(settings, filename, data), what, repr(filename))
    assert re.search(r"upload|save it|open it", message), f"the message does not say what to do: {message}"


def test_refused_types_list_what_is_accepted(settings):
    message = assert_refused(attack(settings, "setup.exe", b"MZ"))
    assert editor.ACCEPTED in message


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_markdown_in_utf16_or_utf32_with_a_byte_order_mark_is_saved_as_utf8(settings, codec):
    bom = {"utf-16": b"", "utf-16-be": b"\xfe\xff", "utf-32": b""}[codec]
    text = VALID.replace("kite line", "kite line – ça va")
    preview = editor.prepare_upload(settings, "kites.md", bom + text.encode(codec))
    assert preview.markdown == text and any("UTF-8" in note for note in preview.notes)
    outcome = attack(settings, "kites.md", bom + text.encode(codec))
    assert assert_saved_only(settings, outcome).read_bytes() == text.encode("utf-8")


def test_html_in_utf16_is_converted(settings):
    page = "<html><body><h1>Kites</h1><p>Fly them safely – always.</p></body></html>"
    preview = editor.prepare_upload(settings, "kites.html", page.encode("utf-16"))
    assert preview.markdown.endswith("# Kites\n\nFly them safely – always.\n")


def test_html_declaring_an_unusual_character_set_is_refused_by_its_name_before_decoding(settings, spy):
    import encodings.punycode

    decoded = spy(encodings.punycode, "punycode_decode")  # quadratic in its input: never run on an upload
    page = b'<html><head><meta charset="punycode"></head><body><p>' + bytes(range(128, 256)) * 8000 + b"</p></body></html>"
    with memory_bounded(megabytes=64):
        message = assert_refused(attack(settings, "page.html", page), "'punycode'", "save it as UTF-8")
    assert "'page.html'" in message
    assert decoded == [], "the page was decoded as punycode before it was refused"


# size


def prose(size: int) -> bytes:
    line = b"A child who is left alone must know how to reach a trusted adult at any time of day.\n"
    body = (line * (size // len(line) + 1))[: size - 1] + b"\n"
    return body


def test_one_byte_over_the_limit_is_refused_with_both_sizes(settings):
    data = VALID.encode() + prose(editor.MAX_UPLOAD_BYTES + 1 - len(VALID))
    assert len(data) == editor.MAX_UPLOAD_BYTES + 1
    assert_refused(attack(settings, "kites.md", data), "'kites.md'", "2,097,153 bytes", "the limit is 2 MB (2,097,152 bytes)")


def test_a_web_page_exactly_at_the_limit_is_accepted_and_saved(settings):
    page = b"<html><head><title>Kites</title><style>" + b"/* the site's style sheet */\n"
    text = b"</style></head><body><h1>Kite safety</h1>" + b"<p>The session leader checks every kite line.</p>" * 100 + b"</body></html>"
    page += b" " * (editor.MAX_UPLOAD_BYTES - len(page) - len(text)) + text
    assert len(page) == editor.MAX_UPLOAD_BYTES
    with memory_bounded(megabytes=200):
        outcome = attack(settings, "kites.html", page)
    assert "The session leader checks every kite line." in assert_saved_only(settings, outcome).read_text()


def test_markdown_exactly_at_the_upload_limit_is_refused_by_the_smaller_document_limit(settings, spy):
    parsed = spy(MarkdownIt, "parse")
    data = VALID.encode() + prose(editor.MAX_UPLOAD_BYTES - len(VALID))
    assert len(data) == editor.MAX_UPLOAD_BYTES
    with memory_bounded(megabytes=100):
        assert_refused(attack(settings, "kites.md", data), "kites.md", "2,048 KB", "the limit is 512 KB", "split it")
    assert parsed == [], "refused before any Markdown is parsed"


@pytest.mark.parametrize(
    ("unit", "what"),
    [(b"![", "markup characters"), (b"*_", "markup characters"), (b"[", "markup characters"), (b"a\n\n", "lines"), (b"# h\n", "lines"), (b"1. a\n", "lines")],
)
def test_markdown_that_would_take_the_parser_many_seconds_is_refused_before_it_is_parsed(settings, spy, unit, what):
    parsed = spy(MarkdownIt, "parse")
    data = VALID.encode() + unit * ((500 * 1024 - len(VALID)) // len(unit))  # under the 512 KB document limit
    with memory_bounded(megabytes=64):
        assert_refused(attack(settings, "kites.md", data), what, "the limit is")
    assert parsed == [], "the parser ran on the text before it was refused"


def test_an_editor_cannot_save_such_text_from_the_text_area_either(settings, spy):
    parsed = spy(MarkdownIt, "parse")
    with memory_bounded(megabytes=64), nothing_changes(settings):
        with pytest.raises(KBError, match="markup characters"):
            editor.write_document(settings, "kite-safety.md", VALID + "![" * 200_000)
    assert parsed == [], "the parser ran on the text before it was refused"


# Word zip bombs: built here, never committed


@dataclass
class Part:
    name: str
    packed: bytes  # the bytes stored in the zip
    method: int = zipfile.ZIP_DEFLATED
    crc: int = 0
    declared_packed: int | None = None  # what the zip's headers claim: the truth unless set
    declared_size: int = 0


def raw_zip(parts: list[Part]) -> bytes:
    """A zip written byte by byte, so its headers can say anything."""
    out = io.BytesIO()
    directory = []
    for part in parts:
        offset = out.tell()
        name = part.name.encode()
        packed_size = len(part.packed) if part.declared_packed is None else part.declared_packed
        sizes = (part.crc, packed_size, part.declared_size)
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, part.method, 0, 0, *sizes, len(name), 0) + name + part.packed)
        directory.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, part.method, 0, 0, *sizes, len(name), 0, 0, 0, 0, 0, offset) + name)
    start = out.tell()
    listing = b"".join(directory)
    out.write(listing)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(parts), len(parts), len(listing), start, 0))
    return out.getvalue()


def deflated(data: bytes) -> Part:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return Part("", packer.compress(data) + packer.flush(), crc=zlib.crc32(data), declared_size=len(data))


@lru_cache(maxsize=1)
def word_parts() -> tuple[tuple[str, bytes], ...]:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("Kite safety", 1)
    document.add_paragraph("The session leader checks every kite line.")
    buffer = io.BytesIO()
    document.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return tuple((name, archive.read(name)) for name in archive.namelist())


def word_file(document_xml: Part | None = None, extra: tuple[Part, ...] | list[Part] = ()) -> bytes:
    """A real Word document from python-docx, with word/document.xml replaced and parts added."""
    parts = []
    for name, data in word_parts():
        part = document_xml if name == "word/document.xml" and document_xml is not None else deflated(data)
        part.name = name
        parts.append(part)
    return raw_zip(parts + list(extra))


XML_HEAD = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
XML_TAIL = b"</w:body></w:document>"


@lru_cache(maxsize=4)
def spaces_bomb(megabytes: int) -> tuple[bytes, int, int]:
    """(raw deflate stream, CRC, size) of an XML document padded with `megabytes` MiB of spaces: one
    compressed MiB (about 1 KB) repeated, since a full flush makes each MiB compress the same way."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = packer.compress(XML_HEAD) + packer.flush(zlib.Z_FULL_FLUSH)
    block = b" " * MB
    piece = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    tail = packer.compress(XML_TAIL) + packer.flush()
    crc = zlib.crc32(XML_HEAD)
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(XML_TAIL, crc)
    return head + piece * megabytes + tail, crc, len(XML_HEAD) + megabytes * MB + len(XML_TAIL)


def test_the_bomb_is_real():
    stream, crc, size = spaces_bomb(4)
    unpacked = zlib.decompress(stream, -15)
    assert len(unpacked) == size == 4 * MB + len(XML_HEAD) + len(XML_TAIL) and zlib.crc32(unpacked) == crc
    assert len(spaces_bomb(1024)[0]) < MB + 100_000  # 1 GB packed into about 1 MB


def test_a_word_file_unpacking_to_1_gb_is_refused_before_unpacking(settings, spy):
    stream, crc, size = spaces_bomb(1024)
    bomb = word_file(Part("", stream, crc=crc, declared_size=size))
    assert len(bomb) < editor.MAX_UPLOAD_BYTES
    opened = spy(zipfile.ZipFile, "open")
    with memory_bounded(megabytes=32):
        assert_refused(attack(settings, "bomb.docx", bomb), "'bomb.docx'", "would unpack to 1,07", "the limit is 16 MB", "not opened")
    assert opened == [], "a part was opened before the file was refused"


def test_a_part_packed_a_thousand_times_is_refused_before_unpacking(settings, spy):
    stream, crc, size = spaces_bomb(12)  # under the total limit, but no Word file packs like this
    bomb = word_file(Part("", stream, crc=crc, declared_size=size))
    opened = spy(zipfile.ZipFile, "open")
    with memory_bounded(megabytes=32):
        assert_refused(attack(settings, "bomb.docx", bomb), "word/document.xml", "zip bomb", "not opened")
    assert opened == [], "a part was opened before the file was refused"


def test_declared_sizes_that_lie_never_unpack_more_than_they_claim(settings, spy):
    reads = spy(zipfile.ZipExtFile, "read")
    stream, _crc, _size = spaces_bomb(1024)  # 1 GB of data behind a directory claiming 1,000 bytes
    first_bytes_crc = zlib.crc32((XML_HEAD + b" " * 1000)[:1000])
    for crc in (0, first_bytes_crc):  # a wrong checksum, and one matching the bytes the zip claims
        liar = word_file(Part("", stream, crc=crc, declared_size=1000))
        reads.clear()  # only the upload's reads count, not building it
        with memory_bounded(megabytes=32):
            assert_refused(attack(settings, "liar.docx", liar), "'liar.docx'", "Word")
        unpacked: dict[int, int] = {}  # each opening of the part (the upload's, then any re-packed copy's) -> bytes read
        for call in reads:
            if call.args[0].name == "word/document.xml":
                unpacked[id(call.args[0])] = unpacked.get(id(call.args[0]), 0) + len(call.result or b"")
        assert unpacked and max(unpacked.values()) <= 1000, f"unpacked {max(unpacked.values()):,} bytes of a part that claims 1,000"


def test_a_declared_packed_size_beyond_the_file_is_refused(settings):
    stream, crc, size = spaces_bomb(1)
    liar = word_file(Part("", stream, crc=crc, declared_packed=1_000_000_000, declared_size=size))
    assert_refused(attack(settings, "liar.docx", liar), "damaged", "more than the file holds")


def test_a_word_file_with_tens_of_thousands_of_parts_is_refused_from_its_directory(settings, spy):
    empty = [Part(f"p/{n}", b"", method=zipfile.ZIP_STORED) for n in range(20_000)]
    crowd = word_file(extra=empty)
    assert len(crowd) < editor.MAX_UPLOAD_BYTES
    opened = spy(zipfile.ZipFile, "open")
    with memory_bounded(megabytes=64):
        assert_refused(attack(settings, "crowd.docx", crowd), "20,0", "parts", "at most 1,000")
    assert opened == [], "a part was opened: the count comes from the zip directory alone"


def test_parts_packed_with_methods_word_never_uses_are_refused(settings, spy):
    import bz2

    data = XML_HEAD + b" " * MB + XML_TAIL
    bzipped = word_file(Part("", bz2.compress(data), method=zipfile.ZIP_BZIP2, crc=zlib.crc32(data), declared_size=len(data)))
    opened = spy(zipfile.ZipFile, "open")
    with memory_bounded(megabytes=32):
        assert_refused(attack(settings, "odd.docx", bzipped), "never uses")
    assert opened == [], "a part was opened before the file was refused"


def test_a_part_whose_packed_data_is_noise_is_explained(settings):
    noise = Part("", os.urandom(2000), crc=0, declared_size=50_000)
    assert_refused(attack(settings, "noise.docx", word_file(noise)), "'noise.docx'", "Word")


def test_word_xml_entities_are_not_expanded_or_fetched(settings, root):
    secret = root / "srv" / "outside" / "secret.md"
    laughs = b'<!ENTITY a "hahahahahahahahahaha">' + b"".join(b'<!ENTITY %s "%s">' % (chr(98 + n).encode(), (b"&" + chr(97 + n).encode() + b";") * 10) for n in range(9))
    document = (
        b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE w:document [' + laughs + b'<!ENTITY leak SYSTEM "file://' + str(secret).encode() + b'">]>'
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        b"<w:p><w:r><w:t>Kites &j; &leak; end</w:t></w:r></w:p></w:body></w:document>"
    )
    part = deflated(document)
    with memory_bounded(megabytes=64):
        outcome = attack(settings, "laughs.docx", word_file(part))
    if outcome.error is None:
        text = outcome.saved.path.read_text()
        assert "haha" not in text and "must never change" not in text
        assert_saved_only(settings, outcome)
    else:
        assert_refused(outcome, "'laughs.docx'")


def test_word_text_that_looks_like_html_or_links_is_saved_as_text(settings):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("Kites <script>alert('title')</script>", 1)
    document.add_paragraph("<img src=x onerror=alert('docx')> and [click](javascript:alert('docx')) and &lt;b&gt;")
    table = document.add_table(rows=1, cols=1)
    table.cell(0, 0).text = "<iframe src=javascript:alert('cell')>"
    buffer = io.BytesIO()
    document.save(buffer)
    path = assert_saved_only(settings, attack(settings, "kites.docx", buffer.getvalue()))
    stored = path.read_text()
    assert active_content(stored) == []
    assert "title: \"Kites alert('title')\"" in stored
    assert "\\<img src=x onerror=alert('docx')> and \\[click](javascript:alert('docx')) and \\&lt;b\\&gt;" in stored


# PDF


def pdf_with_content(stream: bytes, pages: int = 1, filtered: bool = True) -> bytes:
    """A PDF whose `pages` pages all draw the same content stream (5 0 R)."""
    kids = b" ".join(b"%d 0 R" % (6 + n) for n in range(pages))
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>"
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Producer (test) >>",
            b"<< /Length %d%s >>\nstream\n" % (len(stream), b" /Filter /FlateDecode" if filtered else b"") + stream + b"\nendstream",
        ]
        + [page] * pages
    )


def test_a_pdf_whose_page_unpacks_to_1_gb_is_refused_at_the_decompression_limit(settings):
    from pypdf.errors import LimitReachedError

    stream, _crc, _size = spaces_bomb(1024)
    bomb = pdf_with_content(zlib.compress(b"", 9)[:2] + stream + b"\x00\x00\x00\x00")  # the zlib wrapper around the same 1 GB
    assert len(bomb) < editor.MAX_UPLOAD_BYTES
    with memory_bounded(megabytes=100):
        outcome = attack(settings, "bomb.pdf", bomb)
    assert_refused(outcome, "'bomb.pdf'", "too big or too complex to read safely", "upload it as Word")
    assert isinstance(outcome.error.__cause__, LimitReachedError), "stopped by pypdf's output limit, not by running out of something"


def test_a_pdf_drawing_millions_of_operations_is_refused_before_its_text_is_extracted(settings, spy):
    from pypdf import PageObject

    extracted = spy(PageObject, "extract_text")  # about 16 microseconds per operation: the slow part
    heavy = zlib.compress(b"BT /F1 12 Tf 72 720 Td " + b"(a) Tj " * 1_200_000 + b"ET", 9)
    with memory_bounded(megabytes=100):
        assert_refused(attack(settings, "heavy.pdf", pdf_with_content(heavy)), "'heavy.pdf'", "drawing instructions by page 1")
    assert extracted == []


def test_a_pdf_reusing_one_heavy_page_a_thousand_times_stops_reading_at_the_limit(settings, spy):
    from pypdf import PageObject

    read, extracted = spy(PageObject, "get_contents"), spy(PageObject, "extract_text")
    page = zlib.compress(b"BT /F1 12 Tf 72 720 Td " + b"(a) Tj " * 20_000 + b"ET", 9)  # each page under the limit, together far over
    with memory_bounded(megabytes=100):
        assert_refused(attack(settings, "pages.pdf", pdf_with_content(page, pages=900)), "drawing instructions by page 4")
    assert (len(read), len(extracted)) == (4, 3), "pages after the one over the limit are never read, and its text is not extracted"


def test_a_pdf_with_too_many_pages_is_refused_before_any_page_is_read(settings, spy):
    from pypdf import PageObject

    read = spy(PageObject, "get_contents")
    with memory_bounded(megabytes=100):
        assert_refused(attack(settings, "long.pdf", pdf_with_content(b"BT ET", pages=1500, filtered=False)), "1,500 pages", "the limit is 1,000")
    assert read == []


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n" + os.urandom(4000),
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 1 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",  # pages pointing to itself
        b"%PDF-1.4\n1 0 obj " + b"[" * 5000 + b" endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
    ],
    ids=["noise", "self-reference", "deep-nesting"],
)
def test_broken_pdfs_are_explained_not_crashed_on(settings, data):
    with memory_bounded(megabytes=100):
        assert_refused(attack(settings, "broken.pdf", data), "'broken.pdf'")


# HTML


def test_a_hostile_web_page_is_converted_to_inert_text(settings):
    data = (FIXTURES / "hostile-page.html").read_bytes()
    conversion = editor.html_to_markdown(data.decode())
    assert conversion.title == "Home alone"
    assert conversion.markdown == (FIXTURES / "hostile-page.expected.md").read_text(encoding="utf-8")
    assert "A link with the scheme javascript: kept as its text only: 'Read the NSPCC guidance' (line 17)" in conversion.dropped
    path = assert_saved_only(settings, attack(settings, "Home alone.html", data))
    stored = path.read_text()
    assert active_content(stored) == [], "the stored Markdown would run in a browser"
    assert re.search(r"<\s*(script|iframe|object|embed|img|svg|a)\b", re.sub(r"\\<", "", stored)) is None, "a tag survived unescaped"
    for hidden in ("head script", "iframe fallback", "object fallback", "svg words", "noscript words", "refresh", "onload"):
        assert hidden not in stored
    assert "There is no legal minimum age" in stored and "Think about how long they will be alone" in stored


@pytest.mark.parametrize(
    ("name", "unit"),
    [("unclosed-tags", b"<a"), ("end-tags", b"</"), ("declarations", b"<!"), ("deep-nesting", b"<div>"), ("attributes", b"<a b='")],
)
def test_malformed_html_that_stalls_pythons_html_parser_is_parsed_once_by_lxml_instead(settings, spy, name, unit):
    """libxml2's parser is linear however malformed the page; Python's html.parser is quadratic on
    these. How long the conversion takes at the upload limit is a figure of `kb bench`."""
    from lxml import html as lxml_html

    by_lxml, by_python = spy(lxml_html, "document_fromstring"), spy(HTMLParser, "goahead")
    data = b"<html><body><h1>Kites</h1><p>" + unit * ((editor.MAX_UPLOAD_BYTES - 40) // len(unit))
    with memory_bounded(megabytes=200):
        outcome = attack(settings, f"{name}.html", data)
    assert (len(by_lxml), by_python) == (1, [])
    if outcome.error is None:
        assert_saved_only(settings, outcome)
    else:
        assert_refused(outcome, f"{name}.html")


# Markdown with raw HTML or links a browser would run


HOSTILE_MARKDOWN = [
    "<script>alert('block')</script>",
    "Text <img src=x onerror=alert('inline')> more text.",
    '<iframe src="https://evil.example"></iframe>',
    "<object data=x></object> <embed src=x>",
    "<style>body{display:none}</style>",
    "[click](javascript:alert('link'))",
    "[click](JaVaScRiPt:alert('case'))",
    "[click](java&#09;script:alert('entity-tab'))",
    "[click](java%0Ascript:alert('percent'))",
    "[click]( vbscript:msgbox )",
    "![pixel](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[click][evil]\n\n[evil]: javascript:alert('reference')",
    "<javascript:alert('autolink')>",
    '<a href="javascript:alert(1)">click</a>',
    "<!-- x --!><script>alert('comment')</script> -->",
    "<svg/onload=alert('svg')>",
]


@pytest.mark.parametrize("hostile", HOSTILE_MARKDOWN)
def test_markdown_with_raw_html_or_script_links_is_not_saved(settings, hostile):
    text = VALID + "\n" + hostile + "\n"
    preview = editor.prepare_upload(settings, "kite-safety.md", text.encode())
    assert any("will not save" in note and "line 14" in note for note in preview.notes), preview.notes
    message = assert_refused(attack(settings, "kite-safety.md", text.encode()), "kite-safety.md", "line 14")
    assert "remove raw HTML" in message and "https:" in message
    with nothing_changes(settings), pytest.raises(KBError, match="line 14"):  # and not from the text area either
        editor.write_document(settings, "kite-safety.md", text)


@pytest.mark.parametrize("field", ["title", "publisher", "version"])
def test_front_matter_with_html_is_not_saved(settings, field):
    text = (
        VALID.replace("kind: guidance", f"kind: guidance\n{field}: \"Kites <script>alert('{field}')</script>\"")
        if field != "title"
        else VALID.replace("title: Kite safety at youth clubs", 'title: "Kites <img src=x onerror=alert(1)>"')
    )
    assert_refused(attack(settings, "kite-safety.md", text.encode()), f"field {field!r} has HTML")


def test_html_shown_as_code_or_escaped_text_is_allowed(settings):
    text = (
        VALID
        + "\nWrite `<script>` in a code span, \\<b> escaped, or a fence:\n\n```html\n<script>alert(1)</script>\n```\n\n[NSPCC](https://www.nspcc.org.uk) and [call](tel:08088005000) and [see below](#who-checks)\n"
    )
    path = assert_saved_only(settings, attack(settings, "kite-safety.md", text.encode()))
    assert path.read_text() == text and active_content(text) == []


def test_replacing_a_document_changes_that_file_only(settings):
    corpus = Path(settings.corpus_dir)
    assert_saved_only(settings, attack(settings, "head-lice.md", (corpus / "head-lice.md").read_bytes().replace(b"lice", b"nits")))


# how the app shows corpus text


def test_the_ui_never_renders_text_as_raw_html_except_through_the_escaping_helper():
    sources = {path: path.read_text(encoding="utf-8") for path in (PROJECT_ROOT / "ui").rglob("*.py")}
    for path, source in sources.items():
        assert "unsafe_allow_html" not in source, f"{path} renders raw HTML"
        assert "components.html" not in source and "components.v1" not in source, f"{path} embeds raw HTML"
        for call in re.finditer(r"st\.html\(([^\n]*)", source):
            assert call.group(1).startswith(("quoted_passage_html(", "anchor_html(", "PAGE_STYLE)", "text_html(")), f"{path} passes {call.group(1)!r} to st.html"


def test_the_editors_difference_view_escapes_the_text_it_marks():
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    from ui.views.editor import text_html

    shown = text_html([("<script>alert(1)</script> kept ", False), ("<img src=x onerror=alert(2)>", True)], "ins")
    assert "<script" not in shown and "<img" not in shown
    assert "&lt;script&gt;" in shown and "<ins style=" in shown


@pytest.mark.parametrize("hostile", [*HOSTILE_MARKDOWN, (FIXTURES / "hostile-page.html").read_text(encoding="utf-8")])
def test_corpus_text_shown_by_the_ui_cannot_run(hostile):
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))  # the pages import ui.common
    from ui.common import anchor_html, md_text, quoted_passage_html

    quote = hostile[5:40]
    for shown in (quoted_passage_html(hostile, quote), quoted_passage_html(hostile, ""), quoted_passage_html(quote, quote)):
        assert active_content_in_html(shown) == []
        assert set(re.findall(r"<\s*/?\s*([a-zA-Z]+)", shown)) <= {"div", "mark", "a"}
        assert all(href.startswith("tel:") for href in re.findall(r"<a href='([^']*)'", shown)), "the only links added are tap-to-call"
    rendered = permissive_renderer().render(md_text(hostile))
    assert active_content_in_html(rendered) == [] and "<a " not in rendered
    assert set(re.findall(r"<\s*/?\s*([a-zA-Z]+)", anchor_html(hostile))) == {"span"} and active_content_in_html(anchor_html(hostile)) == []


# damaged files of every kind: whatever the damage, a preview or a message, never a crash


@lru_cache(maxsize=1)
def sample_uploads() -> dict[str, bytes]:
    pdf = pdf_with_content(zlib.compress(b"BT /F1 12 Tf 72 720 Td (Kites are fun) Tj ET"))
    return {"kites.docx": word_file(), "kites.pdf": pdf, "kites.html": (FIXTURES / "procedure-page.html").read_bytes(), "kites.md": VALID.encode()}


@hypothesis_settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["kites.docx", "kites.pdf", "kites.html", "kites.md"]),
    damage=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.floats(0.05, 1)),
)
def test_damaged_uploads_give_a_preview_or_a_message_never_a_crash(settings, kind, damage, cut):
    data = bytearray(sample_uploads()[kind])
    for where, value in damage:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: max(1, int(cut * len(data)))]
    try:
        preview = editor.prepare_upload(settings, kind, bytes(data))
    except KBError:
        pass
    else:
        assert editor.markup_problems(preview.markdown) == [] or kind == "kites.md"
