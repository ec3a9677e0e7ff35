"""Loaders of llmhpo's offline lm-eval tasks: the data lies next to this file."""

from pathlib import Path


def load_arith_mc(**kwargs):
    """The ``llmhpo_arith_mc`` test split from the packaged JSONL file."""
    import datasets

    path = Path(__file__).with_name("llmhpo_arith_mc.jsonl")
    return datasets.DatasetDict(
        {"test": datasets.load_dataset("json", data_files=str(path), split="train")}
    )
