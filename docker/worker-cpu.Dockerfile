# OsteoLens inference worker on CPU: torch + MONAI, no Django.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml ./
RUN python -c 'import tomllib; d=tomllib.load(open("pyproject.toml","rb"))["project"]; print("\n".join(d["dependencies"]))' > requirements.txt \
    && pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "$(grep '^torch==' requirements.txt)" \
    && pip install --no-cache-dir -r requirements.txt
COPY inference_worker ./inference_worker
RUN useradd --system --uid 1000 osteolens
USER osteolens
ENV OSTEOLENS_VAR_DIR=/data MEDIA_ROOT=/data/media MODELS_DIR=/data/models
CMD ["celery", "-A", "inference_worker.celery_app", "worker", "-Q", "gpu,gpu-train,gpu-backfill", "--concurrency", "1", "-l", "INFO"]
