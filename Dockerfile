# One image, two processes: `manage.py up` for a single box, or run the engine and the console
# separately (`manage.py runengine --host 0.0.0.0` / `daphne -b 0.0.0.0 dashboard.asgi:application`).
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
RUN pip install --no-cache-dir .
# Chromium's URL policy for runtimes (engine/egress/chromium.py), installed for the image's only
# browser user: a container usually may not make the mount namespace the engine uses elsewhere.
RUN mkdir -p /etc/chromium/policies/managed \
 && python -c "import json; from engine.egress.chromium import managed_policy; print(json.dumps(managed_policy()))" \
    > /etc/chromium/policies/managed/bctrl-engine.json
ENV CHROMIUM_PATH=/usr/bin/chromium PYTHONUNBUFFERED=1
EXPOSE 8000 8787
CMD ["python", "manage.py", "up", "--host", "0.0.0.0"]
