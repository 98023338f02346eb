# One image, two processes: `manage.py up` for a single box, or run the engine and the console
# separately (`manage.py runengine --host 0.0.0.0` / `daphne -b 0.0.0.0 dashboard.asgi:application`).
#
# The image is a deployment: it generates no secret. Give it the console's and the engine's at run
# time, e.g.
#   docker run -e SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))') \
#              -e ENGINE_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))') \
#              -e ENGINE_VAULT_KEY=$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
#              -v bctrl-data:/data -p 8000:8000 bctrl-console
# (or the *_FILE variants with Docker secrets). Without them the console or the engine refuses to
# start and says what to set. State lives in the /data volume; the vault key is not kept there.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dashboard dashboard
COPY engine engine
COPY shared shared
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install --no-cache-dir . \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /data bctrl \
 && mkdir -p /data && chown bctrl:bctrl /data
ENV CHROMIUM_PATH=/usr/bin/chromium PYTHONUNBUFFERED=1 \
    CONSOLE_LOCAL=false CONSOLE_VAR_DIR=/data ENGINE_LOCAL=false ENGINE_VAR_DIR=/data/engine
VOLUME /data
EXPOSE 8000 8787
# Healthy while both services are ready: each /readyz answers 503 within seconds when its database
# (or, for the console, the API) is gone. An engine that cannot isolate runtimes (below) is still
# ready: it refuses launches and says why, but restarting it would not help. A service run alone
# checks its own (docs/deploy.md).
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request as u; [u.urlopen(f'http://127.0.0.1:{p}/readyz', timeout=8) for p in (8787, 8000)]"
# Runtimes are untrusted and run isolated (engine/egress/launcher.py): each browser in network and
# mount namespaces of its own, as a uid of its own, with Chromium's sandbox on. Making those takes
# root in the container; the browsers themselves never run as root. As built, the image runs as
# the unprivileged user `bctrl`: the console works, and the engine says at start that it cannot
# isolate runtimes and refuses to launch them (503 runtime.isolation_unavailable). To run them:
#   docker run --user 0 --cap-add SYS_ADMIN --cap-add NET_ADMIN \
#              --security-opt seccomp=unconfined --security-opt apparmor=unconfined ...
# (SYS_ADMIN: namespaces, mounts, pivot_root; NET_ADMIN: `lo` up in each runtime's network
# namespace; Docker's default seccomp and AppArmor profiles refuse namespaces and mounts, and
# seccomp=unconfined also lets Chromium make the user namespaces of its own sandbox: without it
# runtimes run isolated with --no-sandbox, said in the log and in /healthz). Or, knowingly,
# -e ENGINE_ALLOW_UNISOLATED=true runs them unisolated as `bctrl`, with a warning at every launch.
USER bctrl
CMD ["python", "manage.py", "up", "--host", "0.0.0.0"]
