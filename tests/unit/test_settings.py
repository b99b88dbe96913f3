from pathlib import Path

from stateline.settings import Settings


def test_flags_beat_environment_beats_defaults(monkeypatch):
    monkeypatch.setenv("STATELINE_PORT", "9000")
    monkeypatch.setenv("STATELINE_APPS", "5")
    s = Settings.load(port=7000, apps=None)
    assert s.port == 7000  # flag wins
    assert s.apps == 5  # env wins over default
    assert s.host == "127.0.0.1"  # default


def test_embedded_sqlite_lives_in_the_data_dir(tmp_path):
    s = Settings.load(data_dir=tmp_path)
    assert s.effective_database_url == f"sqlite:///{(tmp_path / 'stateline.db').resolve()}"
    assert Settings.load(database_url="postgresql://x@h/db").effective_database_url == (
        "postgresql://x@h/db"
    )


def test_environ_round_trips_through_load(monkeypatch):
    s = Settings.load(data_dir=Path("/tmp/x"), redis_url="redis://h:1", instance_id="app-2")
    for key, value in s.environ().items():
        monkeypatch.setenv(key, value)
    assert Settings.load() == s
