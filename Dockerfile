# One image, two processes: `manage.py up` for a single box, or run the engine and the console
# separately (`manage.py runengine --host 0.0.0.0` / `daphne -b 0.0.0.0 dashboard.asgi:application`).
#
# The image is a deployment: it generates no console secret. Give it one at run time, e.g.
#   docker run -e SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))') \
#              -v bctrl-data:/data -p 8000:8000 bctrl-console
# (or SECRET_KEY_FILE=/run/secrets/console_secret_key with a Docker secret). Without it the console
# refuses to start and says what to set. State lives in the /data volume.
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
ENV CHROMIUM_PATH=/usr/bin/chromium PYTHONUNBUFFERED=1 \
    CONSOLE_LOCAL=false CONSOLE_VAR_DIR=/data ENGINE_VAR_DIR=/data/engine
VOLUME /data
EXPOSE 8000 8787
CMD ["python", "manage.py", "up", "--host", "0.0.0.0"]
