# OsteoLens web: Django + whitenoise (and the bookkeeping Celery worker, same image).
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends \
      nodejs npm libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
# CPU torch from the PyTorch CPU index: the default index would pull CUDA packages.
RUN python -c 'import tomllib; d=tomllib.load(open("pyproject.toml","rb"))["project"]; print("\n".join(d["dependencies"]))' > requirements.txt \
    && pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "$(grep '^torch==' requirements.txt)" \
    && pip install --no-cache-dir -r requirements.txt gunicorn==23.0.0
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && DJANGO_SETTINGS_MODULE=config.settings SECRET_KEY=build-only-build-only-build-only-xx \
      python manage.py collectstatic --noinput -v 0
RUN useradd --system --uid 1000 osteolens && mkdir -p /data && chown osteolens /data
USER osteolens
ENV OSTEOLENS_VAR_DIR=/data MEDIA_ROOT=/data/media MODELS_DIR=/data/models
EXPOSE 8000
CMD ["gunicorn", "--config", "platform/config/gunicorn.py", "--bind", "0.0.0.0:8000", "config.wsgi:application"]
