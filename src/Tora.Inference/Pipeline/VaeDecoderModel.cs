using Tora.Inference.Vae;

namespace Tora.Inference.Pipeline;

/// <summary>The VAE decoder of a package with its configuration: latents → 8-bit frames (docs/model.md §5.8).</summary>
public sealed class VaeDecoderModel(ModelPackage package, OrtSessionFactory factory, Action<string> log, VaeTiling? tiling)
    : ModelComponent(ModelPackage.VaeDecoder, package, factory, log, cpuArena: false)
{
    /// <summary>Latents ÷ scaling factor → the decoder in the original's chunks → 8-bit RGB <c>[F, H, W, 3]</c>, diffusers rounding.</summary>
    public byte[] Decode(float[] latents)
    {
        var g = Package.Geometry;
        using var decoder = new VaeDecoder(Session, Package.Vae.ScalingFactor, g.LatentHeight, g.LatentWidth, Package.Vae.TemporalCompression,
            DeviceMemory, tiling);
        return decoder.DecodeToUint8(latents, g.LatentFrames, FrameLayout.FramesFirst);
    }
}
