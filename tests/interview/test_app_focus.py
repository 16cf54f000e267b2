"""The start screen's focus: with no topic picked, "propose for me" starts a session on the
person's two weakest or least-measured topics; unticked, on every topic offered; picked
topics always win. Through InterviewScreens and through the app's /start endpoint."""

from __future__ import annotations

import socket

import pytest
from gradio_client import Client

from interview.app import InterviewScreens, build_app
from interview.bank import load_bank
from interview.grading import Grader
from interview.session import InterviewSession, propose_focus
from interview.store import InterviewStore


@pytest.fixture(scope="module")
def bank():
    return load_bank()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("focus") / "interview.sqlite"
    with InterviewStore.open(f"sqlite:///{path}") as opened:
        yield opened


def test_screens_propose_a_focus_among_the_offered_topics(store, bank):
    screens = InterviewScreens(store, bank, Grader())
    offered = list(bank.topics)[3:8]
    screen = screens.start("ann", propose_among=offered)
    session = InterviewSession.resume(store, bank, Grader(), screen.session_id)
    assert session.topics == tuple(propose_focus(store, bank, "ann", among=offered))
    assert len(session.topics) == 2 and set(session.topics) <= set(offered)
    titles = [bank.topics[t].title for t in session.topics]
    assert "proposed" in screen.message and all(t in screen.message for t in titles)
    assert screen.item.topic in session.topics
    # picked topics win over the proposal
    picked = screens.start("ann", [offered[-1]], propose_among=offered)
    assert InterviewSession.resume(store, bank, Grader(), picked.session_id).topics == (
        offered[-1],
    )


def test_the_start_endpoint_proposes_by_default(store, bank):
    demo = build_app(store, bank, Grader())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
        client.predict("bob", [], [], api_name="/start")  # the box's default: propose
        client.predict("cy", [], [], False, api_name="/start")
        client.predict("di", [], ["lora_by_hand"], True, api_name="/start")
    finally:
        demo.close()
    with_items = {t for t in bank.topics if bank.by_topic(t)}
    assert len(store.latest_open_session("bob").topics) == 2
    assert set(store.latest_open_session("cy").topics) == with_items
    assert store.latest_open_session("di").topics == ("lora_by_hand",)
