"""Reference denoising loops of the original Tora with motion strength and a motion window, on the tiny checkpoint.

Usage: python3 make_reference.py <Tora diffusers-version folder> <diffusers/src/diffusers folder> <tests/data folder>
(with einops importable, e.g. PYTHONPATH=<einops checkout>)

Runs the original's own module files: Tora's transformer_3d.py and traj_module.py (ToraTransformer3DModel, the
Trajectory Extractor and the Motion-guidance Fusers), diffusers' attention.py, attention_processor.py,
embeddings.py, normalization.py and activations.py they build on, and diffusers' scheduling_dpm_cogvideox.py
(CogVideoXDPMScheduler). Only diffusers' plumbing is replaced by stand-ins, below and in ../original_harness.py
(config registration, model and scheduler mixins, logging, output containers, availability checks), none of which
computes anything; the noise helper randn_tensor is the real function, read out of diffusers' torch_utils.py (the
rest of that file needs a newer torch).

The loop is the one of Tora's t2v_pipeline.py (CFG batch [uncond, cond], dynamic CFG, the DPM step with the
pipeline's generator and eta 0) with the two motion controls added where they act:
  strength: the Trajectory Extractor's output features are multiplied by it before the fusers see them
            (a forward hook on the extractor);
  window:   at step i of n the flow latents go to the transformer only when start <= i / n <= end; outside,
            the transformer runs with video_flow=None, exactly as the original with no trajectory.
Prompt embeddings, flow latents and RoPE tables are the original's, read from t2v_loop_4steps.npz; the noise is
one torch CPU stream from seed 42 (the flow posterior's draw first, then the initial latents, then the DPM
step draws), as that reference consumed it.
"""
import __future__
import ast
import enum
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from original_harness import (BaseOutput, ConfigMixin, Logger, config_of, load_safetensors, logging, module, real,  # noqa: E402
                              register_to_config)

TORA = Path(sys.argv[1])
DIFFUSERS = Path(sys.argv[2])
DATA = Path(sys.argv[3])
FIXTURE = DATA / "fixtures/tiny-tora-t2v"
OUT = DATA / "motion-reference"

if not hasattr(F, "scaled_dot_product_attention"):
    # torch 1.13 has no F.scaled_dot_product_attention (torch 2.0). CogVideoX's attention processor calls it with
    # no mask, no dropout, not causal: this is its definition, softmax(Q K^T / sqrt(d)) V.
    def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False):
        assert attn_mask is None and dropout_p == 0.0 and not is_causal
        scores = query @ key.transpose(-2, -1) / math.sqrt(query.size(-1))
        return scores.softmax(dim=-1) @ value

    F.scaled_dot_product_attention = scaled_dot_product_attention


def real_function(file, name, namespace):
    """One top-level function of a source file, compiled as written (the file's other code is not run)."""
    tree = ast.parse(Path(file).read_text())
    body = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]
    assert len(body) == 1, name
    code = compile(ast.Module(body=body, type_ignores=[]), str(file), "exec",
                   flags=__future__.annotations.compiler_flag, dont_inherit=True)
    exec(code, namespace)
    return namespace[name]


@dataclass
class Transformer2DModelOutput(BaseOutput):
    sample: torch.Tensor


def is_torch_version(op, version):
    installed = tuple(int(p) for p in torch.__version__.split("+")[0].split("a")[0].split(".")[:3])
    wanted = tuple(int(p) for p in version.split("."))
    return {">=": installed >= wanted, ">": installed > wanted, "<": installed < wanted, "<=": installed <= wanted,
            "==": installed == wanted, "!=": installed != wanted}[op]


def false(*_, **__):
    return False


randn_tensor = real_function(DIFFUSERS / "utils/torch_utils.py", "randn_tensor", {"torch": torch, "logger": Logger()})

module("diffusers")
module("diffusers.utils", logging=logging, deprecate=lambda *a, **k: None, BaseOutput=BaseOutput,
       is_torch_npu_available=false, is_torch_xla_available=false, is_torch_version=is_torch_version,
       USE_PEFT_BACKEND=False, scale_lora_layers=None, unscale_lora_layers=None)
module("diffusers.utils.import_utils", is_torch_npu_available=false, is_torch_xla_available=false,
       is_xformers_available=false, is_torch_xla_version=false, is_torch_version=is_torch_version)
module("diffusers.utils.torch_utils", maybe_allow_in_graph=lambda c: c, is_torch_version=is_torch_version,
       maybe_adjust_dtype_for_device=lambda dtype, device: dtype, randn_tensor=randn_tensor)
module("diffusers.image_processor", IPAdapterMaskProcessor=type("IPAdapterMaskProcessor", (), {}))
module("diffusers.configuration_utils", ConfigMixin=ConfigMixin, register_to_config=register_to_config)
module("diffusers.loaders", PeftAdapterMixin=type("PeftAdapterMixin", (), {}))
module("diffusers.models")
module("diffusers.models.modeling_utils", ModelMixin=nn.Module)
module("diffusers.models.modeling_outputs", Transformer2DModelOutput=Transformer2DModelOutput)
module("diffusers.schedulers")
module("diffusers.schedulers.scheduling_utils", KarrasDiffusionSchedulers=enum.Enum("KarrasDiffusionSchedulers", []),
       SchedulerMixin=type("SchedulerMixin", (), {}))
real("diffusers.models.activations", DIFFUSERS / "models/activations.py")
real("diffusers.models.attention_processor", DIFFUSERS / "models/attention_processor.py")
real("diffusers.models.embeddings", DIFFUSERS / "models/embeddings.py")
real("diffusers.models.normalization", DIFFUSERS / "models/normalization.py")
real("diffusers.models.attention", DIFFUSERS / "models/attention.py")
dpm = real("diffusers.schedulers.scheduling_dpm_cogvideox", DIFFUSERS / "schedulers/scheduling_dpm_cogvideox.py")
module("tora")
real("tora.traj_module", TORA / "tora/traj_module.py")
tora = real("tora.transformer_3d", TORA / "tora/transformer_3d.py")


class Loop:
    """Tora's t2v_pipeline.py denoising loop on fixed prompt embeddings and flow latents, with the motion controls."""

    def __init__(self, reference):
        self.transformer = tora.ToraTransformer3DModel(**config_of(FIXTURE / "transformer")).eval()
        self.transformer.load_state_dict(load_safetensors(FIXTURE / "transformer/diffusion_pytorch_model.safetensors"), strict=True)
        self.strength = 1.0
        # Strength: the extractor's features times the strength, before any fuser sees them.
        self.transformer.traj_extractor.register_forward_hook(
            lambda _module, _inputs, features: [f * self.strength for f in features])
        scheduler_config = json.loads((FIXTURE / "scheduler/scheduler_config.json").read_text())
        self.scheduler_kwargs = {k: v for k, v in scheduler_config.items() if not k.startswith("_")}
        self.reference = reference
        self.prompt_embeds = torch.from_numpy(reference["prompt_embeds_cfg_batch"])   # [uncond, cond]
        self.flow_latents = torch.from_numpy(reference["flow_latents"])               # [1, 13, 16, 8, 12], scaled
        self.rope = (torch.from_numpy(reference["rope_cos"]), torch.from_numpy(reference["rope_sin"]))

    def run(self, steps, strength, start, end, keep_steps, guidance_scale=6.0, use_dynamic_cfg=True):
        self.strength = strength
        scheduler = dpm.CogVideoXDPMScheduler(**self.scheduler_kwargs)
        scheduler.set_timesteps(steps)
        timesteps = scheduler.timesteps
        generator = torch.Generator().manual_seed(42)
        posterior_draw = randn_tensor((1, 16, 13, 8, 12), generator=generator, dtype=torch.float32)
        assert torch.equal(posterior_draw, torch.from_numpy(self.reference["noise_000"])), "the flow posterior's draw"
        latents = randn_tensor((1, 13, 16, 8, 12), generator=generator, dtype=torch.float32) * scheduler.init_noise_sigma
        kept, guided_steps, scales = {}, [], []
        old_pred_original_sample = None
        for i, t in enumerate(timesteps):
            guided = start <= i / steps <= end
            latent_model_input = scheduler.scale_model_input(torch.cat([latents] * 2), t)
            latent_flow_input = torch.cat([self.flow_latents] * 2) if guided else None
            noise_pred = self.transformer(
                hidden_states=latent_model_input,
                encoder_hidden_states=self.prompt_embeds,
                timestep=t.expand(latent_model_input.shape[0]),
                image_rotary_emb=self.rope,
                video_flow=latent_flow_input,
                return_dict=False,
            )[0].float()
            scale = guidance_scale
            if use_dynamic_cfg:
                scale = 1 + guidance_scale * ((1 - math.cos(math.pi * ((steps - t.item()) / steps) ** 5.0)) / 2)
            noise_pred_uncond, noise_pred_text = noise_pred.chunk(2)
            noise_pred = noise_pred_uncond + scale * (noise_pred_text - noise_pred_uncond)
            latents, old_pred_original_sample = scheduler.step(
                noise_pred, old_pred_original_sample, t, timesteps[i - 1] if i > 0 else None, latents,
                eta=0.0, generator=generator, return_dict=False)
            latents = latents.to(self.prompt_embeds.dtype)
            if i in keep_steps:
                kept[f"latents_after_step_{i:02d}"] = latents.numpy().copy()
            if guided:
                guided_steps.append(i)
            scales.append(scale)
        kept["final_latents"] = latents.numpy().copy()
        settings = {"num_inference_steps": steps, "motion_strength": strength, "motion_start": start, "motion_end": end,
                    "guided_steps": guided_steps, "timesteps": timesteps.tolist(), "guidance_scales": scales,
                    "stored_steps": sorted(keep_steps)}
        return kept, settings


def max_abs(a, b):
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def main():
    torch.set_grad_enabled(False)
    reference = dict(np.load(FIXTURE / "reference/t2v_loop_4steps.npz"))
    loop = Loop(reference)

    # The harness first reproduces the existing 4-step reference (default controls: every step guided, strength 1).
    check, _ = loop.run(4, 1.0, 0.0, 1.0, keep_steps={0, 1, 2})
    proof = {k: max_abs(v, reference[k]) for k, v in check.items()}
    print("harness vs t2v_loop_4steps:", json.dumps(proof))
    assert max(proof.values()) <= 1e-4, proof

    cases = [
        # The case: 50 steps, strength 0.6, window [0, 0.2] (steps 0..10 guided, 11..49 not).
        ("strength06_end02_50steps", 50, 0.6, 0.0, 0.2, {0, 10, 11, 25}),
        # Strength apart from the window: 4 steps, strength 2.5, window [0.5, 1] (steps 0, 1 unguided, 2, 3 guided).
        ("strength25_start05_4steps", 4, 2.5, 0.5, 1.0, {1, 2}),
        # Strength 0 is not "motion off": the fusers still run, on zero features; every step guided.
        ("strength0_4steps", 4, 0.0, 0.0, 1.0, {0}),
    ]
    arrays, settings = {}, []
    for name, steps, strength, start, end, keep in cases:
        kept, case = loop.run(steps, strength, start, end, keep)
        case = {"name": name, **case}
        # How far the controls move the result: the test's 1e-4 must be far below both.
        default, _ = loop.run(steps, 1.0, 0.0, 1.0, set())
        unguided, _ = loop.run(steps, 1.0, 1.0, 1.0, set())  # i / n < 1 for every step: no step guided
        case["final_latents_max_abs_from_default_controls"] = max_abs(kept["final_latents"], default["final_latents"])
        case["final_latents_max_abs_from_no_guidance"] = max_abs(kept["final_latents"], unguided["final_latents"])
        for key, value in kept.items():
            arrays[f"{name}__{key}"] = value
        settings.append(case)
        print(name, "guided steps:", case["guided_steps"], "final latents from default controls:",
              case["final_latents_max_abs_from_default_controls"], "from no guidance:", case["final_latents_max_abs_from_no_guidance"])
    np.savez_compressed(OUT / "motion_reference.npz", **arrays)
    result = {
        "prompt": "A squirrel gathering nuts.",
        "negative_prompt": "",
        "trajectory": "coaster (the flow video and flow latents of fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz)",
        "height": 64, "width": 96, "num_frames": 49,
        "guidance_scale": 6.0, "use_dynamic_cfg": True, "seed": 42,
        "noise_consumption_order": ["flow posterior [1, 16, 13, 8, 12] (its sample is the stored flow_latents)",
                                    "initial latents [1, 13, 16, 8, 12]", "DPM step draws (1 at the first step, 2 after)"],
        "harness_vs_t2v_loop_4steps_max_abs": proof,
        "torch": torch.__version__, "numpy": np.__version__,
        "cases": settings,
    }
    (OUT / "motion_reference.json").write_text(json.dumps(result, indent=1) + "\n")


main()
