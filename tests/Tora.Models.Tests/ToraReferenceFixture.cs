using Tora.Inference.Package;
using Tora.Models.Architectures;
using Tora.Models.Checkpoints;
using Tora.Motion.IO;
using Tora.TestSupport;

namespace Tora.Models.Tests;

/// <summary>
/// Builds the tiny T2V trajectory encoder and transformer once, runs them on the reference inputs of
/// <c>transformer_t2v.npz</c> (t = 999 and 500 with the trajectory branch, t = 999 without it) and keeps
/// every output for the individual comparisons.
/// </summary>
public sealed class ToraReferenceFixture
{
    public ToraReferenceFixture()
    {
        Reference = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/transformer_t2v.npz"));
        var folder = TestData.Path("fixtures/tiny-tora-t2v/transformer");
        Config = ToraTransformerConfig.Load(Path.Combine(folder, "config.json"));
        Geometry = LatentGeometry.FromConfig(Config);
        using var ckpt = Checkpoint.Open(folder);
        var encoder = TrajectoryEncoder.Build(ckpt, Config, Geometry, featureOutputs: true);
        var transformer = ToraTransformer.Build(ckpt, Config, Geometry, debugOutputs: true);
        ckpt.EnsureAllUsed();
        TransformerModel = transformer.ToBytes();

        var encoderOutputs = Enumerable.Range(0, Config.NumLayers)
            .SelectMany(i => new[] { TrajectoryEncoder.Feature(i), GraphNames.TrajectoryEncoder.Gamma(i), GraphNames.TrajectoryEncoder.Beta(i) }).ToArray();
        Encoder = OrtRunner.RunOnce(encoder.ToBytes(), new Dictionary<string, NpyArray> { [GraphNames.TrajectoryEncoder.VideoFlow] = Reference["video_flow"] }, encoderOutputs);

        var outputs = new List<string> { GraphNames.Transformer.NoisePred, ToraTransformer.Temb };
        for (int i = 0; i < Config.NumLayers; i++) outputs.AddRange([ToraTransformer.BlockHidden(i), ToraTransformer.BlockEncoderHidden(i)]);
        using var runner = new OrtRunner(TransformerModel);
        foreach (var t in new[] { 999, 500 })
            WithFlow[t] = runner.Run(Inputs(t, motion: true), [.. outputs]);
        NoFlow999 = runner.Run(Inputs(999, motion: false), [.. outputs]);
    }

    public Dictionary<string, NpyArray> Reference { get; }
    public ToraTransformerConfig Config { get; }
    public LatentGeometry Geometry { get; }
    public byte[] TransformerModel { get; }
    public Dictionary<string, NpyArray> Encoder { get; }
    public Dictionary<int, Dictionary<string, NpyArray>> WithFlow { get; } = [];
    public Dictionary<string, NpyArray> NoFlow999 { get; }

    public Dictionary<string, NpyArray> Inputs(int timestep, bool motion)
    {
        var inputs = new Dictionary<string, NpyArray>
        {
            [GraphNames.Transformer.HiddenStates] = Reference["hidden_states"],
            [GraphNames.Transformer.EncoderHiddenStates] = Reference["encoder_hidden_states"],
            [GraphNames.Transformer.Timestep] = Reference[$"timestep_{timestep}"],
            [GraphNames.Transformer.RopeCos] = Reference["rope_cos"],
            [GraphNames.Transformer.RopeSin] = Reference["rope_sin"],
        };
        var zeros = NpyArray.FromFloats(new float[Config.InnerDim], 1, 1, Config.InnerDim);
        for (int i = 0; i < Config.NumLayers; i++)
        {
            inputs[GraphNames.TrajectoryEncoder.Gamma(i)] = motion ? Encoder[GraphNames.TrajectoryEncoder.Gamma(i)] : zeros;
            inputs[GraphNames.TrajectoryEncoder.Beta(i)] = motion ? Encoder[GraphNames.TrajectoryEncoder.Beta(i)] : zeros;
        }
        return inputs;
    }
}
