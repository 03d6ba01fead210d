using Google.Protobuf;
using Tora.Inference.Package;
using Tora.Models.Architectures;
using Tora.Models.Checkpoints;
using Tora.Motion.IO;
using Tora.TestSupport;

namespace Tora.Models.Tests;

/// <summary>
/// The trajectory encoder's <c>motion_strength</c> input: at its default of 1 the graph computes bit for bit what
/// the graph without it computed; any strength scales the features the fusers see, never the extractor chain.
/// </summary>
public sealed class MotionStrengthGraphTests
{
    private static readonly Lazy<(byte[] Model, NpyArray Flow, string[] Outputs)> Encoder = new(() =>
    {
        var folder = TestData.Path("fixtures/tiny-tora-t2v/transformer");
        var config = ToraTransformerConfig.Load(Path.Combine(folder, "config.json"));
        using var ckpt = Checkpoint.Open(folder);
        var graph = TrajectoryEncoder.Build(ckpt, config, LatentGeometry.FromConfig(config), featureOutputs: true);
        var outputs = Enumerable.Range(0, config.NumLayers)
            .SelectMany(i => new[] { TrajectoryEncoder.Feature(i), GraphNames.TrajectoryEncoder.Gamma(i), GraphNames.TrajectoryEncoder.Beta(i) }).ToArray();
        var loop = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz"));
        return (graph.ToBytes(), loop["flow_latents"], outputs);
    });

    private static Dictionary<string, NpyArray> Run(byte[] model, float? strength)
    {
        var inputs = new Dictionary<string, NpyArray> { [GraphNames.TrajectoryEncoder.VideoFlow] = Encoder.Value.Flow };
        if (strength is { } s) inputs[GraphNames.TrajectoryEncoder.MotionStrength] = NpyArray.FromFloats([s], 1);
        return OrtRunner.RunOnce(model, inputs, Encoder.Value.Outputs);
    }

    /// <summary>The same graph with the strength multiplications taken out: what the compiler built before the input existed.</summary>
    private static byte[] WithoutStrength(byte[] model)
    {
        var proto = Onnx.ModelProto.Parser.ParseFrom(model);
        var graph = proto.Graph;
        var muls = graph.Node.Where(n => n.OpType == "Mul" && n.Input[1] == GraphNames.TrajectoryEncoder.MotionStrength).ToList();
        Assert.NotEmpty(muls);
        var replaced = muls.ToDictionary(n => n.Output[0], n => n.Input[0]);
        foreach (var mul in muls) graph.Node.Remove(mul);
        foreach (var node in graph.Node)
            for (int i = 0; i < node.Input.Count; i++)
                if (replaced.TryGetValue(node.Input[i], out var source)) node.Input[i] = source;
        graph.Input.Remove(graph.Input.Single(v => v.Name == GraphNames.TrajectoryEncoder.MotionStrength));
        graph.Initializer.Remove(graph.Initializer.Single(t => t.Name == GraphNames.TrajectoryEncoder.MotionStrength));
        Assert.DoesNotContain(graph.Node, n => n.Input.Contains(GraphNames.TrajectoryEncoder.MotionStrength));
        return proto.ToByteArray();
    }

    [Fact]
    public void Strength_one_fed_or_left_out_is_bit_for_bit_the_graph_without_strength()
    {
        var model = Encoder.Value.Model;
        var before = Run(WithoutStrength(model), null);
        var defaulted = Run(model, null);
        var fed = Run(model, 1f);
        foreach (var name in Encoder.Value.Outputs)
        {
            Assert.Equal(before[name].ToFloats(), defaulted[name].ToFloats());
            Assert.Equal(before[name].ToFloats(), fed[name].ToFloats());
        }
    }

    [Fact]
    public void Strength_scales_the_features_before_the_fuser_convolutions_and_leaves_the_extractor_alone()
    {
        var model = Encoder.Value.Model;
        var one = Run(model, 1f);
        var zero = Run(model, 0f);
        var scaled = Run(model, 0.6f);
        foreach (var name in Encoder.Value.Outputs)
        {
            if (name.StartsWith("te_feature_", StringComparison.Ordinal))
            {
                // The extractor chain is unchanged: stage i + 1 continues from the unscaled feature of stage i.
                Assert.Equal(one[name].ToFloats(), scaled[name].ToFloats());
                continue;
            }
            // The fuser convolutions are affine, so f(0.6·x) = 0.6·f(x) + 0.4·f(0); f(0) is the biases' image, not 0
            // (strength 0 still runs the fusers).
            var (a, b, c) = (one[name].ToFloats(), zero[name].ToFloats(), scaled[name].ToFloats());
            Assert.Contains(b, v => v != 0f);
            double max = 0;
            for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(0.6 * a[i] + 0.4 * b[i] - c[i]));
            Assert.True(max <= 1e-5, $"{name}: max abs {max:E2} from 0.6·f(x) + 0.4·f(0)");
            Assert.NotEqual(a, c);
        }
    }
}
