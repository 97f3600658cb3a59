import pytest

from fartkoll.settings import Settings, SettingsError


def test_environment_overrides_file_and_nested_keys(tmp_path, monkeypatch):
    f = tmp_path / "fartkoll.toml"
    f.write_text('threshold_over_kmh = 5.0\n[localdb]\nport = 5500\ndatabase = "fk"\n')
    monkeypatch.setenv("FARTKOLL_LOCALDB__PORT", "5600")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FARTKOLL_DATABASE_URL", raising=False)
    s = Settings.load(f)
    assert s.localdb.port == 5600            # environment wins
    assert s.localdb.database == "fk"        # file value kept beside it
    assert s.threshold_over_kmh == 5.0
    assert s.database_dsn() == "postgresql://postgres@127.0.0.1:5600/fk"


def test_database_url_without_prefix_is_honoured(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example:5432/x")
    assert Settings.load().database_dsn() == "postgresql://u@db.example:5432/x"


@pytest.mark.parametrize(
    "env,field,value",
    [
        ({"FARTKOLL_LOCALDB__PORT": "80"}, "localdb.port", "80"),
        ({"FARTKOLL_THRESHOLD_OVER_KMH": "lots"}, "threshold_over_kmh", "lots"),
        ({"FARTKOLL_DEFAULT_TIME_ZONE": "Europe/Stockholmm"}, "default_time_zone", "Europe/Stockholmm"),
        ({"DATABASE_URL": "mysql://x"}, "database_url", "mysql://x"),
    ],
)
def test_invalid_values_are_named_with_field_and_value(monkeypatch, env, field, value):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as e:
        Settings.load()
    assert field in str(e.value) and repr(value) in str(e.value)


def test_unknown_key_in_file_and_missing_or_broken_file(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("treshold_over_kmh = 4\n")
    with pytest.raises(SettingsError, match="treshold_over_kmh"):
        Settings.load(f)
    with pytest.raises(SettingsError, match="does not exist"):
        Settings.load(tmp_path / "none.toml")
    f.write_text("x = = 1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings.load(f)
