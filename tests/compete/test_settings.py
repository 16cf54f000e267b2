"""Settings: flags over environment over config.toml over defaults."""

from __future__ import annotations

import pytest

from compete.errors import UsageError
from compete.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for key in ["COMPETE_HOME", "COMPETE_HOST", "COMPETE_DATABASE_URL", "COMPETE_TEAM"]:
        monkeypatch.delenv(key, raising=False)


def test_defaults_put_everything_in_home(tmp_path):
    settings = load_settings(home=tmp_path)
    assert settings.home == tmp_path.resolve()
    assert settings.host == "auto"
    assert settings.db_url == f"sqlite:///{tmp_path.resolve() / 'history.sqlite'}"
    assert settings.competitions_dir == tmp_path.resolve() / "competitions"


def test_home_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPETE_HOME", str(tmp_path))
    assert load_settings().home == tmp_path.resolve()


def test_config_file_then_environment_then_flags(tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text('host = "kaggle"\nteam = "file-team"\n')
    settings = load_settings(home=tmp_path)
    assert (settings.host, settings.team) == ("kaggle", "file-team")
    monkeypatch.setenv("COMPETE_TEAM", "env-team")
    assert load_settings(home=tmp_path).team == "env-team"
    assert load_settings(home=tmp_path, team="flag-team").team == "flag-team"


def test_database_url_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPETE_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert load_settings(home=tmp_path).db_url == "postgresql+psycopg://u@h/db"


def test_bad_toml_is_a_usage_error_naming_the_file(tmp_path):
    (tmp_path / "config.toml").write_text("host = \n")
    with pytest.raises(UsageError, match="config.toml is not valid TOML"):
        load_settings(home=tmp_path)


def test_bad_host_names_the_choices(tmp_path):
    with pytest.raises(UsageError, match="host must be auto, kaggle, practice or a URL"):
        load_settings(home=tmp_path, host="ftp://x")
