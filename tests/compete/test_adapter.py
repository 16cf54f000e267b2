"""The adapter over the official client, against a real practice host on loopback."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from compete.adapter import HostTarget, KaggleAdapter
from compete.errors import AuthError, HostError, NotFoundError, SubmissionLimitError

NAME = "churn-small"


@pytest.fixture
def competition(new_competition):
    return new_competition(NAME, daily_limit=50)


@pytest.fixture
def adapter(competition, host, adapter_for) -> KaggleAdapter:
    return adapter_for(host)


def good_submission(adapter: KaggleAdapter, tmp_path, value: float = 0.5):
    files = adapter.download(NAME, tmp_path / "dl")
    sample = pd.read_csv(next(f for f in files if f.name == "sample_submission.csv"))
    sample[sample.columns[1]] = value
    path = tmp_path / f"sub-{value}.csv"
    sample.to_csv(path, index=False)
    return path


def test_the_client_hook_points_at_the_practice_host(adapter, host):
    # build_kaggle_client is not a public contract of the kaggle package: pin it.
    with adapter.api.build_kaggle_client() as client:
        url = client._http_client._get_request_url(
            "competitions.CompetitionApiService", "ListCompetitions"
        )
    assert url == f"{host}/api/v1/competitions.CompetitionApiService/ListCompetitions"


def test_list_and_read_a_competition(adapter):
    names = [c.name for c in adapter.list_competitions()]
    assert NAME in names
    info = adapter.competition(NAME)
    assert info.name == NAME and info.deadline is not None and not info.ended()


def test_download_unpacks_every_file(adapter, home, tmp_path):
    files = {f.name: f for f in adapter.download(NAME, tmp_path / "dl")}
    assert set(files) == {"train.csv", "test.csv", "sample_submission.csv"}
    assert not list((tmp_path / "dl").glob("*.zip"))
    train, test = pd.read_csv(files["train.csv"]), pd.read_csv(files["test.csv"])
    assert "churn" in train.columns and "churn" not in test.columns
    assert len(train) + len(test) == 600


def test_submit_then_read_submissions_and_every_leaderboard_page(
    adapter, adapter_for, host, tmp_path
):
    result = adapter.submit(NAME, good_submission(adapter, tmp_path), "constant half")
    assert result.ref
    (mine,) = [s for s in adapter.submissions(NAME) if s.ref == result.ref]
    assert mine.status == "COMPLETE" and mine.description == "constant half"
    assert float(mine.public_score_raw) == pytest.approx(0.5)
    assert mine.private_score_raw == ""  # hidden before the deadline
    whole = adapter.leaderboard(NAME)
    paged = adapter_for(host, page_size=1).leaderboard(NAME)
    assert [e.team_name for e in paged] == [e.team_name for e in whole]
    assert len({e.team_id for e in paged}) == len(paged) >= 3


def test_rate_limits_are_retried_with_backoff(adapter, flaky_proxy, adapter_for):
    flaky_proxy.fail("POST", "ListSubmissions", 429, times=2)
    rows = adapter_for(flaky_proxy.url).submissions(NAME)
    assert rows == [] or all(r.ref for r in rows)
    assert flaky_proxy.count("POST", "ListSubmissions") == 3


def test_backoff_doubles_and_then_gives_up(adapter, flaky_proxy, adapter_for):
    flaky_proxy.fail("POST", "GetLeaderboard", 503)
    flaky = adapter_for(flaky_proxy.url, retries=3)
    with pytest.raises(HostError, match="HTTP 503"):
        flaky.leaderboard(NAME)
    assert flaky.sleeps == [0.5, 1.0, 2.0]
    assert flaky_proxy.count("POST", "GetLeaderboard") == 4


def test_a_submission_is_never_retried_after_the_host_may_have_it(
    adapter, flaky_proxy, adapter_for, tmp_path
):
    file = good_submission(adapter, tmp_path)
    flaky_proxy.fail("POST", "CreateSubmission", 500)
    with pytest.raises(HostError):
        adapter_for(flaky_proxy.url).submit(NAME, file, "x")
    assert flaky_proxy.count("POST", "CreateSubmission") == 1


def test_could_not_submit_is_an_error_not_a_success(adapter, flaky_proxy, adapter_for, tmp_path):
    file = good_submission(adapter, tmp_path)
    before = len(adapter.submissions(NAME))
    flaky_proxy.fail("PUT", "/", 400)
    with pytest.raises(HostError, match="did not accept the upload"):
        adapter_for(flaky_proxy.url).submit(NAME, file, "x")
    assert len(adapter.submissions(NAME)) == before


def test_rules_not_accepted_says_where_to_accept_them(adapter, flaky_proxy, adapter_for):
    flaky_proxy.fail(
        "POST", "ListDataFiles", 403,
        body=b'{"code": 403, "message": "You must accept this competition\'s rules"}',
    )  # fmt: skip
    with pytest.raises(HostError, match="accept the competition's rules.*/rules"):
        adapter_for(flaky_proxy.url).list_files(NAME)


def test_wrong_credentials(competition, host):
    bad = KaggleAdapter(HostTarget(url=host, username="you", key="wrong", label="practice"))
    with pytest.raises(AuthError, match="refused the credentials"):
        bad.list_files(NAME)


def test_unknown_competition(adapter):
    with pytest.raises(NotFoundError):
        adapter.competition("no-such-competition")


def test_daily_limit_is_reported_as_such(new_competition, host, adapter_for, tmp_path):
    new_competition("limited", daily_limit=1)
    adapter = adapter_for(host)
    files = adapter.download("limited", tmp_path / "dl")
    sample = next(f for f in files if f.name == "sample_submission.csv")
    adapter.submit("limited", sample, "first")
    assert adapter.submissions_left("limited") == 0
    with pytest.raises(SubmissionLimitError):
        adapter.submit("limited", sample, "second")


def test_the_clients_own_leaderboard_download_works_through_the_adapter(adapter, tmp_path):
    # The adapter reads the board page by page; the client's zip download stays available.
    adapter.api.competition_leaderboard_download(NAME, str(tmp_path))
    with zipfile.ZipFile(tmp_path / f"{NAME}.zip") as bundle:
        assert bundle.namelist()
