"""Results on disk: where they lie, reading them back checked, whether a run is current, what code made it."""
