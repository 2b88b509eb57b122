# drydock's stand-in for SageMaker's scikit-learn processing image
#   683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3
# Built by scripts/docker/build-images.sh (docker build --network host, classic builder)
# from drydock/base:bookworm, a debootstrap'ed Debian with python3.
#
# SageMaker processing only needs `python3` on PATH with the script's libraries: the
# SDK's compose file sets the entrypoint to [python3, /opt/ml/processing/input/code/X].
FROM drydock/base:bookworm

# Containers reach PyPI only with host networking AND the host's CA bundle.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8

# Bytecode is compiled here: without .pyc files every container start recompiles pandas &co (about +1.5 s).
# Versions of the real 1.2-1 image (scikit-learn 1.2.x needs numpy < 2).
ARG NUMPY=1.26.4
ARG PANDAS=2.1.4
ARG SKLEARN=1.2.2
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install "numpy==${NUMPY}" "pandas==${PANDAS}" "scikit-learn==${SKLEARN}" \
 && /opt/venv/bin/python -m compileall -q /opt/venv >/dev/null \
 && /opt/venv/bin/python -c "import sklearn, pandas, numpy; print('sklearn', sklearn.__version__, 'pandas', pandas.__version__, 'numpy', numpy.__version__)"

ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /opt/ml
