"""Flows are corpus content: served from the index generation they were built with (staged,
published and rolled back with the documents they cite), and a flow that is not valid is never
served and is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kb.config import Settings

pytestmark = pytest.mark.slow

FLOW = """id: lice
title: {title}
description: Head lice at the club.
start: danger
nodes:
  danger:
    safety_first: true
    question: Is the child in immediate danger, or seriously hurt, right now?
    cites:
      - section: head-lice#are-head-lice-a-safeguarding-concern
    options:
      - label: "Yes"
        next: call-999
      - label: "No"
        next: tell-staff
  call-999:
    outcome: Call 999 now
    protocol: Immediate danger
    actions: [Call 999.]
    timescale: Now
    contacts: [emergency-999]
    cites:
      - section: head-lice#are-head-lice-a-safeguarding-concern
  tell-staff:
    outcome: Follow the head lice advice
    protocol: Head lice
    actions: [Tell the parents discreetly.]
    timescale: Today
    cites:
      - section: head-lice#what-should-staff-do-when-a-child-has-head-lice
"""


def write_flow(corpus: Path, name: str, text: str) -> None:
    (corpus / "flows").mkdir(exist_ok=True)
    (corpus / "flows" / f"{name}.yaml").write_text(text)


def test_a_flow_goes_live_with_its_documents_and_rolls_back_with_them(settings: Settings, small_corpus: Path):
    from kb.service import KnowledgeBase

    write_flow(small_corpus, "lice", FLOW.format(title="Head lice"))
    service = KnowledgeBase(settings)
    service.index()
    assert service.flows["lice"].title == "Head lice"

    write_flow(small_corpus, "lice", FLOW.format(title="Nits at the club"))
    report = service.index(publish=False)
    assert report.flows_changed and not report.published
    assert service.flows["lice"].title == "Head lice", "a staged change is not served"
    service.publish()
    assert service.flows["lice"].title == "Nits at the club"
    service.rollback()
    assert service.flows["lice"].title == "Head lice", "a rollback brings back the flows of that version"


def test_an_invalid_flow_is_not_served_and_is_named(settings: Settings, small_corpus: Path):
    from kb.service import KnowledgeBase

    write_flow(small_corpus, "lice", FLOW.format(title="Head lice"))
    broken = FLOW.format(title="Broken").replace("id: lice", "id: broken").replace("head-lice#what-should-staff-do-when-a-child-has-head-lice", "head-lice#no-such-section")
    write_flow(small_corpus, "broken", broken)
    service = KnowledgeBase(settings)
    service.index()
    assert "lice" in service.flows and "broken" not in service.flows
    assert any(p.file == "broken.yaml" and "no-such-section" in str(p) for p in service.flow_problems)

    env = {"KB_CORPUS_DIR": str(settings.corpus_dir), "KB_DATA_DIR": str(settings.data_dir), "PATH": "/usr/bin:/bin", "HAYSTACK_TELEMETRY_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "kb.cli", "flows", "check"], env=env, capture_output=True, text=True)
    assert out.returncode == 1 and "broken.yaml" in out.stdout + out.stderr and "Traceback" not in out.stderr


def test_publish_refuses_a_version_that_would_drop_a_served_flow_unless_told_why(settings: Settings, small_corpus: Path):
    from kb.errors import FlowGateError
    from kb.service import KnowledgeBase

    write_flow(small_corpus, "lice", FLOW.format(title="Head lice"))
    service = KnowledgeBase(settings)
    service.index()
    assert "lice" in service.flows
    lice = small_corpus / "head-lice.md"
    lice.write_text(lice.read_text().replace("## What should staff do when a child has head lice?", "## What staff do about head lice"))
    staged = service.index(publish=False)
    with pytest.raises(FlowGateError) as refused:
        service.publish(staged.generation)
    assert "would stop offering a guided flow" in str(refused.value) and "lice.yaml" in str(refused.value.problems[0])
    assert "lice" in service.flows, "nothing was published"
    with pytest.raises(FlowGateError):
        service.publish()  # the command line's 'kb index --publish' too
    service.publish(staged.generation, despite="the head lice chapter is being rewritten; the flow follows tomorrow")
    assert service.generations.current_name() == staged.generation
    assert "lice" not in service.flows, "the broken flow is not served"
