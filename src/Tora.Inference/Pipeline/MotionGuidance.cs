using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tora.Inference.Noise;
using Tora.Inference.Package;
using Tora.Motion.Trajectories;
using Tora.Inference.Vae;

namespace Tora.Inference.Pipeline;

/// <summary>
/// The per-block Motion-guidance Fuser modulations <c>mgf_gamma_i</c>/<c>mgf_beta_i</c> the transformer takes,
/// computed once per job (docs/model.md §3) and kept where the session's provider put them (GPU memory with CUDA).
/// With no trajectory they are zeros of shape <c>[1, 1, D]</c>: the fuser is then the identity, which is motion
/// guidance off (docs/model.md §7, the transformer graph's documented convention).
/// </summary>
public sealed class MotionGuidance : IDisposable
{
    private readonly IDisposable? _owner;

    private MotionGuidance(IReadOnlyList<(string Name, OrtValue Value)> inputs, IDisposable? owner, float[]? flowLatents)
    {
        Inputs = inputs;
        _owner = owner;
        FlowLatents = flowLatents;
    }

    /// <summary>The transformer inputs by name, in graph order.</summary>
    public IReadOnlyList<(string Name, OrtValue Value)> Inputs { get; }

    /// <summary>The scaled flow latents <c>[1, T, C, h, w]</c> the trajectory encoder saw; null when motion guidance is off.</summary>
    public float[]? FlowLatents { get; }

    /// <summary>True when a trajectory guides the motion.</summary>
    public bool Enabled => FlowLatents is not null;

    /// <summary>Motion guidance off: zeros <c>[1, 1, D]</c> in each modulation input's element type.</summary>
    public static MotionGuidance Off(InferenceSession transformer)
    {
        var values = new List<(string, OrtValue)>();
        var owner = new DisposableList();
        foreach (var (name, meta) in transformer.InputMetadata)
        {
            if (!name.StartsWith(GraphNames.TrajectoryEncoder.ModulationPrefix, StringComparison.Ordinal)) continue;
            long d = meta.Dimensions[^1];
            var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, meta.ElementDataType, [1, 1, d]);
            value.GetTensorMutableRawData().Clear();
            owner.Add(value);
            values.Add((name, value));
        }
        return new MotionGuidance(values, owner, null);
    }

    /// <summary>
    /// Motion guidance from trajectories (docs/model.md §2, §3; the diffusers T2V pipeline's flow path): the flow
    /// video in [−1, 1] → VAE encoder (chunks of 8 frames) → posterior sample with the job's noise source
    /// (<see cref="NoiseConsumer.FlowPosterior"/>) × scaling factor, in the transformer's <c>[1, T, C, h, w]</c>
    /// layout → trajectory encoder once (both CFG halves share it).
    /// </summary>
    /// <exception cref="GenerationException">The trajectories are invalid for the video (code <c>invalid_input</c>).</exception>
    public static MotionGuidance FromTrajectories(IReadOnlyList<Trajectory> trajectories, VideoGeometry video, VaeEncoder vaeEncoder,
        double scalingFactor, InferenceSession trajectoryEncoder, INoiseSource noise, OrtMemoryInfo? deviceMemory, double strength = 1)
    {
        FlowVideo flow;
        try
        {
            flow = FlowVideo.FromTrajectories(trajectories, video);
        }
        catch (TrajectoryValidationException e)
        {
            throw new GenerationException(GenerationErrorCodes.InvalidInput, $"invalid trajectories: {string.Join("; ", e.Errors)}");
        }
        var pixels = new float[flow.VaeInputLength];
        flow.WriteVaeInput(pixels); // [1, 3, F, H, W]
        return FromFlowVideo(pixels, video.Frames, vaeEncoder, scalingFactor, trajectoryEncoder, noise, deviceMemory, strength);
    }

    /// <summary>
    /// Motion guidance from an RGB flow video already rendered (8-bit <c>[F, H, W, 3]</c>, as <c>tora trajectory
    /// render --out-npy</c> writes it, or a dense optical-flow video coloured with <c>flow_to_image</c>).
    /// </summary>
    /// <exception cref="GenerationException">The video does not have the package's size (code <c>invalid_input</c>).</exception>
    public static MotionGuidance FromFlowVideo(ReadOnlySpan<byte> rgb, VideoGeometry video, VaeEncoder vaeEncoder,
        double scalingFactor, InferenceSession trajectoryEncoder, INoiseSource noise, OrtMemoryInfo? deviceMemory, double strength = 1)
    {
        int plane = video.FramePixels;
        if (rgb.Length != 3L * video.Frames * plane)
            throw new GenerationException(GenerationErrorCodes.InvalidInput,
                $"the flow video holds {rgb.Length} bytes; this model needs {video.Frames} x {video.Height} x {video.Width} x 3");
        // [F, H, W, 3] → [1, 3, F, H, W] in [−1, 1] (x / 127.5 − 1 in float32, as the original, docs/model.md §2.4).
        var pixels = new float[rgb.Length];
        for (int t = 0; t < video.Frames; t++)
            for (int c = 0; c < 3; c++)
            {
                var dst = pixels.AsSpan((c * video.Frames + t) * plane, plane);
                var src = rgb.Slice(t * plane * 3 + c);
                for (int p = 0; p < plane; p++) dst[p] = src[p * 3] / 127.5f - 1f;
            }
        return FromFlowVideo(pixels, video.Frames, vaeEncoder, scalingFactor, trajectoryEncoder, noise, deviceMemory, strength);
    }

    private static MotionGuidance FromFlowVideo(float[] pixels, int frames, VaeEncoder vaeEncoder,
        double scalingFactor, InferenceSession trajectoryEncoder, INoiseSource noise, OrtMemoryInfo? deviceMemory, double strength)
    {
        var posterior = vaeEncoder.Encode(pixels, frames, FrameLayout.ChannelsFirst);
        var draw = new float[posterior.Mean.Length];
        noise.Draw([1, posterior.Channels, posterior.Frames, posterior.Height, posterior.Width], draw, NoiseConsumer.FlowPosterior);
        var latents = posterior.Sample(draw, scalingFactor, FrameLayout.FramesFirst);
        return FromFlowLatents(latents, [1, posterior.Frames, posterior.Channels, posterior.Height, posterior.Width], trajectoryEncoder, deviceMemory, strength);
    }

    /// <summary>
    /// The trajectory encoder run on scaled flow latents <c>[1, T, C, h, w]</c> with the motion strength fed to
    /// its <see cref="GraphNames.TrajectoryEncoder.MotionStrength"/> (a package without that input only runs at strength 1).
    /// </summary>
    private static MotionGuidance FromFlowLatents(float[] latents, long[] shape, InferenceSession trajectoryEncoder, OrtMemoryInfo? deviceMemory, double strength)
    {
        var names = trajectoryEncoder.OutputMetadata.Keys.Where(k => k.StartsWith(GraphNames.TrajectoryEncoder.ModulationPrefix, StringComparison.Ordinal)).ToArray();
        bool hasStrength = trajectoryEncoder.OverridableInitializerMetadata.ContainsKey(GraphNames.TrajectoryEncoder.MotionStrength)
            || trajectoryEncoder.InputMetadata.ContainsKey(GraphNames.TrajectoryEncoder.MotionStrength);
        if (!hasStrength && strength != 1)
            throw new GenerationException(GenerationErrorCodes.InvalidInput,
                "this model package's trajectory encoder has no motion strength input: rebuild the package with 'tora model build' to use a strength other than 1");
        using var input = OrtValue.CreateTensorValueFromMemory(latents, shape);
        using var strengthValue = OrtValue.CreateTensorValueFromMemory(new[] { (float)strength }, [1]);
        using var binding = trajectoryEncoder.CreateIoBinding();
        using var runOptions = new RunOptions();
        binding.BindInput(trajectoryEncoder.InputMetadata.Keys.Single(k => k != GraphNames.TrajectoryEncoder.MotionStrength), input);
        if (hasStrength) binding.BindInput(GraphNames.TrajectoryEncoder.MotionStrength, strengthValue);
        foreach (var name in names) binding.BindOutputToDevice(name, deviceMemory ?? OrtMemoryInfo.DefaultInstance);
        trajectoryEncoder.RunWithBinding(runOptions, binding);
        var outputs = binding.GetOutputValues();
        return new MotionGuidance(names.Select((n, i) => (n, outputs[i])).ToArray(), outputs, latents);
    }

    private bool _disposed;

    /// <inheritdoc />
    public void Dispose()
    {
        // The pipeline frees the modulations as soon as the loop ends, before its low-memory policy unloads the
        // session that allocated them; its outer using (for failures before the loop) then disposes them again.
        if (_disposed) return;
        _disposed = true;
        _owner?.Dispose();
    }

    private sealed class DisposableList : List<IDisposable>, IDisposable
    {
        public void Dispose()
        {
            foreach (var d in this) d.Dispose();
        }
    }
}
