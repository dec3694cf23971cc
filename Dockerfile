# gen3d service image: CUDA + PyTorch, gen3d with the `cuda` extra (nvdiffrast) and the
# `distributed` one (Celery); runs `gen3d serve`, or `gen3d worker` as its command.
#
#   docker build -t gen3d .
#   docker run --gpus all -p 8000:8000 -v gen3d-data:/data gen3d
#
# The devel base brings nvcc, which nvdiffrast needs: it compiles its CUDA kernels at first use
# and caches them under /data/cache, so a container restarted on the same volume skips that.
ARG BASE_IMAGE=pytorch/pytorch:2.7.1-cuda12.8-cudnn9-devel
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GEN3D_DATA_DIR=/data \
    GEN3D_HOST=0.0.0.0 \
    GEN3D_PORT=8000 \
    TORCH_EXTENSIONS_DIR=/data/cache/torch_extensions \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /opt/gen3d
# The base image's torch is kept: pyproject's range admits it, so pip installs no second torch.
COPY pyproject.toml README.md LICENSE ./
COPY gen3d ./gen3d
COPY vae ./vae
COPY dit ./dit
COPY render ./render
COPY server ./server
RUN python -m pip install ninja && python -m pip install ".[cuda,distributed]" && gen3d --version

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin gen3d \
    && mkdir -p /data \
    && chown gen3d:gen3d /data
USER gen3d
VOLUME ["/data"]
EXPOSE 8000

CMD ["gen3d", "serve"]
