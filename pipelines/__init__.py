"""pipelines: the ML core (schema, features, metrics, folds, models, cross-validation, tuning,
blending, submissions); no CLI, no DB."""
