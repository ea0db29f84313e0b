"""The runs of an experiment together: summaries over seeds, their statistics, the 1x1 equivalence check."""
