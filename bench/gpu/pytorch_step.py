#!/usr/bin/env python3
"""The PyTorch side of issue 10: one CogVideoX-5B transformer step in diffusers, timed like `tora bench step`.

diffusers' CogVideoXTransformer3DModel (read from a diffusers source folder given with --diffusers-src, never
committed) is built from the random checkpoint's transformer/config.json and loaded with the SAME weights
(the safetensors written by `tora model random --config cogvideox-5b`). Tora's motion-guidance fusers and
trajectory extractor are NOT part of diffusers: their tensors are reported and left out, so this is the
base CogVideoX step, which equals our transformer with motion guidance off (gamma = beta = 0,
src/Tora.Models/README.md). The inputs are the .npz that `tora bench step --save-inputs` wrote, so both sides
compute the same function on the same data.

Writes <out>/torch_<mode>_noise_pred.npy (float32) and appends one JSON line per mode to <out>/torch.jsonl.
Fails loudly (non-zero exit) on missing weights, shape mismatches, NaNs, or no CUDA device.
"""
import argparse
import inspect
import json
import os
import statistics
import sys
import time


def log(msg):
    print(f"[pytorch_step] {msg}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--diffusers-src", required=True, help="folder holding the diffusers package (…/src, containing diffusers/)")
    ap.add_argument("--checkpoint", required=True, help="pipeline folder from `tora model random` (uses transformer/)")
    ap.add_argument("--inputs", required=True, help=".npz from `tora bench step --save-inputs`")
    ap.add_argument("--out", required=True, help="folder for the .npy outputs and torch.jsonl")
    ap.add_argument("--modes", default="fp32,eager,compile",
                    help="comma list of: fp32 (one fp32 reference run, untimed), eager (bf16), compile (bf16 + torch.compile)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--compile-mode", default="default", help="torch.compile mode (default, max-autotune, …)")
    ap.add_argument("--device", default="cuda", help="cuda (the measurement) or cpu (a smoke test of the script on a tiny checkpoint)")
    args = ap.parse_args()

    if not os.path.isdir(os.path.join(args.diffusers_src, "diffusers")):
        sys.exit(f"--diffusers-src {args.diffusers_src} has no diffusers/ package folder")
    sys.path.insert(0, os.path.abspath(args.diffusers_src))

    import numpy as np
    import torch
    from safetensors.torch import load_file
    from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXTransformer3DModel
    import diffusers

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device visible to torch")
    device = torch.device(args.device)
    log(f"torch {torch.__version__}, diffusers {diffusers.__version__} from {args.diffusers_src}, device {device}"
        + (f" ({torch.cuda.get_device_name(0)})" if device.type == "cuda" else ""))
    log(f"SDPA backends enabled: flash={torch.backends.cuda.flash_sdp_enabled()} "
        f"mem_efficient={torch.backends.cuda.mem_efficient_sdp_enabled()} cudnn={torch.backends.cuda.cudnn_sdp_enabled()}")

    folder = os.path.join(args.checkpoint, "transformer")
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    accepted = set(inspect.signature(CogVideoXTransformer3DModel.__init__).parameters) - {"self"}
    kwargs = {k: v for k, v in config.items() if k in accepted}
    ignored = sorted(k for k in config if k not in accepted and not k.startswith("_"))
    log(f"config: {len(kwargs)} keys used; not CogVideoX keys (Tora's): {ignored}")

    state = {}
    shards = sorted(n for n in os.listdir(folder) if n.endswith(".safetensors"))
    if not shards:
        sys.exit(f"{folder} has no .safetensors")
    for name in shards:
        state.update(load_file(os.path.join(folder, name)))

    x = np.load(args.inputs)
    for key in ("hidden_states", "encoder_hidden_states", "timestep", "rope_cos", "rope_sin"):
        if key not in x:
            sys.exit(f"{args.inputs} has no {key}")
    os.makedirs(args.out, exist_ok=True)

    def build(dtype):
        # Built in float32 directly on the device (fast initialisation, buffers as diffusers computes them),
        # then loaded and cast, as `from_pretrained(torch_dtype=…)` would.
        with torch.device(device):
            model = CogVideoXTransformer3DModel(**kwargs)
        expected = model.state_dict()
        extra = sorted(k for k in state if k not in expected)
        missing = sorted(k for k in expected if k not in state)
        if missing:
            sys.exit(f"the checkpoint lacks {len(missing)} CogVideoX tensors, e.g. {missing[:5]}")
        bad = [k for k in expected if tuple(expected[k].shape) != tuple(state[k].shape)]
        if bad:
            sys.exit(f"shape mismatch for {bad[:5]}")
        prefixes = sorted({k.split(".")[0] for k in extra})
        log(f"{len(expected)} tensors loaded; {len(extra)} checkpoint tensors not in diffusers' model (prefixes {prefixes}: Tora's extractor/fusers)")
        model.load_state_dict({k: state[k] for k in expected}, strict=True)
        return model.to(dtype=dtype).eval()

    def inputs(dtype):
        return dict(
            hidden_states=torch.from_numpy(x["hidden_states"]).to(device, dtype),
            encoder_hidden_states=torch.from_numpy(x["encoder_hidden_states"]).to(device, dtype),
            timestep=torch.from_numpy(x["timestep"]).to(device),
            image_rotary_emb=(torch.from_numpy(x["rope_cos"]).to(device), torch.from_numpy(x["rope_sin"]).to(device)),
            return_dict=False,
        )

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def timed(fn, warmup, runs, label):
        for i in range(warmup):
            t0 = time.perf_counter()
            out = fn()
            sync()
            log(f"{label} warm-up {i + 1}: {1000 * (time.perf_counter() - t0):.1f} ms")
        times = []
        for _ in range(runs):
            if device.type == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                out = fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                out = fn()
                times.append(1000 * (time.perf_counter() - t0))
        return out, times

    def save(mode, out, times, model_mib):
        pred = out[0].float().cpu().numpy()
        if not np.isfinite(pred).all():
            sys.exit(f"{mode}: the noise prediction has NaN/Inf")
        np.save(os.path.join(args.out, f"torch_{mode}_noise_pred.npy"), pred)
        result = dict(side="pytorch", mode=mode, runs=len(times), torch=torch.__version__, diffusers=diffusers.__version__,
                      model_mib=model_mib)
        if times:
            result.update(median_ms=statistics.median(times), min_ms=min(times), max_ms=max(times))
        if device.type == "cuda":
            result.update(peak_allocated_mib=torch.cuda.max_memory_allocated() // 2**20,
                          peak_reserved_mib=torch.cuda.max_memory_reserved() // 2**20)
        with open(os.path.join(args.out, "torch.jsonl"), "a") as f:
            f.write(json.dumps(result) + "\n")
        log("RESULT " + " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))

    def reset_peak():
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def model_mib():
        return torch.cuda.memory_allocated() // 2**20 if device.type == "cuda" else None

    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in ("fp32", "eager", "compile"):
            sys.exit(f"unknown mode {m}")

    with torch.inference_mode():
        if "fp32" in modes:
            model = build(torch.float32)
            reset_peak()
            mib = model_mib()
            out, _ = timed(lambda: model(**inputs(torch.float32)), 0, 1, "fp32")
            save("fp32", out, [], mib)
            del model, out
        if "eager" in modes or "compile" in modes:
            model = build(torch.bfloat16)
            mib = model_mib()
            feed = inputs(torch.bfloat16)
            if "eager" in modes:
                reset_peak()  # after the float32 build on the device: the peak is the bf16 model and its step
                out, times = timed(lambda: model(**feed), args.warmup, args.runs, "eager bf16")
                save("eager", out, times, mib)
                del out
            if "compile" in modes:
                reset_peak()
                compiled = torch.compile(model, mode=None if args.compile_mode == "default" else args.compile_mode)
                t0 = time.perf_counter()
                compiled(**feed)
                sync()
                log(f"torch.compile first call (compilation): {time.perf_counter() - t0:.1f} s")
                out, times = timed(lambda: compiled(**feed), args.warmup, args.runs, "compiled bf16")
                save("compile", out, times, mib)


if __name__ == "__main__":
    main()
