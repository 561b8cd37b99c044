"""The `kb` command: a thin click layer over `kb.service.KnowledgeBase`.

Library errors become one clear line on stderr and exit 1; bad arguments exit 2 (click).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from pathlib import Path

import click

import kb  # noqa: F401  (offline defaults before anything imports haystack)
from kb.config import PROJECT_ROOT, SETTINGS_SPECS, Settings
from kb.errors import KBError, QuestionError
from kb.index.documents import AUDIENCES, KINDS
from kb.request import ROLE_NAMES


def _kb(ctx: click.Context, **overrides):
    from kb.service import KnowledgeBase

    settings = Settings.from_env(**overrides)
    service = KnowledgeBase(settings)
    ctx.call_on_close(service.close)
    return service


def _emit(obj: dict) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def _os_user() -> str:
    """Who runs the command, for the audit log: the login name, or "" when the system has none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KBError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, epilog="Settings (environment): " + "; ".join(f"{s.env}: {s.help}" for s in SETTINGS_SPECS))
@click.option("-v", "--verbose", is_flag=True, help="Log what the knowledge base is doing.")
def main(verbose: bool) -> None:
    """Somerset safeguarding procedures: index, ask, guided flows, evaluation and benchmark."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--corpus", "corpus", type=click.Path(file_okay=False, path_type=Path), help="Corpus folder (default KB_CORPUS_DIR or corpus/).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--stage", is_flag=True, help="Build the new index generation but do not serve it yet (publish it with --publish).")
@click.option("--publish", is_flag=True, help="Serve the newest staged index generation.")
@click.option("--rollback", is_flag=True, help="Serve the previous index generation again.")
@click.option("--despite", default="", metavar="REASON", help="With --publish: publish even though a guided flow served now would be dropped, and why.")
@click.pass_context
def index(ctx: click.Context, corpus: Path | None, as_json: bool, stage: bool, publish: bool, rollback: bool, despite: str) -> None:
    """Build or update the index from the corpus (incremental; the old index serves until the new one is ready)."""
    if stage + publish + rollback > 1:
        raise click.UsageError("use at most one of --stage, --publish and --rollback")
    service = _kb(ctx, corpus_dir=corpus)
    who = _os_user()  # for the audit log
    if rollback:
        old, new = service.rollback(editor=who)
        put_back = service.restore_corpus_to(new, editor=who)
        if as_json:
            _emit({"rolled_back_from": old, "serving": new, "restored": put_back.restored, "deleted": put_back.deleted, "not_restorable": put_back.not_restorable})
            return
        click.echo(f"Rolled back: now serving {new} (was {old}).")
        if put_back.changed:
            click.echo(f"The corpus documents are back as they were in {new}: restored {', '.join(put_back.restored) or 'none'}; deleted {', '.join(put_back.deleted) or 'none'} (kept in their history).")
        if put_back.unknown:
            click.echo(f"{new} keeps no record of its files, so the corpus documents were left as they are; check them before re-indexing.", err=True)
        if put_back.not_restorable:
            click.echo(f"Changed outside the Editor, so their text from {new} is not kept: {', '.join(put_back.not_restorable)}; put them back by hand before re-indexing.", err=True)
        return
    if publish:
        old, new = service.publish(despite=despite, editor=who)
        _emit({"serving": new, "previous_generation": old}) if as_json else click.echo(f"Published: now serving {new} (was {old or 'nothing'}).")
        return
    report = service.index(progress=None if as_json or not sys.stderr.isatty() else _ProgressBar(), publish=not stage, editor=who)
    if as_json:
        _emit(report.as_dict())
        return
    serving = (
        f"Serving {report.generation}."
        if report.published
        else f"Built {report.generation}, not serving it yet (still serving {report.previous_generation or 'nothing'}): run 'kb index --publish' to serve it."
    )
    click.echo(
        f"Indexed {report.chunks} chunks in {report.seconds:.1f}s: {len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged; {report.embedded} chunks embedded. {serving}"
    )
    if report.recovered_from:
        click.echo(f"Rebuilt the whole index, because {report.recovered_from}.", err=True)
    for label, items in (("Added", report.added), ("Changed", report.changed), ("Removed", report.removed)):
        if items:
            click.echo(f"{label}: {', '.join(items)}")
    for err in report.errors:
        where = f"{err['file']}:{err['line']}" if err.get("line") else err["file"]
        click.echo(f"Skipped {where}: {err['reason']}", err=True)
    for doc_id in report.kept_previous:
        click.echo(f"Kept the previously indexed version of {doc_id}.", err=True)
    if report.flows_changed:
        click.echo("The guided flows changed; they are served with this version of the documents.")
    check = "run 'kb flows check'" if report.published else "check the flow before 'kb index --publish'"
    for hit in report.affected_flow_nodes:
        click.echo(f"Flow {hit['flow']} node {hit['node']} cites section {hit['section']}, which was {hit['change']}: {check}.", err=True)
    review = service.staged_review() if not report.published else None
    if review is not None and review.generation == report.generation:
        click.echo("What publishing it changes, in words:")
        for line in review.lines():
            click.echo(f"  {line}")


class _ProgressBar:
    def __init__(self):
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage == "embed":
            if self.bar is None and total:
                self.bar = tqdm(total=total, desc="Embedding", unit="chunk", file=sys.stderr)
            if self.bar is not None:
                self.bar.n = done
                self.bar.refresh()
        elif stage == "done" and self.bar is not None:
            self.bar.close()


@main.command()
@click.argument("question", required=False)
@click.option("--batch", type=click.File("r", encoding="utf-8"), help="A file with one question per line (use - for standard input).")
@click.option("--json", "as_json", is_flag=True, help="Print each answer as one JSON object per line.")
@click.option("--persona", type=click.Choice(list(ROLE_NAMES)), default="volunteer", show_default=True, help="Who is asking (the question's own words override it).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(list(KINDS)), help="Only search documents of this kind (repeatable).")
@click.option("--audience", type=click.Choice(list(AUDIENCES)), help="Only search documents written for this audience.")
@click.pass_context
def ask(ctx: click.Context, question: str | None, batch, as_json: bool, persona: str, kinds: tuple[str, ...], audience: str | None) -> None:
    """Answer a question with quoted, cited passages from the procedures."""
    if (question is None) == (batch is None):
        raise click.UsageError("give either a QUESTION or --batch FILE")
    service = _kb(ctx)
    service.ensure_index()
    problem = service.index_problem()
    if problem:
        click.echo(f"Warning: {problem}", err=True)
    questions = [question] if batch is None else [line.rstrip("\n") for line in batch if line.strip()]
    for q in questions:
        try:
            answer = service.ask(q, persona=persona, kinds=list(kinds) or None, audience=audience)
        except QuestionError as exc:
            if batch is None:
                raise
            _emit({"question": q, "status": "error", "error": str(exc)})
            continue
        if as_json:
            _emit(answer.as_dict())
        else:
            _print_answer(answer)


def _print_answer(answer) -> None:
    if answer.safety:
        click.secho(answer.safety.message, fg="red", bold=True)
        click.echo()
    if answer.advice:
        click.secho(answer.advice, bold=True)
        click.echo()
    if answer.answering:
        click.secho(f"Answering: {answer.answering}", dim=True)
    click.echo(answer.answer)
    for c in answer.citations:
        click.echo(f"  [{c.n}] {c.title} — {c.section} (version {c.version}) {c.source_url}")
    if answer.choices:
        click.echo("\nThis could be about either of these; ask again with the one you mean:")
        for link in answer.choices:
            click.echo(f"  - {link.section} ({link.title})")
    if answer.see_also:
        click.echo("\nSee also:")
        for link in answer.see_also:
            click.echo(f"  - {link.title} — {link.section}")
    if answer.flows:
        click.echo(f"\nGuided flows: {', '.join(answer.flows)}")


@main.group()
def flows() -> None:
    """Guided decision flows: list, show, check and walk."""


@flows.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def flows_list(ctx: click.Context, as_json: bool) -> None:
    """List the flows."""
    library = _kb(ctx).flows
    items = [{"id": f.id, "title": f.title, "description": f.description, "nodes": len(f.nodes)} for f in library.values()]
    if as_json:
        _emit({"flows": items})
    else:
        for item in items:
            click.echo(f"{item['id']:28} {item['title']} — {item['description']}")


@flows.command("show")
@click.argument("flow_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def flows_show(ctx: click.Context, flow_id: str, as_json: bool) -> None:
    """Show every node of a flow."""
    from dataclasses import asdict

    library = _kb(ctx).flows
    if flow_id not in library:
        raise KBError(f"unknown flow {flow_id!r}; known flows: {', '.join(library.ids())}")
    flow = library[flow_id]
    if as_json:
        _emit(asdict(flow))
        return
    click.echo(f"{flow.title} ({flow.id}): {flow.description}")
    for node in flow.nodes.values():
        if node.is_outcome:
            click.echo(f"\n[{node.id}] OUTCOME: {node.outcome} — {node.timescale}")
        else:
            click.echo(f"\n[{node.id}] {node.question}")
            for o in node.options:
                click.echo(f"    {o.label!r} -> {o.next or o.goto}")


@flows.command("check")
@click.pass_context
def flows_check(ctx: click.Context) -> None:
    """Check every flow (in the corpus folder, and as served) against its graph rules, the served index and the contacts; exit 1 on any problem."""
    service = _kb(ctx)
    service.ensure_index()
    problems = service.flow_check(working_copy=True)
    for p in problems:
        click.echo(str(p))
    served = service.flow_problems
    for p in served:
        click.echo(f"Not served now: {p}", err=True)
    if problems or served:
        click.echo(f"{len(problems)} problem(s) in the flows in the corpus folder; {len(served)} in the served ones.", err=True)
        ctx.exit(1)
    click.echo(f"All {len(service.flow_library)} flows are valid.")


@flows.command("walk")
@click.argument("flow_id")
@click.option("--choose", "choices", multiple=True, help="An option label; repeat in order.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def flows_walk(ctx: click.Context, flow_id: str, choices: tuple[str, ...], as_json: bool) -> None:
    """Walk a flow with the given answers and show where it ends."""
    from kb.flows.walkthrough import describe_walk

    service = _kb(ctx)
    result = describe_walk(service, flow_id, list(choices))
    if as_json:
        _emit(result)
        return
    for p in result["path"]:
        if p["carried"]:
            click.echo(f"(From your earlier answer) {p['question']} {p['choice']}")
    if result["at_flow"] != flow_id:
        click.echo(f"(Now in the flow '{service.flows[result['at_flow']].title}')")
    node = result["node"]
    if node["type"] == "outcome":
        click.echo(f"Outcome: {node['outcome']} ({node['protocol']}) — {node['timescale']}")
        for i, a in enumerate(node["actions"], 1):
            click.echo(f"  {i}. {a}")
        for c in node["contacts"]:
            click.echo(f"  Contact: {c['who']}: {c['reach']}")
    else:
        click.echo(node["question"])
        if node.get("help"):
            click.echo(f"  ({node['help']})")
        for label in node["options"]:
            click.echo(f"  - {label}")


@main.group()
def docs() -> None:
    """Corpus documents: every version the Editor wrote, and restoring one."""


@docs.command("history")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per version, newest first.")
def docs_history(name: str, as_json: bool) -> None:
    """List the kept versions of NAME (a corpus file name, e.g. head-lice.md), newest first."""
    from kb import editor

    versions = editor.history_of(Settings.from_env(), name)
    if not versions:
        click.echo(f"No versions of {name} are kept yet: its history starts with the first change made through the Editor or 'kb docs restore'.")
    for v in versions:
        if as_json:
            _emit({"name": name, **v.__dict__})
            continue
        restored = f" (from version {v.restored_from})" if v.restored_from else ""
        click.echo(f"{v.number:>4}  {v.at}  {v.action}{restored} by {v.editor}" + (f": {v.reason}" if v.reason else ""))


@docs.command("restore")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--editor", "editor_name", default=lambda: os.environ.get("USER", ""), help="Who is restoring (kept in the history; default $USER).")
@click.option("--reason", default="", help="Why, in one line (kept in the document's history and the audit log; default: 'restored version VERSION').")
def docs_restore(name: str, version: int, editor_name: str, reason: str) -> None:
    """Make VERSION of NAME the document again, as a new version; re-index to serve it."""
    from kb import editor

    saved = editor.restore_document(Settings.from_env(), name, version, editor=editor_name, reason=reason)
    click.echo(f"Restored version {version} of {saved.name} (“{saved.title}”) as its newest version, version {saved.version}. Run 'kb index' to serve it.")


@main.group("editor")
def editor_group() -> None:
    """The Editor page's password, and the audit log of what editors did."""


@editor_group.command("set-password")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input instead of asking for it.")
@click.option("--secrets", "for_secrets", is_flag=True, help="Make the line for .streamlit/secrets.toml (editor_password_hash = \"...\") instead of the environment.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the line to this new file (readable by its owner only) instead of printing it.")
def editor_set_password(password_stdin: bool, for_secrets: bool, output: Path | None) -> None:
    """Make the Editor password's salted hash: prints KB_EDITOR_PASSWORD_HASH=... (never the password)."""
    from kb.access import HASH_SECRET, HASH_SETTING, hash_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Editor password", hide_input=True, confirmation_prompt="Type it again", err=True)
    hashed = hash_password(password)
    line = f'{HASH_SECRET} = "{hashed}"' if for_secrets else f"{HASH_SETTING}={hashed}"
    where = "in .streamlit/secrets.toml" if for_secrets else "in the app's environment"
    if output is None:
        click.echo(line)
        click.echo(f"Put that line {where}, remove any older Editor password setting, then restart the app.", err=True)
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KBError(f"{output} already exists, so nothing was written: give the name of a new file, then copy its line where it belongs") from None
    except OSError as exc:
        raise KBError(f"could not create {output}: {exc.strerror}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(line + "\n")
    click.echo(f"Wrote the line to {output}: put it {where}, remove any older Editor password setting, then restart the app.", err=True)


@editor_group.command("audit")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="How many of the latest actions to list.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per action, newest first.")
def editor_audit(limit: int, as_json: bool) -> None:
    """List the latest editor actions, newest first: when, who, what and why."""
    from kb.audit import AuditLog

    audit = AuditLog(Settings.from_env().data_dir)
    entries = audit.read(limit)
    if not entries and not as_json:
        click.echo(f"No editor actions are recorded yet (the log is {audit.path}).")
    for entry in entries:
        if as_json:
            _emit(entry.as_dict())
        else:
            click.echo(f"{entry.at.replace('T', ' ').replace('+00:00', ' UTC')}  {entry.describe()}")


@main.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON summary line.")
@click.option("--baselines/--no-baselines", default=True, help="Also score lexical-only and dense-only retrieval.")
@click.option("--answers", "answers_out", type=click.Path(dir_okay=False, path_type=Path), help="Write every answer, as the user sees it, to this JSON-lines file (for a judge).")
@click.pass_context
def evaluate(ctx: click.Context, file: Path, as_json: bool, baselines: bool, answers_out: Path | None) -> None:
    """Score a question set: recall@5, must-fact coverage, refusals and latency."""
    from kb.evaluation import evaluate_file, format_report

    service = _kb(ctx)
    service.ensure_index()
    report = evaluate_file(service, file, baselines=baselines, answers_out=answers_out)
    if not as_json:
        click.echo(format_report(report))
    _emit(report["summary"])


@main.command()
@click.option("--scale", "scales", type=click.IntRange(min=1), multiple=True, help="Also index a corpus this many times the shipped one and time it (repeatable; default 10).")
@click.option("--only-scale", type=click.IntRange(min=1), help="Run only the scale test at this size, in this process.")
@click.option("--queries", default=200, show_default=True, help="Queries to time.")
@click.option("--load", "load", is_flag=True, help="Run only the load test: sessions asking at once while an editor re-indexes, publishes and rolls back.")
@click.option("--users", type=click.IntRange(min=1), help="With --load: sessions asking at once (default 8).")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), help="With --load: how long they ask, at least one edit cycle (default 60).")
@click.option("--limits", is_flag=True, help="Run only the timings of documents and uploads at the limits (the largest allowed, and attacks refused).")
@click.pass_context
def bench(ctx: click.Context, scales: tuple[int, ...], only_scale: int | None, queries: int, load: bool, users: int | None, seconds: float | None, limits: bool) -> None:
    """Benchmark indexing, re-indexing, retrieval and answers; prints figures and one JSON line.

    With QDRANT_URL set, the scale tests store their vectors on that server. Every run works on
    copies of the corpus in temporary folders; the served index is never touched."""
    from kb.bench import run_benchmark, run_limits, run_scale

    if load + limits + bool(only_scale) > 1:
        raise click.UsageError("use at most one of --load, --limits and --only-scale")
    if not load and (users is not None or seconds is not None):
        raise click.UsageError("--users and --seconds go with --load")
    settings = Settings.from_env()
    echo = lambda line: click.echo(line)  # noqa: E731
    if load:
        from kb.load_benchmark import run_load_benchmark

        result = run_load_benchmark(settings, users=users or 8, seconds=seconds or 60.0, log=echo)
        _emit(result)
        if result["errors"]:
            raise KBError(f"{result['errors']} errors under load (every answer must be complete and from one generation); the first: {result['error_examples'][0]}")
    elif limits:
        _emit(run_limits(settings, log=echo))
    elif only_scale:
        _emit(run_scale(settings, only_scale, queries=queries, log=echo))
    else:
        _emit(run_benchmark(settings, scales=scales or (10,), queries=queries, log=echo))


@main.command()
@click.option("--port", default=8501, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True)
@click.pass_context
def serve(ctx: click.Context, port: int, address: str) -> None:
    """Build the index if there is none, then run the Streamlit app."""
    service = _kb(ctx)
    if not service.has_index():
        click.echo("No index yet: building it from the corpus (about a minute)...")
        report = service.index(progress=_ProgressBar() if sys.stderr.isatty() else None)
        click.echo(f"Indexed {report.chunks} chunks from {len(report.added)} documents in {report.seconds:.1f}s.")
    service.close()
    app = PROJECT_ROOT / "ui" / "app.py"
    args = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", address, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    click.echo(f"Open http://{address}:{port} in a browser (Ctrl+C stops the app).")
    os.execve(sys.executable, args, env)


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show the served index generation."""
    _emit(_kb(ctx).status())


if __name__ == "__main__":
    main()
