"""Where the engine's own secrets live: beside ENGINE_VAR_DIR while local, given in a deployment."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def manage(var_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ENGINE_", "DJANGO_SETTINGS"))}
    environment.update(ENGINE_VAR_DIR=str(var_dir), **env)
    return subprocess.run(
        [sys.executable, "manage.py", "createapikey", "--name", "probe", "--scope", "read"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_deployment_refuses_to_start_without_its_keys(tmp_path: Path) -> None:
    refused = manage(tmp_path / "engine", ENGINE_LOCAL="false")
    assert refused.returncode != 0
    assert "ENGINE_VAULT_KEY (or ENGINE_VAULT_KEY_FILE) must be set when ENGINE_LOCAL=false" in refused.stderr
    assert not (tmp_path / "secrets").exists() and not (tmp_path / "engine" / "secrets").exists()
    key_file = tmp_path / "vault.key"
    key_file.write_text(Fernet.generate_key().decode())
    given = manage(
        tmp_path / "engine",
        ENGINE_LOCAL="false",
        ENGINE_VAULT_KEY_FILE=str(key_file),
        ENGINE_SECRET_KEY="s" * 50,
    )
    assert given.returncode == 0, given.stderr


def test_local_keys_are_generated_beside_the_var_dir_and_moved_out_of_it(tmp_path: Path) -> None:
    legacy = tmp_path / "engine" / "secrets"
    legacy.mkdir(parents=True)
    old_key = Fernet.generate_key().decode()
    (legacy / "engine_vault_key").write_text(old_key)  # where earlier versions generated it
    assert manage(tmp_path / "engine").returncode == 0
    assert (tmp_path / "secrets" / "engine_vault_key").read_text() == old_key  # the same key, moved
    assert not (legacy / "engine_vault_key").exists()
    assert (tmp_path / "secrets" / "engine_secret_key").stat().st_mode & 0o077 == 0
