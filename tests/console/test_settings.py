"""The console's settings, each read in a fresh interpreter with exactly the environment a test gives."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the tested import prints: the values that matter, as JSON.
SHOW = (
    "import json, dashboard.settings as s; "
    "print(json.dumps({'secret_key': s.SECRET_KEY, 'api_key': s.BCTRL_API_KEY, 'hosts': s.ALLOWED_HOSTS}))"
)


def _settings(var_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SECRET_KEY", "BCTRL_", "CONSOLE_"))}
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env={**clean, "CONSOLE_VAR_DIR": str(var_dir), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _values(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_deployment_without_a_secret_key_refuses_to_start_and_says_what_to_set(tmp_path: Path) -> None:
    result = _settings(tmp_path, CONSOLE_LOCAL="false")
    assert result.returncode != 0
    assert "Set SECRET_KEY (or SECRET_KEY_FILE" in result.stderr
    assert list(tmp_path.iterdir()) == []  # and generated nothing


def test_a_deployment_writes_nothing_at_import(tmp_path: Path) -> None:
    values = _values(_settings(tmp_path, CONSOLE_LOCAL="false", SECRET_KEY="s3cret-from-the-deployment"))
    assert values["secret_key"] == "s3cret-from-the-deployment"
    assert list(tmp_path.iterdir()) == []


def test_a_deployment_with_no_database_directory_says_so(tmp_path: Path) -> None:
    result = _settings(tmp_path / "missing", CONSOLE_LOCAL="false", SECRET_KEY="x")
    assert result.returncode != 0 and "does not exist" in result.stderr and "DATABASE_URL" in result.stderr


def test_secrets_come_from_their_file_without_the_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("from-a-file\n")
    (tmp_path / "api_key").write_text("$not-a-reference\n")
    values = _values(
        _settings(
            tmp_path,
            CONSOLE_LOCAL="false",
            SECRET_KEY_FILE=str(tmp_path / "secret_key"),
            BCTRL_API_KEY_FILE=str(tmp_path / "api_key"),
        )
    )
    assert values["secret_key"] == "from-a-file"
    assert values["api_key"] == "$not-a-reference"


def test_an_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    result = _settings(tmp_path, SECRET_KEY_FILE=str(tmp_path / "nowhere"))
    assert result.returncode != 0 and "SECRET_KEY_FILE names" in result.stderr and "nowhere" in result.stderr


def test_a_laptop_generates_its_secret_once_and_keeps_it_private(tmp_path: Path) -> None:
    first = _settings(tmp_path)
    assert "Generated SECRET_KEY" in first.stderr  # never silently
    second = _settings(tmp_path)
    assert _values(first)["secret_key"] == _values(second)["secret_key"]
    assert "Generated" not in second.stderr
    path = tmp_path / "secrets" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_default_hosts_are_loopback_only(tmp_path: Path) -> None:
    assert _values(_settings(tmp_path, SECRET_KEY="x"))["hosts"] == ["127.0.0.1", "localhost", "[::1]"]


def test_the_docker_image_runs_as_a_deployment() -> None:
    env_lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if "CONSOLE_LOCAL=" in line]
    assert env_lines and all("CONSOLE_LOCAL=false" in line for line in env_lines)


def test_asking_a_command_for_help_writes_nothing(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SECRET_KEY", "BCTRL_", "CONSOLE_"))}
    var_dir = tmp_path / "var"
    for argv in (["up", "--help"], ["help"], ["createuser", "-h"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=ROOT,
            env={**clean, "CONSOLE_VAR_DIR": str(var_dir)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "usage:" in result.stdout.lower() or "subcommands" in result.stdout.lower()
        assert not var_dir.exists(), f"manage.py {' '.join(argv)} made {var_dir}"


def test_single_sign_on_without_a_client_or_a_role_mapping_refuses_to_start(tmp_path: Path) -> None:
    result = _settings(tmp_path, OIDC_ISSUER="https://id.example.test/realms/acme")
    assert result.returncode != 0
    assert "OIDC_CLIENT_ID, OIDC_CLIENT_SECRET" in result.stderr
    mapped = _settings(
        tmp_path, OIDC_ISSUER="https://id.example.test", OIDC_CLIENT_ID="c", OIDC_CLIENT_SECRET="s"
    )
    assert mapped.returncode != 0 and "no group maps to a role" in mapped.stderr


def test_turning_local_accounts_off_without_single_sign_on_is_refused(tmp_path: Path) -> None:
    result = _settings(tmp_path, LOCAL_ACCOUNTS="false")
    assert result.returncode != 0 and "nobody could sign in" in result.stderr


def test_a_log_format_other_than_plain_or_json_is_refused(tmp_path: Path) -> None:
    result = _settings(tmp_path, LOG_FORMAT="xml")
    assert result.returncode != 0 and "LOG_FORMAT is 'xml': use plain or json." in result.stderr
