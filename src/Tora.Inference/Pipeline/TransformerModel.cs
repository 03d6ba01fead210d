using Tora.Inference.Embeddings;
using Tora.Motion.Trajectories;

namespace Tora.Inference.Pipeline;

/// <summary>
/// The Tora transformer of a package (docs/model.md §4.2) with its geometry and its 3D rotary embeddings, which
/// depend only on the geometry and are computed once (diffusers: base grid = sample size / patch).
/// </summary>
public sealed class TransformerModel : ModelComponent
{
    /// <summary>Computes the rotary tables of the package's geometry (the session is created on first use).</summary>
    public TransformerModel(ModelPackage package, OrtSessionFactory factory, Action<string> log)
        : base(ModelPackage.Transformer, package, factory, log)
    {
        var m = package.Manifest;
        var g = m.Geometry;
        (RopeCos, RopeSin) = RotaryPositionalEmbedding3D.Compute(m.Transformer.AttentionHeadDim, g.LatentFrames,
            g.LatentHeight / g.PatchSize, g.LatentWidth / g.PatchSize, m.Transformer.SampleHeight / g.PatchSize, m.Transformer.SampleWidth / g.PatchSize);
    }

    /// <summary>The RoPE cosine table of the video tokens.</summary>
    public float[] RopeCos { get; }

    /// <summary>The RoPE sine table of the video tokens.</summary>
    public float[] RopeSin { get; }

    /// <summary>Motion guidance off: the fuser modulations at zero (docs/model.md §7).</summary>
    public MotionGuidance MotionOff() => MotionGuidance.Off(Session);

    /// <summary>Binds the transformer for one denoising loop (<see cref="DenoisingTransformer"/>; dispose it after).</summary>
    /// <param name="batch">2 with classifier-free guidance, 1 without.</param>
    /// <param name="promptEmbeds">The text input <c>[batch, 226, D]</c>.</param>
    /// <param name="ropeCos">The RoPE cosine table.</param>
    /// <param name="ropeSin">The RoPE sine table.</param>
    /// <param name="motion">The fuser modulations (must outlive the binding).</param>
    /// <param name="imageLatents">Image-to-video: the padded first-frame latents; null for text-to-video.</param>
    /// <param name="motionControls">The motion window.</param>
    /// <param name="steps">Steps of the loop.</param>
    public DenoisingTransformer Bind(int batch, float[] promptEmbeds, float[] ropeCos, float[] ropeSin, MotionGuidance motion, float[]? imageLatents,
        MotionControls motionControls, int steps)
    {
        var g = Package.Geometry;
        return new DenoisingTransformer(Session, batch, g.LatentFrames, g.LatentChannels, g.LatentHeight, g.LatentWidth,
            promptEmbeds, ropeCos, ropeSin, motion, imageLatents, motionControls, steps);
    }
}
