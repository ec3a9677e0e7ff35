"""Compatibility re-exports: the scikit-learn tasks are an objective module,
:mod:`llmhpo.objectives.sklearn_tasks`."""

from llmhpo.objectives.sklearn_tasks import (
    DATASETS,
    MODELS,
    SklearnTask,
    from_config,
    get_task,
    model_space,
)

__all__ = ["MODELS", "DATASETS", "SklearnTask", "get_task", "model_space", "from_config"]
