"""What only the drivers need (Snakemake, DVC, `cnnlab plan`): planning, calibration, freshness,
left-out stages."""
