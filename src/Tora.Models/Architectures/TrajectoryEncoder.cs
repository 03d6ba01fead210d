using Tora.Inference.Package;
using Tora.Models.Checkpoints;
using Tora.Models.Graph;

namespace Tora.Models.Architectures;

/// <summary>
/// Tora's motion branch up to everything that depends only on the trajectory (docs/model.md §3): the
/// Trajectory Extractor and, for every block, the spatial and temporal convolutions of its Motion-guidance
/// Fuser. Inputs <c>video_flow [N, T, 16, H, W]</c> (flow latents in the transformer's layout) and
/// <c>motion_strength [1]</c> (float32, 1 when not fed: the extractor features are multiplied by it before the
/// fusers' convolutions, so that the strength still costs nothing per step); outputs, per
/// block i, <c>mgf_gamma_i</c> and <c>mgf_beta_i</c> <c>[N, T·h·w, D]</c> in video-token order (t, y, x) with
/// channels last, exactly the layout the transformer adds to its modulated video tokens.
/// </summary>
/// <remarks>
/// Memory/compute trade-off (docs/model.md §6.2, §6.3): the diffusers pipeline recomputes the
/// extractor and all fuser convolutions every step for both CFG halves (≈ 49 TFLOP per step at real size).
/// Here they run once per job with N = 1 (both CFG halves share the flow) and the transformer broadcasts
/// them. The price is keeping gamma/beta for all 42 blocks resident: 2 × 42 × 17 550 × 3072 values
/// = 9.1 GB in bf16/fp16 (18 GB in fp32) — affordable on an 80 GB GPU next to the 12.6 GB transformer,
/// and cheaper than 50 × 49 TFLOP. The alternative (outputting only the 42 extractor features, 0.19 GB,
/// and running the fuser convolutions inside every step) would trade that memory for ~7 % more compute
/// per step; it is not built.
/// </remarks>
public static class TrajectoryEncoder
{
    /// <summary>Channels of every extractor stage (docs/model.md §3.1).</summary>
    public const int FeatureChannels = 128;

    /// <summary>Residual blocks per extractor stage.</summary>
    public const int BlocksPerStage = 2;

    /// <summary>Name of stage <paramref name="i"/>'s extractor feature (debug output).</summary>
    public static string Feature(int i) => $"te_feature_{i}";

    /// <summary>Builds the graph; the flow batch is symbolic (<c>flow_batch</c>).</summary>
    /// <param name="ckpt">The transformer checkpoint (uses <c>traj_extractor.*</c> and the fusers' convolutions).</param>
    /// <param name="config">Transformer config.</param>
    /// <param name="geometry">Latent geometry.</param>
    /// <param name="computeType">Element type of the gamma/beta outputs, and of the convolutions for float32/float16
    /// (a bfloat16 encoder computes in float32 and casts its outputs: ONNX Runtime has no bfloat16 convolutions,
    /// and it runs once per job).</param>
    /// <param name="featureOutputs">Also output the extractor features <c>te_feature_i [N·T, 128, h, w]</c> (tests).</param>
    public static GraphBuilder Build(Checkpoint ckpt, ToraTransformerConfig config, LatentGeometry geometry, ElementType computeType = ElementType.Float32, bool featureOutputs = false)
    {
        var outputType = computeType;
        if (computeType == ElementType.BFloat16) computeType = ElementType.Float32;
        var g = new GraphBuilder("trajectory_encoder", computeType);
        Value Out(Value v) => outputType == computeType ? v : g.Cast(v, outputType);
        int T = geometry.LatentFrames, h = geometry.PatchRows, w = geometry.PatchColumns, p = geometry.PatchSize;
        const int flowChannels = 16;
        var flow = g.Input(GraphNames.TrajectoryEncoder.VideoFlow, ElementType.Float32, "flow_batch", T, flowChannels, geometry.LatentHeight, geometry.LatentWidth);
        var x = computeType == ElementType.Float32 ? flow : g.Cast(flow, computeType);
        var strengthInput = g.InputWithDefault(GraphNames.TrajectoryEncoder.MotionStrength, [1f], 1);
        var strength = computeType == ElementType.Float32 ? strengthInput : g.Cast(strengthInput, computeType);

        // Per latent frame, p×p space-to-depth with channel order c·p² + dy·p + dx (einops patchify); batch-major frames.
        x = g.Reshape(x, -1, flowChannels, h, p, w, p);
        x = g.Transpose(x, 0, 1, 3, 5, 2, 4);
        x = g.Reshape(x, -1, flowChannels * p * p, h, w);

        using (g.Scope("traj_extractor"))
        {
            x = g.Conv2d(ckpt, "traj_extractor.conv_in", x, flowChannels * p * p, FeatureChannels, 3, 1);
            for (int stage = 0; stage < config.NumLayers; stage++)
            {
                for (int j = 0; j < BlocksPerStage; j++)
                    x = ResnetBlock(g, ckpt, $"traj_extractor.body.{stage * BlocksPerStage + j}", x);
                if (featureOutputs) g.Output(x, Feature(stage), computeType, "frames", FeatureChannels, h, w);
                // Only what the fuser sees is scaled; the next extractor stage continues from the unscaled feature.
                var (gamma, beta) = FuserModulation(g, ckpt, $"fuser.{stage}", g.Mul(x, strength), config.InnerDim, T, h, w);
                g.Output(Out(gamma), GraphNames.TrajectoryEncoder.Gamma(stage), outputType, "flow_batch", T * h * w, config.InnerDim);
                g.Output(Out(beta), GraphNames.TrajectoryEncoder.Beta(stage), outputType, "flow_batch", T * h * w, config.InnerDim);
            }
        }
        return g;
    }

    /// <summary>Extractor residual block (sk=True, same channels): x + conv(relu(bn(conv(relu(bn(x)))))), BatchNorm in eval mode.</summary>
    private static Value ResnetBlock(GraphBuilder g, Checkpoint ckpt, string prefix, Value x)
    {
        using var _ = g.Scope(prefix);
        var y = g.Relu(BatchNorm(g, ckpt, prefix + ".bn1", x));
        y = g.Conv2d(ckpt, prefix + ".block1", y, FeatureChannels, FeatureChannels, 3, 1);
        y = g.Relu(BatchNorm(g, ckpt, prefix + ".bn2", y));
        y = g.Conv2d(ckpt, prefix + ".block2", y, FeatureChannels, FeatureChannels, 3, 1);
        return g.Add(y, x);
    }

    private static Value BatchNorm(GraphBuilder g, Checkpoint ckpt, string prefix, Value x)
    {
        ckpt.Ignore(prefix + ".num_batches_tracked");
        Value W(string n) => g.Weight($"{prefix}.{n}", ckpt.Tensor($"{prefix}.{n}", FeatureChannels));
        return g.BatchNorm(x, W("weight"), W("bias"), W("running_mean"), W("running_var"), 1e-5f);
    }

    /// <summary>
    /// The step-invariant half of a Motion-guidance Fuser: a 3×3 conv to D/4 channels per frame, then a
    /// kernel-3 conv along the T latent frames with replicate padding, for gamma and beta separately.
    /// </summary>
    private static (Value Gamma, Value Beta) FuserModulation(GraphBuilder g, Checkpoint ckpt, string prefix, Value feature, int dim, int T, int h, int w)
    {
        using var _ = g.Scope(prefix);
        Value Branch(string name)
        {
            var s = g.Conv2d(ckpt, $"{prefix}.flow_{name}_spatial", feature, FeatureChannels, dim / 4, 3, 1);
            s = g.Reshape(s, -1, T, dim / 4, h, w);
            s = g.Transpose(s, 0, 3, 4, 2, 1);             // [N, h, w, D/4, T]
            s = g.Reshape(s, -1, dim / 4, T);              // (n h w) c t
            s = g.PadEdge(s, 0, 0, 1, 0, 0, 1);            // padding_mode="replicate" along time
            var wt = g.Weight($"{prefix}.flow_{name}_temporal.weight", ckpt.Tensor($"{prefix}.flow_{name}_temporal.weight", dim, dim / 4, 3));
            var bt = g.Weight($"{prefix}.flow_{name}_temporal.bias", ckpt.Tensor($"{prefix}.flow_{name}_temporal.bias", dim));
            s = g.Conv(s, wt, bt, [3], [0, 0]);            // [(n h w), D, T]
            s = g.Reshape(s, -1, h, w, dim, T);
            s = g.Transpose(s, 0, 4, 1, 2, 3);             // [N, T, h, w, D]
            return g.Reshape(s, -1, (long)T * h * w, dim);
        }
        return (Branch("gamma"), Branch("beta"));
    }
}
