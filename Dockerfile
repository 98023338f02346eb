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
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install --no-cache-dir . && mkdir -p /data
# Chromium's URL policy for runtimes (engine/egress/launcher.py), installed for the image's only
# browser user: a container usually may not make the mount namespace the engine uses elsewhere.
RUN mkdir -p /etc/chromium/policies/managed \
 && python -c "import json; from engine.egress.launcher import managed_policy; print(json.dumps(managed_policy()))" \
    > /etc/chromium/policies/managed/bctrl-engine.json
ENV CHROMIUM_PATH=/usr/bin/chromium PYTHONUNBUFFERED=1 \
    CONSOLE_LOCAL=false CONSOLE_VAR_DIR=/data ENGINE_LOCAL=false ENGINE_VAR_DIR=/data/engine
VOLUME /data
EXPOSE 8000 8787
# Healthy while both services are ready: each /readyz answers 503 within seconds when its database
# (or, for the console, the API) is gone. A service run alone checks its own (docs/deploy.md).
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request as u; [u.urlopen(f'http://127.0.0.1:{p}/readyz', timeout=8) for p in (8787, 8000)]"
CMD ["python", "manage.py", "up", "--host", "0.0.0.0"]
