"""pipelines: the ML core (metrics, folds, models, cross-validation, submissions); no CLI, no DB."""
