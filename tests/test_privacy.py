"""Privacy and no network, proved on real runs in subprocesses with default settings.

- Nothing kept: a question and a flow answer carrying a unique marker go through the command
  line; afterwards the marker is nowhere on disk (data and corpus folders, the process's home and
  temporary folders, and every file written during the run in the project, in the cache and
  settings folders of the runner's home, or in the machine's temporary folders), in plain text or
  in simple encodings (UTF-16, URL-encoded, JSON- and HTML-escaped, base64).
- No network: every Python process started here loads `sitecustomize.py` from a temporary folder
  on PYTHONPATH. It installs an audit hook (`sys.addaudithook`) that records, and refuses, every
  socket connection, datagram or name look-up that would leave the machine. The service indexes,
  answers and walks a flow through it, and again under `unshare -n` (no network in the kernel
  either) when that is available.
- The offline defaults are set by `import kb` alone, with none of them in the environment.
- The editors' audit log (`data/audit/audit.jsonl`) keeps who did what to which document and why,
  never a question, a flow answer, a password or a document's text.

The subprocesses get an environment with no KB_, HF_, HAYSTACK_, TRANSFORMERS_ or STREAMLIT_
variables, so the defaults proved are the product's own, not the test runner's.
tests/ui/test_privacy_browser.py does the same for the Streamlit app in a real browser.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
KB = ROOT / ".venv" / "bin" / "kb"
# Enough to answer a disclosure question and to cite the disclosure flow; small, so indexing is quick.
# The shipped documents and contacts: a guided flow is served only when every section it cites is indexed.
PRIVACY_CORPUS = tuple(p.name for p in sorted((ROOT / "corpus").iterdir()) if p.is_file() and p.suffix in (".md", ".yaml") and p.name != "README.md")
# The environment a deployment may or may not set: removed, so the product's own defaults are tested.
STRIPPED_PREFIXES = ("KB_", "HF_", "HUGGINGFACE_", "HAYSTACK_", "TRANSFORMERS_", "SENTENCE_TRANSFORMERS_", "STREAMLIT_", "TOKENIZERS_", "QDRANT_", "TORCH_")
MAX_SCANNED_BYTES = 64 * 1024 * 1024

SITECUSTOMIZE = r'''
"""Loaded by every Python process of the privacy tests (through PYTHONPATH): records, and
refuses, any socket connection, datagram or name look-up that would leave the machine."""

import ipaddress
import json
import logging
import os
import socket
import sys
import traceback

_LOG = os.environ.get("KB_PRIVACY_NET_LOG")
_LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "http.client.connect", "urllib.Request"}


def _is_local(host):
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).split("%", 1)[0].strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if getattr(ip, "ipv4_mapped", None) is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def _outbound(event, args):
    """The non-local target of a network audit event, or None."""
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[-1]
        if address is None or sock.family == getattr(socket, "AF_UNIX", None):
            return None
        return None if _is_local(address[0] if isinstance(address, tuple) else address) else address
    if event == "http.client.connect":
        return None if _is_local(args[1]) else f"{args[1]}:{args[2]}"
    if event == "urllib.Request":
        from urllib.parse import urlsplit

        return None if args[0].startswith(("file:", "data:")) or _is_local(urlsplit(args[0]).hostname) else args[0]
    return None if _is_local(args[0]) else args[0]


def _hook(event, args):
    if event not in _EVENTS:
        return
    target = _outbound(event, args)
    if target is None:
        return
    record = {"pid": os.getpid(), "argv": sys.argv[:3], "event": event, "target": repr(target), "stack": "".join(traceback.format_stack(limit=14)[:-1])}
    with open(_LOG, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
    raise PermissionError(f"privacy test: outbound {event} to {target!r} refused")


if _LOG:
    sys.addaudithook(_hook)
    if os.environ.get("KB_PRIVACY_LOG_LEVEL"):
        logging.basicConfig(level=os.environ["KB_PRIVACY_LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
'''

QUESTIONS = ["A boy told me his dad hits him. What do I do?", "How quickly should I make a referral to children's social care?"]


SERVICE_SCRIPT = r"""
import json
import sys

import kb
from kb.config import Settings
from kb.flows.walkthrough import describe_walk
from kb.service import KnowledgeBase

questions, flow_id, labels = json.loads(sys.argv[1])
service = KnowledgeBase(Settings.from_env())
report = service.index()
answers = [service.ask(q).as_dict() for q in questions]
walk = describe_walk(service, flow_id, labels)
service.close()

import os

import haystack.telemetry._telemetry as haystack_telemetry
import huggingface_hub
import transformers.utils.hub

print(json.dumps({
    "chunks": report.chunks,
    "errors": report.errors,
    "answers": answers,
    "walk": walk,
    "haystack_telemetry": haystack_telemetry.telemetry is not None,
    "hf_hub_offline": huggingface_hub.constants.HF_HUB_OFFLINE,
    "hf_hub_disable_telemetry": huggingface_hub.constants.HF_HUB_DISABLE_TELEMETRY,
    "transformers_offline": transformers.utils.hub.is_offline_mode(),
    "environ": {k: os.environ.get(k) for k in ("HAYSTACK_TELEMETRY_ENABLED", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")},
}))
"""


def run_service_script(box, labels: list[str], prefix: tuple[str, ...] | list[str] = ()) -> subprocess.CompletedProcess:
    """SERVICE_SCRIPT in the sandbox (under `prefix`, e.g. unshare -n): it must succeed."""
    done = subprocess.run(
        [*prefix, str(PYTHON), "-c", SERVICE_SCRIPT, json.dumps([QUESTIONS, "disclosure", labels])],
        cwd=box.base,
        env=box.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done



# the sandbox: temporary home, temp, data and corpus folders, and the network guard


@dataclass(frozen=True)
class Sandbox:
    base: Path
    home: Path
    tmp: Path
    corpus: Path
    data: Path
    hook: Path
    net_log: Path
    stamp: Path  # created first: every file newer than it was written during the run

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a run: the runner's minus every product setting, plus the sandbox."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED_PREFIXES) and k not in ("PYTHONPATH", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
        env.update(
            HOME=str(self.home),
            TMPDIR=str(self.tmp),
            PYTHONPATH=str(self.hook),
            KB_PRIVACY_NET_LOG=str(self.net_log),
            KB_PRIVACY_LOG_LEVEL="INFO",
            KB_CORPUS_DIR=str(self.corpus),
            KB_DATA_DIR=str(self.data),
            OPENBLAS_NUM_THREADS="1",
        )
        env.update(extra)
        return env

    def outbound(self) -> list[dict]:
        """Every outbound connection or look-up the guarded processes attempted."""
        if not self.net_log.exists():
            return []
        return [json.loads(line) for line in self.net_log.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_sandbox(base: Path) -> Sandbox:
    base.mkdir(parents=True, exist_ok=True)
    stamp = base / "started"
    stamp.touch()
    box = Sandbox(base, base / "home", base / "tmp", base / "corpus", base / "data", base / "hook", base / "outbound.jsonl", stamp)
    for folder in (box.home, box.tmp, box.corpus, box.hook):
        folder.mkdir()
    for name in PRIVACY_CORPUS:
        shutil.copy(ROOT / "corpus" / name, box.corpus / name)
    (box.hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return box


def seed_embeddings(source: Sandbox, target: Sandbox) -> None:
    """Copy the embedding cache of an earlier run, so that indexing the same corpus again skips
    the slow part (embedding) but still builds and serves a whole new index in `target`."""
    target.data.mkdir(parents=True, exist_ok=True)
    shutil.copy(source.data / "embeddings.sqlite", target.data / "embeddings.sqlite")


def describe_outbound(attempts: list[dict]) -> str:
    return "\n\n".join(f"{a['event']} to {a['target']} from {' '.join(a['argv'])} (pid {a['pid']}):\n{a['stack']}" for a in attempts)


# the marker and where to look for it


def new_marker() -> str:
    """A name no file can hold by chance: accented, so its encodings differ from plain ASCII."""
    return f"Zébracorn-{os.urandom(4).hex()}"


def marker_question(marker: str) -> str:
    return f"{marker} told me her stepdad hits her. What should I do?"


def marker_needles(marker: str) -> dict[str, bytes]:
    """The marker (and its accent-free, decomposed and lower-case forms) in the encodings a log,
    a cache or a browser store might use: UTF-8, UTF-16, UTF-32, URL-encoded, JSON- and HTML-escaped."""
    tail = marker.split("é", 1)[1]  # "bracorn-<hex>": the same in every form of the name
    forms = {marker, unicodedata.normalize("NFD", marker), unicodedata.normalize("NFKD", marker).encode("ascii", "ignore").decode()}
    needles: dict[str, bytes] = {"utf-8 'bracorn-...'": tail.encode("utf-8")}
    for form in forms:
        needles[f"utf-8 {form!a}"] = form.encode("utf-8")
        needles[f"url {form!a}"] = quote(form).encode()
        needles[f"url+ {form!a}"] = quote_plus(marker_question(form)).encode()
        needles[f"json {form!a}"] = json.dumps(form).strip('"').encode()
        needles[f"html {form!a}"] = form.encode("ascii", "xmlcharrefreplace")
    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        needles[encoding] = tail.encode(encoding)
    needles["every character URL-encoded"] = "".join(f"%{b:02x}" for b in tail.encode()).encode()
    needles["every character JSON-escaped"] = "".join(f"\\u{ord(c):04x}" for c in tail).encode()
    return needles


def base64_needles(marker: str) -> dict[str, bytes]:
    """The marker inside base64 text, at each of the three alignments (case matters here)."""
    needles = {}
    raw = marker.encode("utf-8")
    for shift in range(3):  # the marker starts `shift` bytes into a 3-byte group
        encoded = base64.b64encode(b"\0" * shift + raw)
        first = 0 if shift == 0 else 4  # a group holding bytes before the marker depends on them
        last = (shift + len(raw)) // 3 * 4  # ...and so does one holding bytes after it
        needles[f"base64 shift {shift}"] = encoded[first:last]
    return needles


def changed_files(stamp: Path, roots: list[Path]) -> list[Path]:
    """Regular files under `roots` written since `stamp` was created (one `find`, fast on big trees)."""
    roots = sorted({r.resolve() for r in roots if r.exists()})
    roots = [r for r in roots if not any(other in r.parents for other in roots)]
    if not roots:
        return []
    found = subprocess.run(
        ["find", *map(str, roots), "-xdev", "-type", "f", "-newer", str(stamp), "-print0"],
        capture_output=True,
        check=False,
    )
    return [Path(os.fsdecode(p)) for p in found.stdout.split(b"\0") if p]


def places_written_during(stamp: Path) -> list[Path]:
    """Where a process that ignored HOME and TMPDIR could have written: the project, the cache
    and settings folders in the runner's own home, and the machine's temporary folders."""
    home = Path.home()
    caches = [home / name for name in (".streamlit", ".cache", ".config", ".haystack", ".local", ".torch", ".huggingface")]
    return changed_files(stamp, [ROOT, *caches, Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")])


def marker_encodings_in(marker: str, data: bytes) -> list[str]:
    """The names of the marker's encodings found in `data` (letter case ignored but in base64)."""
    lowered = data.lower()
    found = [name for name, needle in marker_needles(marker).items() if needle.lower() in lowered]
    return found + [name for name, needle in base64_needles(marker).items() if needle in data]


def find_marker(marker: str, files: list[Path], exclude: tuple[Path, ...] = ()) -> list[str]:
    """'path: encoding' for every file that holds the marker in any of its encodings."""
    hits = []
    for path in sorted(set(files)):
        if any(path == e or e in path.parents for e in exclude):
            continue
        try:
            if not path.is_file() or path.stat().st_size > MAX_SCANNED_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue  # gone already (another process's temporary file) or unreadable
        hits += [f"{path}: {name}" for name in marker_encodings_in(marker, data)]
    return hits


def every_file(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()]


def walk_to_outcome(flow_id: str = "disclosure") -> list[str]:
    """Option labels from the flow's start to its furthest outcome, staying inside the flow."""
    from collections import deque

    from kb.flows.library import FlowLibrary

    flow = FlowLibrary.load_default()[flow_id]
    paths: dict[str, list[str]] = {flow.start: []}
    queue, best = deque([flow.start]), None
    while queue:
        node = flow.nodes[queue.popleft()]
        if node.is_outcome:
            best = paths[node.id] if best is None or len(paths[node.id]) > len(best) else best
            continue
        for option in node.options:
            if option.next and option.next not in paths:
                paths[option.next] = paths[node.id] + [option.label]
                queue.append(option.next)
    assert best, f"flow {flow_id} has no outcome inside it"
    return best


def unshare_available() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0


# the tests


AUDIT_FIELDS = {"at", "editor", "action", "document", "generation", "previous", "reason"}  # and nothing else


def test_the_audit_log_keeps_who_did_what_never_a_password_or_a_documents_text(tmp_path):
    """An editor's session through the library that the Editor page and the command line both call:
    a wrong password and the right one, an upload, a save, a delete and a restore, all with a marker
    in the text. The audit log names the editor, the documents and the reasons; the marker is in
    no line of it, and no line has a field beyond the time, names, action and reason."""
    from kb import editor
    from kb.access import PasswordGate, StoredPassword
    from kb.audit import AuditLog
    from kb.config import Settings

    marker = new_marker()
    settings = Settings.from_env(environ={}, corpus_dir=tmp_path / "corpus", data_dir=tmp_path / "data")
    settings.corpus_dir.mkdir()
    gate = PasswordGate(StoredPassword.from_plain("the right password"), audit=AuditLog(settings.data_dir))
    assert not gate.attempt(f"{marker} typed in the password box", editor="Sam Editor").granted
    assert gate.attempt("the right password", editor="Sam Editor").granted
    document = (ROOT / "tests" / "fixtures" / "editor" / "kite-safety.md").read_text(encoding="utf-8")
    editor.save_upload(settings, "kite-safety.md", (document + f"\n{marker_question(marker)}\n").encode())
    editor.write_document(settings, "kite-safety.md", document + f"\nA child called {marker} asked about kites.\n", editor="Sam Editor", reason="added an example")
    editor.delete_document(settings, "kite-safety.md", editor="Sam Editor", reason="replaced by the new chapter")
    editor.restore_document(settings, "kite-safety.md", 2, editor="Sam Editor")

    audit = AuditLog(settings.data_dir)
    written = audit.path.read_bytes()
    assert marker_encodings_in(marker, written) == [], "the audit log holds a password or a document's text"
    assert [(e.action.value, e.document) for e in reversed(audit.read())] == [
        ("unlock failed", ""), ("unlocked", ""), ("uploaded", "kite-safety.md"), ("saved", "kite-safety.md"), ("deleted", "kite-safety.md"), ("restored", "kite-safety.md"),
    ]  # fmt: skip
    assert {key for line in written.decode().splitlines() for key in json.loads(line)} <= AUDIT_FIELDS
    assert find_marker(marker, every_file(settings.data_dir / "audit")) == []


def test_the_markers_encodings_are_found_where_they_are_written(tmp_path):
    """The scanner is only as good as its needles: each encoding of the marker, written to a
    file, is found; the files of an unrelated marker are not."""
    marker = new_marker()
    question = marker_question(marker)
    samples = {
        "plain.log": question.encode("utf-8"),
        "upper.log": question.upper().encode("utf-8"),
        "folded.log": unicodedata.normalize("NFKD", question).encode("ascii", "ignore"),
        "utf16.bin": question.encode("utf-16"),
        "url.txt": quote_plus(question).encode(),
        "json.txt": json.dumps({"q": question}).encode(),
        "html.txt": question.encode("ascii", "xmlcharrefreplace"),
        "b64.txt": base64.b64encode(b"x" + question.encode()),
    }
    for name, content in samples.items():
        (tmp_path / name).write_bytes(b"\x00header " + content + b" trailer")
    hits = find_marker(marker, every_file(tmp_path))
    assert {h.split(":")[0] for h in hits} == {str(tmp_path / name) for name in samples}
    assert find_marker(new_marker(), every_file(tmp_path)) == []


def test_streamlit_usage_statistics_are_off_however_the_app_is_started():
    """scripts/run runs `kb serve`, which runs ui/app.py with the flag; ui/app.py's own
    .streamlit/config.toml (Streamlit reads the one beside the main script) turns them off for a
    plain `streamlit run ui/app.py` too."""
    config = tomllib.loads((ROOT / "ui" / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["browser"]["gatherUsageStats"] is False
    assert "kb serve" in (ROOT / "scripts" / "run").read_text(encoding="utf-8")
    cli = (ROOT / "kb" / "cli.py").read_text(encoding="utf-8")
    assert '"--browser.gatherUsageStats", "false"' in cli
    assert 'PROJECT_ROOT / "ui" / "app.py"' in cli


@pytest.mark.skipif(not unshare_available(), reason="`unshare -n` is not permitted here (it needs root or user namespaces)")
def test_the_app_started_directly_looks_nothing_up_on_the_internet(tmp_path):
    """`streamlit run ui/app.py`, headless and with no address, as a server deployment would run
    it: left to itself Streamlit finds the machine's addresses to print them (a socket to 8.8.8.8,
    a request to checkip.amazonaws.com). Run in a network namespace, where listening on every
    interface exposes nothing, and stopped once it shows where it listens."""
    box = make_sandbox(tmp_path)
    log = box.base / "streamlit.out"
    with open(log, "w") as out:
        command = ["unshare", "-n", str(PYTHON), "-m", "streamlit", "run", "ui/app.py", "--server.headless", "true", "--server.port", "8501"]
        proc = subprocess.Popen(command, cwd=ROOT, env=box.env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "URL:" not in log.read_text(encoding="utf-8") and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # anything printed after the URL
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    shown = log.read_text(encoding="utf-8")
    assert "URL: http://localhost:8501" in shown, shown
    assert "Collecting usage statistics" not in shown
    assert box.outbound() == [], describe_outbound(box.outbound())


GUARD_CHECK = r"""
import json, os, socket, urllib.request

refused = []
for name, attempt in [
    ("look-up", lambda: socket.getaddrinfo("example.org", 443)),
    ("connect", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("192.0.2.1", 9))),
    ("datagram", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 9))),
    ("web request", lambda: urllib.request.urlopen("http://example.org/", timeout=1)),
]:
    try:
        attempt()
    except PermissionError:
        refused.append(name)
server = socket.create_server(("127.0.0.1", 0))
socket.create_connection(server.getsockname(), timeout=1).close()
address = f"\0kb-privacy-guard-{os.getpid()}"  # Linux's abstract namespace: no file
local = socket.socket(socket.AF_UNIX)
local.bind(address)
local.listen()
socket.socket(socket.AF_UNIX).connect(address)
print(json.dumps(refused))
"""


def test_the_network_guard_records_and_refuses_what_would_leave_the_machine(tmp_path):
    """The guard the other tests rely on: outbound look-ups, connections, datagrams and web
    requests are refused and recorded before anything is sent; loopback and local sockets are not."""
    box = make_sandbox(tmp_path)
    done = subprocess.run([str(PYTHON), "-c", GUARD_CHECK], env=box.env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["look-up", "connect", "datagram", "web request"]
    assert [(a["event"], a["target"]) for a in box.outbound()] == [
        ("socket.getaddrinfo", "'example.org'"),
        ("socket.connect", "('192.0.2.1', 9)"),
        ("socket.sendto", "('192.0.2.1', 9)"),
        ("urllib.Request", "'http://example.org/'"),
    ]


@pytest.fixture(scope="module")
def service_run(tmp_path_factory):
    """The service in a guarded subprocess: index the corpus into an empty data folder, ask two
    questions, walk the disclosure flow to an outcome. Returns (sandbox, output, labels, log)."""
    box = make_sandbox(tmp_path_factory.mktemp("privacy-service"))
    labels = walk_to_outcome()
    done = run_service_script(box, labels)
    return box, json.loads(done.stdout.strip().splitlines()[-1]), labels, done.stderr


def assert_answered_and_walked(output: dict, labels: list[str]) -> None:
    assert output["chunks"] > 0 and not output["errors"]
    disclosure, referral = output["answers"]
    assert disclosure["status"] == "answered" and disclosure["citations"], disclosure
    assert disclosure["safety"] and "999" in disclosure["safety"]["message"]
    assert referral["status"] == "answered" and referral["citations"], referral
    assert [step["choice"] for step in output["walk"]["path"]] == labels
    assert output["walk"]["node"]["type"] == "outcome" and output["walk"]["node"]["actions"]


@pytest.mark.slow
def test_the_service_indexes_answers_and_walks_a_flow_with_no_outbound_connection(service_run):
    box, output, labels, log = service_run
    assert "INFO kb.index.searcher" in log, "the guard's sitecustomize.py was not loaded"
    assert_answered_and_walked(output, labels)
    assert box.outbound() == [], describe_outbound(box.outbound())


@pytest.mark.slow
def test_import_kb_alone_turns_telemetry_and_the_model_hub_off(service_run):
    """None of these variables was in the subprocess's environment: `import kb` set them."""
    box, output, _labels, _log = service_run
    assert output["environ"] == {"HAYSTACK_TELEMETRY_ENABLED": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    assert output["haystack_telemetry"] is False, "Haystack's telemetry client was created"
    assert output["hf_hub_offline"] is True and output["transformers_offline"] is True
    assert output["hf_hub_disable_telemetry"] is True
    # Haystack writes ~/.haystack/config.yaml (a user id for its telemetry) only when telemetry is on.
    assert not (box.home / ".haystack").exists()
    assert not (box.home / ".cache" / "huggingface").exists(), "the model hub cache was touched"


@pytest.mark.slow
@pytest.mark.skipif(not unshare_available(), reason="`unshare -n` is not permitted here (it needs root or user namespaces)")
def test_the_service_answers_in_a_network_namespace_with_no_network(tmp_path, service_run):
    """The same run with no network in the kernel (only a loopback that is down): nothing the
    audit hook cannot see (native code) can reach the network either, and the answers still come."""
    box = make_sandbox(tmp_path)
    seed_embeddings(service_run[0], box)
    labels = walk_to_outcome()
    done = run_service_script(box, labels, prefix=["unshare", "-n"])
    assert_answered_and_walked(json.loads(done.stdout.strip().splitlines()[-1]), labels)
    assert box.outbound() == [], describe_outbound(box.outbound())


@pytest.mark.slow
def test_the_command_line_keeps_nothing_of_a_question_or_an_answer(tmp_path, service_run):
    """`kb ask` (which builds the index first) and `kb flows walk`, with a marker in the question
    and in the answer given: the replies are right, and afterwards the marker is in no file."""
    box = make_sandbox(tmp_path)
    seed_embeddings(service_run[0], box)
    marker = new_marker()
    env = box.env()
    walk = ["flows", "walk", "disclosure", "--choose", "No", "--choose", f"{marker} is her stepdad", "--json"]
    walking = subprocess.Popen([str(KB), "-v", *walk], cwd=box.base, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # alongside the ask
    asked = subprocess.run([str(KB), "-v", "ask", marker_question(marker), "--json"], cwd=box.base, env=env, capture_output=True, text=True, timeout=300)
    _out, walk_err = walking.communicate(timeout=120)
    assert asked.returncode == 0, asked.stderr[-4000:]
    answer = json.loads(asked.stdout)
    assert answer["question"] == marker_question(marker)
    assert marker_encodings_in(marker, asked.stdout.encode()), "the search would not recognise the marker as the CLI prints it"
    assert answer["status"] == "answered" and answer["citations"]
    assert answer["safety"] and "999" in answer["safety"]["message"]
    assert walking.returncode == 1 and "is not an answer to 'Who or what is the child telling you about?'" in walk_err, walk_err[-2000:]
    assert box.outbound() == [], describe_outbound(box.outbound())

    assert marker_encodings_in(marker, asked.stderr.encode()) == [], "the verbose log of `kb ask` names the question"
    audit = box.data / "audit" / "audit.jsonl"
    assert audit.is_file(), "`kb ask` built the index, which the audit log records"
    assert marker_encodings_in(marker, audit.read_bytes()) == [], "the audit log holds the question or the flow answer"
    assert {key for line in audit.read_text(encoding="utf-8").splitlines() for key in json.loads(line)} <= AUDIT_FIELDS
    hits = find_marker(marker, every_file(box.base) + places_written_during(box.stamp))
    assert hits == [], "the marker was kept:\n" + "\n".join(hits)
