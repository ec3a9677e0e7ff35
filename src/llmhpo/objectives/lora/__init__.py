"""LoRA fine-tuning of a causal language model as an HPO objective (issue 4).

Modules: :mod:`~llmhpo.objectives.lora.model` (loading, the GGUF conversion cache and the
per-process model cache), :mod:`~llmhpo.objectives.lora.tasks` (the built-in generated
instruction dataset), :mod:`~llmhpo.objectives.lora.data` (Alpaca-format data, mixing, chat
formatting, loss masking), :mod:`~llmhpo.objectives.lora.train` (adapter setup and the training
loop), :mod:`~llmhpo.objectives.lora.evaluate` (loss, exact match),
:mod:`~llmhpo.objectives.lora.lmeval` (lm-evaluation-harness tasks),
:mod:`~llmhpo.objectives.lora.artifacts` (adapters: keep best k, export) and
:mod:`~llmhpo.objectives.lora.objective` (``objective: {type: lora}``). Nothing heavy is
imported here: torch, transformers, peft and lm_eval load on first use.
"""
