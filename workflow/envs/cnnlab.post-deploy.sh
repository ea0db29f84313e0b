#!/usr/bin/env bash
# Snakemake runs this once inside the new conda environment, from the project folder.
set -euo pipefail
pip install -e .
