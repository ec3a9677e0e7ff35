"""An LLM as the optimizer (Zhang et al. 2023): prompts generated from the search space, a
local model (default) or any OpenAI-compatible server, validated JSON answers.

Nothing heavy is imported here: ``transformers``/``xgrammar``/``openai`` load on first query.
"""

from llmhpo.optimizers.llm.optimizer import LLMInitializer, LLMOptimizer

__all__ = ["LLMOptimizer", "LLMInitializer"]
