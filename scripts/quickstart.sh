#!/usr/bin/env bash
# Quick start from a fresh clone: set up, get Fashion-MNIST, prune mnist_net with AGP
# (schedules/mnist_net_agp.yaml, capped at 150 batches per epoch).
# Extra arguments go to `compress` (e.g. --out DIR, --threads N).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

DATA=/usr/share/datasets/fashion-mnist
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "quickstart: installing the Debian package dataset-fashion-mnist"
    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null
  else
    echo "quickstart: Fashion-MNIST is missing; run: sudo apt-get install dataset-fashion-mnist" >&2
    exit 2
  fi
fi

# The short run: the full schedule's epochs, 150 batches of 128 images per epoch.
exec .venv/bin/compress --schedule schedules/mnist_net_agp.yaml --max-batches-per-epoch 150 \
  --out runs/mnist_net_agp_quick "$@"
