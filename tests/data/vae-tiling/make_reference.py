"""Reference outputs of diffusers' own tiled VAE decode and encode on the tiny CogVideoX VAE.

Usage: python3 make_reference.py <diffusers/src/diffusers folder> <tests/data folder>

Runs the real AutoencoderKLCogVideoX module of diffusers (autoencoder_kl_cogvideox.py with the real
activations.py, upsampling.py and downsampling.py it builds on) with tiling enabled at tile sizes scaled
down to the tiny 64 x 96 VAE. Only diffusers' framework plumbing is replaced by the minimal stand-ins, below and in
../original_harness.py (config registration, model mixins, logging, output containers), none of which computes
anything.
"""
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from original_harness import BaseOutput, ConfigMixin, config_of, load_safetensors, logging, module, real, register_to_config  # noqa: E402

DIFFUSERS = Path(sys.argv[1])
DATA = Path(sys.argv[2])
OUT = DATA / "vae-tiling"


@dataclass
class DecoderOutput(BaseOutput):
    sample: torch.Tensor
    commit_loss: object = None


class DiagonalGaussianDistribution:
    def __init__(self, parameters):
        self.parameters = parameters


@dataclass
class AutoencoderKLOutput(BaseOutput):
    latent_dist: object


module("diffusers")
module("diffusers.utils", logging=logging,
       deprecate=lambda *a, **k: None, BaseOutput=BaseOutput,
       is_torch_npu_available=lambda: False, is_torch_version=lambda op, v: False)
module("diffusers.utils.import_utils", is_torch_npu_available=lambda: False, is_torch_version=lambda op, v: False)
module("diffusers.utils.accelerate_utils", apply_forward_hook=lambda f: f)
module("diffusers.configuration_utils", ConfigMixin=ConfigMixin, register_to_config=register_to_config)
module("diffusers.loaders")
module("diffusers.loaders.single_file_model", FromOriginalModelMixin=type("FromOriginalModelMixin", (), {}))
module("diffusers.models")
module("diffusers.models.modeling_utils", ModelMixin=nn.Module)
module("diffusers.models.modeling_outputs", AutoencoderKLOutput=AutoencoderKLOutput)
module("diffusers.models.normalization", RMSNorm=None)
module("diffusers.models.autoencoders")
module("diffusers.models.autoencoders.vae", AutoencoderMixin=type("AutoencoderMixin", (), {}), DecoderOutput=DecoderOutput,
       DiagonalGaussianDistribution=DiagonalGaussianDistribution)
real("diffusers.models.activations", DIFFUSERS / "models/activations.py")
real("diffusers.models.upsampling", DIFFUSERS / "models/upsampling.py")
real("diffusers.models.downsampling", DIFFUSERS / "models/downsampling.py")
cogvideox = real("diffusers.models.autoencoders.autoencoder_kl_cogvideox", DIFFUSERS / "models/autoencoders/autoencoder_kl_cogvideox.py")


def to_uint8(sample):
    # diffusers' VideoProcessor.postprocess_video(output_type="np") then the pipeline's (x * 255).round():
    # clamp(x / 2 + 0.5, 0, 1) in float32, round half to even. [1, 3, F, H, W] -> [F, H, W, 3].
    v = (sample / 2 + 0.5).clamp(0, 1)
    return (v[0].permute(1, 2, 3, 0).numpy() * 255).round().astype(np.uint8)


def main():
    torch.set_grad_enabled(False)
    vae_dir = DATA / "fixtures/tiny-tora-t2v/vae"
    vae = cogvideox.AutoencoderKLCogVideoX(**config_of(vae_dir)).eval()
    vae.load_state_dict(load_safetensors(vae_dir / "diffusion_pytorch_model.safetensors"), strict=True)

    latents = torch.from_numpy(np.load(DATA / "fixtures/tiny-tora-t2v/reference/vae_decoder.npz")["latents"])
    generator = torch.Generator().manual_seed(20)
    video_u8 = torch.randint(0, 256, (1, 3, 49, 64, 96), generator=generator, dtype=torch.uint8)
    video = video_u8.float() / 127.5 - 1

    result = {"latents_tiled_decode_input": "fixtures/tiny-tora-t2v/reference/vae_decoder.npz latents", "cases": []}
    arrays = {"video_u8": video_u8.numpy()}
    whole = vae.decode(latents).sample
    for height, width in [(48, 40), (48, 80)]:
        vae.enable_tiling(tile_sample_min_height=height, tile_sample_min_width=width)
        sample = vae.decode(latents).sample
        moments = vae._encode(video)
        assert tuple(sample.shape) == (1, 3, 49, 64, 96), sample.shape
        assert tuple(moments.shape) == (1, 32, 13, 8, 12), moments.shape
        key = f"{height}x{width}"
        arrays[f"frames_u8_{key}"] = to_uint8(sample)
        arrays[f"moments_{key}"] = moments.numpy()
        result["cases"].append({"tile": key, "tile_latent": [vae.tile_latent_min_height, vae.tile_latent_min_width],
                                "sample_max_abs_diff_from_whole": float((sample - whole).abs().max())})
    # Tile sizes whose tiles do not give back the 64 x 96 frame: diffusers returns another size.
    result["not_covering"] = {}
    for height, width in [(32, 48), (40, 64)]:
        vae.enable_tiling(tile_sample_min_height=height, tile_sample_min_width=width)
        result["not_covering"][f"{height}x{width}"] = list(vae.decode(latents).sample.shape)
    np.savez_compressed(OUT / "tiled_reference.npz", **arrays)
    result["torch"] = torch.__version__
    (OUT / "tiled_reference.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


main()
