"""The practice host over the wire: scoring errors, auth, limits, deadlines, pagination,
restarts and concurrent submitters."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from compete.practice.create import close_competition, host_credentials
from compete.practice.server import running_host


def _sample(competition_files: Any, name: str = "churn") -> pd.DataFrame:
    return pd.read_csv(competition_files(name) / "sample_submission.csv")


def _malformed(sample: pd.DataFrame, case: str) -> pd.DataFrame:
    frame = sample.copy()
    id_column, value = frame.columns
    if case == "wrong columns":
        return frame.rename(columns={value: "prediction"})
    if case == "missing ids":
        return frame.iloc[:-3]
    if case == "duplicate ids":
        frame.loc[frame.index[:2], id_column] = frame[id_column].iloc[2]
        return frame
    if case == "wrong row count":
        return pd.concat([frame, frame.iloc[:1].assign(**{id_column: 999_999})])
    if case == "NaN":
        frame[value] = frame[value].astype(float)
        frame.loc[frame.index[4], value] = float("nan")
        return frame
    if case == "text":
        frame[value] = frame[value].astype(object)
        frame.loc[frame.index[1], value] = "high"
        return frame
    if case == "out of range":
        frame.loc[frame.index[0], value] = 1.7
        return frame
    raise AssertionError(case)


MALFORMED = {
    "wrong columns": "prediction",
    "missing ids": "missing",
    "duplicate ids": "duplicate",
    "wrong row count": "rows",
    "NaN": "NaN",
    "text": "text where numbers belong",
    "out of range": "between 0 and 1",
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_submission_is_stored_as_error_with_reason(
    client: Any, competition_files: Any, tmp_path: Path, case: str
) -> None:
    path = tmp_path / "bad.csv"
    _malformed(_sample(competition_files), case).to_csv(path, index=False)

    response = client.submit("churn", path, f"bad: {case}")
    assert response.status_code == 200, response.text
    ref = response.json()["ref"]
    record = client.call("GetSubmission", ref=ref)
    assert record["status"] == "ERROR"
    assert MALFORMED[case].lower() in record["errorDescription"].lower()
    assert record.get("publicScore", "") == ""

    listed = client.call("ListSubmissions", competitionName="churn", pageSize=100)
    (row,) = [s for s in listed["submissions"] if s["ref"] == ref]
    assert row["status"] == "ERROR" and row["errorDescription"] == record["errorDescription"]


def test_unknown_competition_is_404_naming_it(client: Any) -> None:
    for method in ("GetCompetition", "ListDataFiles", "GetLeaderboard", "ListSubmissions"):
        response = client.post(method, {"competitionName": "no-such-comp"})
        assert response.status_code == 404
        assert response.json() == {"code": 404, "message": "Competition 'no-such-comp' not found"}


def test_wrong_or_missing_credentials_are_401(client: Any, host_url: str) -> None:
    url = f"{host_url}/api/v1/competitions.CompetitionApiService/ListCompetitions"
    username = client.auth[0]
    for auth in (None, (username, "wrong-key"), ("someone", client.auth[1])):
        response = requests.post(url, json={}, auth=auth, timeout=10)
        assert response.status_code == 401
        assert response.json()["code"] == 401
    bearer = {"Authorization": f"Bearer {client.auth[1]}"}
    assert requests.post(url, json={}, headers=bearer, timeout=10).status_code == 200

    introspect = f"{host_url}/api/v1/security.OAuthService/IntrospectToken"
    good = requests.post(introspect, json={"token": client.auth[1]}, timeout=10).json()
    assert good == {"active": True, "username": username}
    assert requests.post(introspect, json={"token": "nope"}, timeout=10).json()["active"] is False


def test_daily_limit_refuses_and_errors_do_not_count(
    client: Any, competition_files: Any, good_submission: Any, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    _malformed(_sample(competition_files, "limited"), "NaN").to_csv(bad, index=False)

    assert client.submit("limited", good_submission("limited", seed=1)).status_code == 200
    assert client.submit("limited", bad).status_code == 200  # an error: does not count
    limits = client.call("GetSubmissionLimits", competitionName="limited")
    assert limits["numToday"] == 1 and limits["numAllowedNow"] == 1
    assert client.submit("limited", good_submission("limited", seed=2)).status_code == 200

    refused = client.submit("limited", good_submission("limited", seed=3), "one too many")
    assert refused.status_code == 400
    message = refused.json()["message"]
    assert "limit" in message and "2 of 2" in message and "resets at" in message
    listed = client.call("ListSubmissions", competitionName="limited")["submissions"]
    assert [s["status"] for s in listed] == ["COMPLETE", "ERROR", "COMPLETE"]
    assert "one too many" not in {s.get("description") for s in listed}


def test_private_scores_hidden_until_closed_then_board_turns_private(
    client: Any, practice_home: Path, good_submission: Any
) -> None:
    ref = client.submit("closing", good_submission("closing", seed=5), "before").json()["ref"]
    before = client.call("GetSubmission", ref=ref)
    assert before["publicScore"] != "" and before["privateScore"] == ""
    public_board = client.call("GetLeaderboard", competitionName="closing")["submissions"]
    assert client.call("GetCompetition", competitionName="closing")["submissionsDisabled"] is False

    # An upload started before the deadline cannot be turned into a submission after it.
    pending = good_submission("closing", seed=7)
    start = client.call(
        "StartSubmissionUpload",
        competitionName="closing",
        fileName=pending.name,
        contentLength=pending.stat().st_size,
    )
    assert requests.put(start["createUrl"], data=pending.read_bytes(), timeout=10).ok

    closed = close_competition(practice_home, "closing")
    assert closed.ended()
    refused = client.post(
        "CreateSubmission", {"competitionName": "closing", "blobFileTokens": start["token"]}
    )
    assert refused.status_code == 400 and "has ended" in refused.json()["message"]

    after = client.call("GetSubmission", ref=ref)
    assert after["publicScore"] == before["publicScore"]
    assert after["privateScore"] != ""
    private_board = client.call("GetLeaderboard", competitionName="closing")["submissions"]
    baselines = {b.team: b for b in closed.baselines}
    by_name = {row["teamName"]: float(row["score"]) for row in private_board}
    assert by_name["Default LightGBM"] == pytest.approx(
        baselines["Default LightGBM"].private_score, abs=1e-5
    )
    assert by_name["Default LightGBM"] != pytest.approx(
        {row["teamName"]: float(row["score"]) for row in public_board}["Default LightGBM"]
    )
    assert client.call("GetCompetition", competitionName="closing")["submissionsDisabled"] is True

    path = good_submission("closing", seed=6)
    late = client.post(
        "StartSubmissionUpload",
        {"competitionName": "closing", "fileName": path.name, "contentLength": 10},
    )
    assert late.status_code == 400
    assert "has ended" in late.json()["message"]


def test_leaderboard_pages_return_every_team_once(client: Any) -> None:
    full = client.call("GetLeaderboard", competitionName="churn", pageSize=1000)["submissions"]
    seen, token, pages = [], "", 0
    while True:
        page = client.call("GetLeaderboard", competitionName="churn", pageSize=2, pageToken=token)
        seen += [row["teamId"] for row in page["submissions"]]
        pages += 1
        token = page.get("nextPageToken", "")
        if not token:
            break
    assert len(full) >= 4 and pages == -(-len(full) // 2)
    assert seen == [row["teamId"] for row in full]
    assert len(set(seen)) == len(seen)


def test_state_survives_a_restart(practice_home: Path, client: Any, good_submission: Any) -> None:
    ref = client.submit("churn", good_submission("churn", seed=21), "kept").json()["ref"]
    credentials = host_credentials(practice_home)
    with running_host(practice_home) as other:
        response = requests.post(
            f"{other}/api/v1/competitions.CompetitionApiService/GetSubmission",
            json={"ref": ref},
            auth=(credentials.username, credentials.key),
            timeout=10,
        )
    assert response.status_code == 200
    assert response.json()["description"] == "kept"
    assert credentials == host_credentials(practice_home)


def test_concurrent_submitters_never_exceed_the_limit(client: Any, good_submission: Any) -> None:
    paths = [good_submission("race", seed=100 + i) for i in range(6)]
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(paths))

    def submit(path: Path) -> None:
        barrier.wait()
        status = client.submit("race", path, path.name).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=submit, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 200, 200, 400, 400, 400]
    listed = client.call("ListSubmissions", competitionName="race")["submissions"]
    assert len(listed) == 3
    assert client.call("GetSubmissionLimits", competitionName="race")["numAllowedNow"] == 0


def test_signed_links_only(client: Any, host_url: str) -> None:
    response = requests.get(f"{host_url}/practice/files/churn/train.csv", timeout=10)
    assert response.status_code == 403
    assert (
        requests.put(f"{host_url}/practice/uploads/made-up", data=b"x", timeout=10).status_code
        == 404
    )


def test_submission_pages_newest_first(client: Any, good_submission: Any) -> None:
    # Enough submissions of our own for two full pages, whatever ran before in this process.
    for seed in range(7):
        assert (
            client.submit("churn", good_submission("churn", seed=seed), "page").status_code == 200
        )
    everything = client.call("ListSubmissions", competitionName="churn", pageSize=1000)
    refs = [s["ref"] for s in everything["submissions"]]
    assert refs == sorted(refs, reverse=True)
    first = client.call("ListSubmissions", competitionName="churn", pageSize=3)
    second = client.call(
        "ListSubmissions", competitionName="churn", pageSize=3, pageToken=first["nextPageToken"]
    )
    assert [s["ref"] for s in first["submissions"] + second["submissions"]] == refs[:6]


def test_serve_writes_server_json_and_removes_it_on_exit(practice_home: Path, client: Any) -> None:
    import json
    import signal
    import subprocess
    import sys
    import time

    info = practice_home / "practice" / "server.json"
    code = "import sys; from compete.practice.server import serve; serve(sys.argv[1], port=0)"
    process = subprocess.Popen([sys.executable, "-c", code, str(practice_home)])
    try:
        deadline = time.monotonic() + 30
        while not info.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        written = json.loads(info.read_text())
        assert written["pid"] == process.pid
        while time.monotonic() < deadline:
            try:
                response = requests.post(
                    f"{written['url']}/api/v1/competitions.CompetitionApiService/GetCompetition",
                    json={"competitionName": "churn"},
                    auth=client.auth,
                    timeout=5,
                )
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert response.status_code == 200 and response.json()["title"] == "Churn"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert not info.exists()
