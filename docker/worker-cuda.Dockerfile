# OsteoLens inference worker on an NVIDIA GPU: same code, CUDA build of torch.
FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends software-properties-common \
    && add-apt-repository ppa:deadsnakes/ppa && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    && rm -rf /var/lib/apt/lists/* && python3.11 -m venv /venv
ENV PATH=/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml ./
RUN python -c 'import tomllib; d=tomllib.load(open("pyproject.toml","rb"))["project"]; print("\n".join(d["dependencies"]))' > requirements.txt \
    && pip install --no-cache-dir "$(grep '^torch==' requirements.txt)" \
    && pip install --no-cache-dir -r requirements.txt
COPY inference_worker ./inference_worker
RUN useradd --system --uid 1000 osteolens
USER osteolens
ENV OSTEOLENS_VAR_DIR=/data MEDIA_ROOT=/data/media MODELS_DIR=/data/models
CMD ["celery", "-A", "inference_worker.celery_app", "worker", "-Q", "gpu,gpu-train,gpu-backfill", "--concurrency", "1", "-l", "INFO"]
