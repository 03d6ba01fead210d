using Microsoft.ML.OnnxRuntime;
using Tora.Inference.Package;
using Tora.Inference.Sampling;
using Tora.Motion.Trajectories;

namespace Tora.Inference.Pipeline;

/// <summary>
/// The transformer bound once for a whole denoising loop (docs/model.md §6.3): every input and the output
/// are <see cref="OrtValue"/>s over buffers allocated here once and bound through one <see cref="OrtIoBinding"/>;
/// a step copies the latents into the batched input (both CFG halves, docs/model.md §5.3; image latents
/// concatenated on channels for image-to-video, docs/model.md §4.4), writes the timestep and runs. Nothing is allocated per
/// step beyond what ONNX Runtime needs. With a motion window (<see cref="MotionControls"/>) a second binding holds
/// the same buffers with the fuser modulations at zero (motion guidance off), and each step runs the binding its
/// window position asks for.
/// </summary>
public sealed class DenoisingTransformer : IDenoiser, IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtIoBinding _binding;
    private readonly OrtIoBinding? _unguidedBinding;
    private readonly MotionGuidance? _off;
    private readonly MotionControls _motionControls;
    private readonly int _steps;
    private readonly RunOptions _runOptions = new();
    private readonly List<OrtValue> _owned = [];
    private readonly float[] _hidden;
    private readonly long[] _timestep;
    private readonly float[] _prediction;
    private readonly float[]? _imageLatents;
    private readonly int _frames, _channels, _inChannels, _plane;

    /// <param name="session">The transformer session (not owned).</param>
    /// <param name="batch">2 with classifier-free guidance (<c>[uncond, cond]</c>), 1 without.</param>
    /// <param name="latentFrames">T.</param>
    /// <param name="latentChannels">C of the noisy latents (16).</param>
    /// <param name="latentHeight">h.</param>
    /// <param name="latentWidth">w.</param>
    /// <param name="textEmbeddings">The text input <c>[batch, 226, D]</c>.</param>
    /// <param name="ropeCos">The RoPE cosine table.</param>
    /// <param name="ropeSin">The RoPE sine table.</param>
    /// <param name="motion">The modulation inputs (owned by the caller; must outlive this).</param>
    /// <param name="imageLatents">Image-to-video: the padded first-frame latents <c>[1, T, C, h, w]</c>; null for text-to-video.</param>
    /// <param name="motionControls">The motion window (its strength is already in <paramref name="motion"/>); null: every step guided.</param>
    /// <param name="steps">Steps of the loop (the window is a fraction of them).</param>
    public DenoisingTransformer(InferenceSession session, int batch, int latentFrames, int latentChannels, int latentHeight, int latentWidth,
        float[] textEmbeddings, float[] ropeCos, float[] ropeSin, MotionGuidance motion, float[]? imageLatents,
        MotionControls? motionControls = null, int steps = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        _motionControls = motionControls ?? MotionControls.Default;
        _steps = steps;
        _session = session;
        Batch = batch;
        (_frames, _channels, _plane) = (latentFrames, latentChannels, latentHeight * latentWidth);
        _inChannels = imageLatents is null ? latentChannels : 2 * latentChannels;
        var declared = session.InputMetadata[GraphNames.Transformer.HiddenStates].Dimensions;
        if (declared.Length != 5 || declared[1] != latentFrames || declared[2] != _inChannels || declared[3] != latentHeight || declared[4] != latentWidth)
            throw new GenerationException(GenerationErrorCodes.ModelUnavailable,
                $"the transformer takes hidden_states [{string.Join(", ", declared)}], the pipeline has [batch, {latentFrames}, {_inChannels}, {latentHeight}, {latentWidth}]");
        _imageLatents = imageLatents;
        LatentLength = latentFrames * latentChannels * _plane;
        _hidden = GC.AllocateArray<float>(batch * latentFrames * _inChannels * _plane, pinned: true);
        _timestep = GC.AllocateArray<long>(batch, pinned: true);
        _prediction = GC.AllocateArray<float>(batch * LatentLength, pinned: true);
        int textLength = textEmbeddings.Length / batch;
        long textTokens = session.InputMetadata[GraphNames.Transformer.EncoderHiddenStates].Dimensions[1];

        _binding = session.CreateIoBinding();
        Bind(GraphNames.Transformer.HiddenStates, OrtValue.CreateTensorValueFromMemory(_hidden, [batch, latentFrames, _inChannels, latentHeight, latentWidth]));
        Bind(GraphNames.Transformer.EncoderHiddenStates, OrtValue.CreateTensorValueFromMemory(textEmbeddings, [batch, textTokens, textLength / textTokens]));
        Bind(GraphNames.Transformer.Timestep, OrtValue.CreateTensorValueFromMemory(_timestep, [batch]));
        long headDim = session.InputMetadata[GraphNames.Transformer.RopeCos].Dimensions[1];
        Bind(GraphNames.Transformer.RopeCos, OrtValue.CreateTensorValueFromMemory(ropeCos, [ropeCos.Length / headDim, headDim]));
        Bind(GraphNames.Transformer.RopeSin, OrtValue.CreateTensorValueFromMemory(ropeSin, [ropeSin.Length / headDim, headDim]));
        foreach (var (name, value) in motion.Inputs) _binding.BindInput(name, value);
        var output = OrtValue.CreateTensorValueFromMemory(_prediction, [batch, latentFrames, latentChannels, latentHeight, latentWidth]);
        _owned.Add(output);
        _binding.BindOutput(GraphNames.Transformer.NoisePred, output);
        if (motion.Enabled && !_motionControls.CoversEveryStep)
        {
            _off = MotionGuidance.Off(session);
            _unguidedBinding = session.CreateIoBinding();
            foreach (var (name, value) in _shared) _unguidedBinding.BindInput(name, value);
            foreach (var (name, value) in _off.Inputs) _unguidedBinding.BindInput(name, value);
            _unguidedBinding.BindOutput(GraphNames.Transformer.NoisePred, output);
        }
    }

    /// <summary>Rows of the batch (2 with guidance).</summary>
    public int Batch { get; }

    /// <summary>Values of one latent tensor <c>[1, T, C, h, w]</c>.</summary>
    public int LatentLength { get; }

    /// <summary>
    /// Predicts v for <paramref name="latents"/> at timestep value <paramref name="timestep"/>; returns the batched
    /// prediction <c>[batch, T, C, h, w]</c> (valid until the next call; the caller may modify it).
    /// </summary>
    public Span<float> Predict(ReadOnlySpan<float> latents, int timestep) => Predict(latents, timestep, motionGuided: true);

    /// <summary>As <see cref="Predict(ReadOnlySpan{float}, int)"/>, with the fuser modulations at zero when
    /// <paramref name="motionGuided"/> is false and the transformer was bound for a motion window.</summary>
    private Span<float> Predict(ReadOnlySpan<float> latents, int timestep, bool motionGuided)
    {
        if (latents.Length != LatentLength) throw new ArgumentException($"latents hold {latents.Length} values, expected {LatentLength}", nameof(latents));
        int rowLength = _frames * _inChannels * _plane, framePlanes = _channels * _plane;
        for (int b = 0; b < Batch; b++)
        {
            var row = _hidden.AsSpan(b * rowLength, rowLength);
            if (_imageLatents is null)
            {
                latents.CopyTo(row);
            }
            else
            {
                // torch.cat([latents, image_latents], dim=2): per frame, the noisy channels then the image channels.
                for (int t = 0; t < _frames; t++)
                {
                    latents.Slice(t * framePlanes, framePlanes).CopyTo(row.Slice(2 * t * framePlanes, framePlanes));
                    _imageLatents.AsSpan(t * framePlanes, framePlanes).CopyTo(row.Slice((2 * t + 1) * framePlanes, framePlanes));
                }
            }
            _timestep[b] = timestep;
        }
        _session.RunWithBinding(_runOptions, motionGuided || _unguidedBinding is null ? _binding : _unguidedBinding);
        return _prediction;
    }

    /// <inheritdoc />
    ReadOnlySpan<float> IDenoiser.Predict(ReadOnlySpan<float> latents, int step, int timestep, bool guided)
    {
        if (guided != (Batch == 2))
            throw new InvalidOperationException($"the transformer is bound for a batch of {Batch}; guided = {guided} needs {(guided ? 2 : 1)}");
        return Predict(latents, timestep, _motionControls.GuidesStep(step, _steps));
    }

    private readonly List<(string Name, OrtValue Value)> _shared = [];

    private void Bind(string name, OrtValue value)
    {
        _owned.Add(value);
        _shared.Add((name, value));
        _binding.BindInput(name, value);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _binding.Dispose();
        _unguidedBinding?.Dispose();
        _off?.Dispose();
        foreach (var v in _owned) v.Dispose();
        _runOptions.Dispose();
    }
}
