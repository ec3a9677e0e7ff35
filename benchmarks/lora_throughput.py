"""LoRA fine-tuning throughput: llmhpo's objective vs a plain transformers Trainer + PEFT script.

Both sides fine-tune the same base model (loaded once, before anything is timed) on the same
encoded data with the same LoRA settings, batch size, learning-rate schedule and number of
steps, one after the other in this process, ``--repeats`` times in alternating order after one
untimed warm-up trial. Printed per side (median over the repeats):

* fine-tuning throughput: non-padding training tokens / training time, and all computed
  positions (padding included) / training time. The Trainer is fed the very micro-batches
  llmhpo's loop draws (same order, a sequential sampler), so both sides compute the same
  tokens and the figures compare the loops themselves;
* per-trial overhead: wall time of one whole trial (adapter setup, data encoding, training,
  validation loss, adapter removal) minus its training time;
* a model-FLOPs utilization estimate ``tokens/s * 4 * N / peak`` when ``--peak-tflops`` is
  given: N = parameters of the base model; LoRA computes no weight gradients of the frozen
  base, so a token costs ~2N FLOPs forward + ~2N backward (activation gradients) instead of 6N.

    python benchmarks/lora_throughput.py --steps 10 --repeats 2 --peak-tflops 0.333

(0.333 TFLOP/s: 2 cores x 2.6 GHz x 2 AVX-512 FMA units x 16 fp32 lanes x 2 FLOPs.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from typing import Any

PARAMS = {"learning_rate": 1e-3, "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.05,
          "weight_decay": 0.0}


def _ours(obj: Any) -> dict[str, float]:
    """One trial of llmhpo's objective (validation loss only, no generation)."""
    from llmhpo.objectives.base import TrialContext

    t0 = time.perf_counter()
    m = obj(PARAMS, TrialContext(0))
    return {"tokens": m["train_tokens"], "padded": m["train_padded_tokens"],
            "train_s": m["train_time_s"],
            "wall_s": time.perf_counter() - t0, "val_loss": m["val_loss"],
            "train_loss": m["train_loss"]}


def _trainer(obj: Any, out_dir: str) -> dict[str, float]:
    """The plain script: PEFT ``get_peft_model`` + ``transformers.Trainer`` on the same data."""
    import torch
    from transformers import Trainer, TrainingArguments

    from llmhpo.objectives.lora.data import collate, encode_example
    from llmhpo.objectives.lora.train import _batches, lora_adapter

    class SameBatchesTrainer(Trainer):
        # the dataset below is already in llmhpo's batch order: do not reshuffle it
        def _get_train_sampler(self, *args: Any, **kwargs: Any) -> Any:
            dataset = args[0] if args else kwargs.get("train_dataset")
            return torch.utils.data.SequentialSampler(dataset or self.train_dataset)

    t0 = time.perf_counter()
    model, tok, device = obj.model()
    tc = obj.train_config
    sp = obj.splits()
    enc_train = [encode_example(tok, r, tc.max_seq_len, tc.system_prompt) for r in sp["train"]]
    draw = _batches(enc_train, tc.batch_size, tc.seed)
    n_micro = tc.n_steps(len(enc_train)) * tc.grad_accum
    same_order = [ex for _ in range(n_micro) for ex in next(draw)]
    enc_val = [encode_example(tok, r, tc.max_seq_len, tc.system_prompt) for r in sp["validation"]]
    counted = {"tokens": 0, "padded": 0, "on": False}

    def collator(batch: list[dict[str, Any]]) -> dict[str, Any]:
        out = collate(batch, tok.pad_token_id)
        if counted["on"]:  # training batches only
            counted["tokens"] += int(out["attention_mask"].sum())
            counted["padded"] += out["input_ids"].numel()
        return out

    # the same PEFT adapter set-up and removal as llmhpo's objective (seeded, not merged)
    with lora_adapter(model, PARAMS, tc.target_modules, tc.seed) as peft_model:
        args = TrainingArguments(
            output_dir=out_dir, max_steps=tc.steps, per_device_train_batch_size=tc.batch_size,
            per_device_eval_batch_size=obj.config["eval"]["batch_size"],
            gradient_accumulation_steps=tc.grad_accum, learning_rate=PARAMS["learning_rate"],
            weight_decay=PARAMS["weight_decay"], warmup_steps=tc.warmup_steps,
            lr_scheduler_type="linear", logging_steps=10**6, save_strategy="no", report_to=[],
            seed=tc.seed, use_cpu=device == "cpu", remove_unused_columns=False,
            dataloader_num_workers=0, disable_tqdm=True,
        )
        trainer = SameBatchesTrainer(model=peft_model, args=args, train_dataset=same_order,
                                     eval_dataset=enc_val, data_collator=collator)
        counted["on"] = True
        res = trainer.train()
        counted["on"] = False
        ev = trainer.evaluate()
    return {"tokens": counted["tokens"], "padded": counted["padded"],
            "train_s": float(res.metrics["train_runtime"]),
            "wall_s": time.perf_counter() - t0, "val_loss": float(ev["eval_loss"]),
            "train_loss": float(res.metrics["train_loss"])}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-seq-len", type=int, default=128)
    p.add_argument("--n-train", type=int, default=256)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="peak FLOP/s of the device in TFLOP/s, for the MFU estimate")
    p.add_argument("--json", help="also write the figures to this JSON file")
    a = p.parse_args(argv)

    from llmhpo.objectives.lora.objective import LoRAObjective

    def objective(steps: int) -> LoRAObjective:
        return LoRAObjective({
            "model": a.model, "device": a.device, "dtype": a.dtype,
            "data": {"n_train": a.n_train, "n_val": 32, "n_test": 0},
            "train": {"steps": steps, "batch_size": a.batch_size, "max_seq_len": a.max_seq_len,
                      "warmup_steps": 2, "system_prompt": "Answer briefly."},
            "eval": {"accuracy": "none", "batch_size": 32},
        })

    obj = objective(a.steps)
    t0 = time.perf_counter()
    model, _, device = obj.model()
    load_s = time.perf_counter() - t0
    n_params = sum(p.numel() for p in model.parameters())
    _ours(objective(1))  # warm-up, untimed: first-call costs (kernels, allocator, imports)
    runs: dict[str, list[dict[str, float]]] = {"trainer": [], "llmhpo": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.repeats):
            order = ("trainer", "llmhpo") if i % 2 == 0 else ("llmhpo", "trainer")
            for side in order:
                runs[side].append(_trainer(obj, tmp) if side == "trainer" else _ours(obj))
    print(f"model {a.model} ({n_params / 1e6:.1f}M params, {a.dtype}) on {device}, loaded in "
          f"{load_s:.1f} s; {a.steps} steps x batch {a.batch_size}, {a.repeats} repeat(s)")
    print(f"{'':8s} {'tokens/s':>9s} {'padded/s':>9s} {'train s':>8s} {'overhead s':>10s} "
          f"{'val_loss':>9s} {'MFU':>7s}")
    rows: dict[str, dict[str, Any]] = {}
    for side, rs in runs.items():
        r = {k: statistics.median(x[k] for x in rs) for k in rs[0]}
        r["tokens_per_s"] = statistics.median(x["tokens"] / x["train_s"] for x in rs)
        r["padded_per_s"] = statistics.median(x["padded"] / x["train_s"] for x in rs)
        r["overhead_s"] = statistics.median(x["wall_s"] - x["train_s"] for x in rs)
        r["mfu"] = (r["tokens_per_s"] * 4 * n_params / (a.peak_tflops * 1e12)
                    if a.peak_tflops else None)
        rows[side] = r
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "-"
        print(f"{side:8s} {r['tokens_per_s']:9.1f} {r['padded_per_s']:9.1f} {r['train_s']:8.1f} "
              f"{r['overhead_s']:10.1f} {r['val_loss']:9.4f} {mfu:>7s}")
    ratio = rows["llmhpo"]["tokens_per_s"] / rows["trainer"]["tokens_per_s"]
    padded_ratio = rows["llmhpo"]["padded_per_s"] / rows["trainer"]["padded_per_s"]
    print(f"throughput ratio llmhpo / Trainer: {ratio:.2f} (non-padding tokens), "
          f"{padded_ratio:.2f} (all computed positions); per-trial overhead "
          f"{rows['llmhpo']['overhead_s']:.1f} s vs {rows['trainer']['overhead_s']:.1f} s")
    result = {"model": a.model, "device": device, "dtype": a.dtype, "n_params": n_params,
              "load_s": load_s, "steps": a.steps, "batch_size": a.batch_size,
              "repeats": a.repeats, "rows": rows, "runs": runs, "ratio": ratio,
              "padded_ratio": padded_ratio}
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
