# drydock's stand-in for SageMaker's XGBoost framework image
#   683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1
# Built by scripts/docker/build-images.sh (docker build --network host, classic builder)
# from drydock/base:bookworm, a debootstrap'ed Debian with python3.
#
#   train  the sagemaker-training toolkit (script mode: runs the user's entry point with
#          SM_CHANNEL_*, SM_MODEL_DIR, hyperparameters as --args); SageMaker local mode's
#          compose file runs `command: train`.
#   serve  drydock's serve.py: the SageMaker inference contract on port 8080
#          (GET /ping, POST /invocations), `command: serve`.
#   python3 with xgboost, pandas, scikit-learn for ScriptProcessor steps.
#
# No xgboost-cpu 1.7.x exists on PyPI; 2.1.4 is the oldest CPU-only wheel (the plain
# `xgboost` wheel pulls a large NVIDIA library).

# ---- builder: sagemaker-training is an sdist with a C extension ------------------
FROM drydock/base:bookworm AS builder
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends gcc libc6-dev python3-dev >/dev/null \
 && rm -rf /var/lib/apt/lists/*

ARG NUMPY=1.26.4
ARG PANDAS=2.1.4
ARG SKLEARN=1.2.2
ARG XGBOOST=2.1.4
ARG SM_TRAINING=5.1.4
# Bytecode is compiled here: without .pyc files every container start recompiles pandas &co.
# `pip install wheel` first, or the sdist fails with "invalid command 'bdist_wheel'".
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install wheel \
 && /opt/venv/bin/pip install "numpy==${NUMPY}" "pandas==${PANDAS}" "scikit-learn==${SKLEARN}" \
        "xgboost-cpu==${XGBOOST}" "sagemaker-training==${SM_TRAINING}" \
 && /opt/venv/bin/python -m compileall -q /opt/venv >/dev/null

# ---- runtime ----------------------------------------------------------------
FROM drydock/base:bookworm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8
COPY --from=builder /opt/venv /opt/venv
COPY serve.py /opt/drydock/serve.py
RUN printf '#!/bin/sh\nexec /opt/venv/bin/python3 /opt/drydock/serve.py "$@"\n' >/usr/local/bin/serve \
 && chmod 755 /usr/local/bin/serve \
 && /opt/venv/bin/python -c "import xgboost, sklearn, pandas, sagemaker_training; print('xgboost', xgboost.__version__, 'sklearn', sklearn.__version__, 'pandas', pandas.__version__)" \
 && test -x /opt/venv/bin/train

ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /opt/ml
