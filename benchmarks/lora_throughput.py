"""LoRA fine-tuning throughput: llmhpo's objective vs a plain transformers Trainer + PEFT script.

Both fine-tune the same model on the same data with the same LoRA settings, batch size and
number of steps, one after the other in this process (the base model is loaded once, before
either is timed). Printed per side: fine-tuning tokens/s (non-padding tokens over training
time), the per-trial overhead (wall time of one whole trial, adapter setup and validation loss
included, minus its training time), and a model-FLOPs utilization estimate
``tokens/s * 4 * N / peak`` (N = model parameters; LoRA computes no weight gradients of the
frozen base, so ~4N FLOPs per token instead of 6N) when ``--peak-tflops`` is given.

    python benchmarks/lora_throughput.py --steps 8 --batch-size 8 --peak-tflops 0.1
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def _ours(obj: Any, params: dict[str, Any]) -> dict[str, float]:
    from llmhpo.study.outcome import TrialContext

    t0 = time.perf_counter()
    m = obj(params, TrialContext(0))
    wall = time.perf_counter() - t0
    return {"tokens": m["train_tokens"], "train_s": m["train_time_s"], "wall_s": wall,
            "val_loss": m["val_loss"], "train_loss": m["train_loss"]}


def _trainer(obj: Any, params: dict[str, Any], out_dir: str) -> dict[str, float]:
    """The plain script: PEFT get_peft_model + transformers Trainer on the same encoded data."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    from llmhpo.finetune.data import collate, encode_example

    model, tok, device = obj._model()
    tc = obj.train_config
    sp = obj.splits()
    enc_train = [encode_example(tok, r, tc.max_seq_len, tc.system_prompt) for r in sp["train"]]
    enc_val = [encode_example(tok, r, tc.max_seq_len, tc.system_prompt) for r in sp["validation"]]
    counted = {"tokens": 0, "on": False}

    def collator(batch: list[dict[str, Any]]) -> dict[str, Any]:
        out = collate(batch, tok.pad_token_id)
        if counted["on"]:  # training batches only
            counted["tokens"] += int(out["attention_mask"].sum())
        return out

    t0 = time.perf_counter()
    torch.manual_seed(tc.seed)
    peft_model = get_peft_model(model, LoraConfig(
        r=params["lora_rank"], lora_alpha=params["lora_alpha"],
        lora_dropout=params["lora_dropout"], target_modules=list(tc.target_modules),
        task_type="CAUSAL_LM"))
    args = TrainingArguments(
        output_dir=out_dir, max_steps=tc.steps, per_device_train_batch_size=tc.batch_size,
        per_device_eval_batch_size=obj.config["eval_batch_size"],
        gradient_accumulation_steps=tc.grad_accum, learning_rate=params["learning_rate"],
        weight_decay=params.get("weight_decay", 0.0), warmup_steps=tc.warmup_steps,
        lr_scheduler_type="linear", logging_steps=10**6, save_strategy="no", report_to=[],
        seed=tc.seed, use_cpu=device == "cpu", remove_unused_columns=False,
        dataloader_num_workers=0, disable_tqdm=True,
    )
    trainer = Trainer(model=peft_model, args=args, train_dataset=enc_train,
                      eval_dataset=enc_val, data_collator=collator)
    counted["on"] = True
    res = trainer.train()
    counted["on"] = False
    ev = trainer.evaluate()
    wall = time.perf_counter() - t0
    peft_model.unload()
    return {"tokens": counted["tokens"], "train_s": float(res.metrics["train_runtime"]),
            "wall_s": wall, "val_loss": float(ev["eval_loss"]),
            "train_loss": float(res.metrics["train_loss"])}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-seq-len", type=int, default=128)
    p.add_argument("--n-train", type=int, default=256)
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="peak FLOP/s of the device in TFLOP/s (CPU: cores x GHz x FLOPs/cycle)")
    p.add_argument("--json", help="also write the figures to this JSON file")
    a = p.parse_args(argv)

    from llmhpo.finetune.objective import LoRAObjective

    obj = LoRAObjective({
        "model": a.model, "device": a.device, "steps": a.steps, "batch_size": a.batch_size,
        "max_seq_len": a.max_seq_len, "accuracy": False, "system_prompt": "Answer briefly.",
        "data": {"n_train": a.n_train, "n_val": 32, "n_test": 0},
    })
    t0 = time.perf_counter()
    model, _, device = obj._model()
    load_s = time.perf_counter() - t0
    n_params = sum(p.numel() for p in model.parameters())
    params = {"learning_rate": 1e-3, "lora_rank": 8, "lora_alpha": 32, "lora_dropout": 0.0}
    import tempfile

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows["trainer"] = _trainer(obj, params, tmp)  # first: absorbs one-off warm-up costs
        rows["llmhpo"] = _ours(obj, params)
    print(f"model {a.model} ({n_params / 1e6:.1f}M params) on {device}, loaded in {load_s:.1f} s; "
          f"{a.steps} steps x batch {a.batch_size}")
    print(f"{'':10s} {'tokens/s':>9s} {'train s':>8s} {'overhead s':>10s} {'val_loss':>9s} "
          f"{'MFU':>7s}")
    for name, r in rows.items():
        r["tokens_per_s"] = r["tokens"] / r["train_s"]
        r["overhead_s"] = r["wall_s"] - r["train_s"]
        r["mfu"] = (r["tokens_per_s"] * 4 * n_params / (a.peak_tflops * 1e12)
                    if a.peak_tflops else None)
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "-"
        print(f"{name:10s} {r['tokens_per_s']:9.1f} {r['train_s']:8.1f} {r['overhead_s']:10.1f} "
              f"{r['val_loss']:9.4f} {mfu:>7s}")
    ratio = rows["llmhpo"]["tokens_per_s"] / rows["trainer"]["tokens_per_s"]
    print(f"throughput ratio llmhpo / Trainer: {ratio:.2f}")
    result = {"model": a.model, "device": device, "n_params": n_params, "load_s": load_s,
              "steps": a.steps, "batch_size": a.batch_size, "rows": rows, "ratio": ratio}
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
