using Tora.Inference.Noise;
using Tora.Inference.Vae;

namespace Tora.Inference.Pipeline;

/// <summary>
/// The VAE encoder of a package with its configuration (frame size, temporal compression, scaling factor, tiling):
/// encodes the first frame (image-to-video) and the flow video (through <see cref="TrajectoryEncoderModel"/>).
/// </summary>
public sealed class VaeEncoderModel(ModelPackage package, OrtSessionFactory factory, Action<string> log, VaeTiling? tiling)
    : ModelComponent(ModelPackage.VaeEncoder, package, factory, log, cpuArena: false)
{
    /// <summary>The VAE scaling factor the posterior samples are multiplied by.</summary>
    public double ScalingFactor => Package.Vae.ScalingFactor;

    /// <summary>A chunked encoder over the session for one use (dispose it after).</summary>
    public VaeEncoder Open() => new(Session, Package.Geometry.Height, Package.Geometry.Width, Package.Vae.TemporalCompression, DeviceMemory, tiling);

    /// <summary>
    /// Image-to-video: the padded first-frame latents <c>[1, T, C, h, w]</c> (<see cref="FirstFrameEncoder"/>; its
    /// posterior draw comes first, docs/model.md §5.5).
    /// </summary>
    public float[] EncodeFirstFrame(byte[] image, INoiseSource noise)
    {
        using var encoder = Open();
        return FirstFrameEncoder.Encode(image, encoder, ScalingFactor, Package.Geometry.LatentFrames, noise);
    }
}
