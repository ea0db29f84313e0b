"""Training and evaluating one run: the engine, the loop, evaluation, the machine it runs on."""
