using Tora.Inference.Package;
using Tora.Models.Checkpoints;
using Tora.Models.Graph;

namespace Tora.Models.Architectures;

/// <summary>
/// The T5 v1.1 encoder (transformers <c>T5EncoderModel</c>) as an ONNX graph: <c>input_ids [B, L] int64</c> →
/// <c>last_hidden_state [B, L, d_model] float32</c>, run without an attention mask as CogVideoX calls it
/// (docs/model.md §4.1). The relative position bias depends only on L, so it is computed here for the
/// package's fixed L and stored as one constant shared by all layers.
/// </summary>
public static class T5Encoder
{
    /// <summary>Builds the encoder graph.</summary>
    /// <param name="ckpt">The <c>text_encoder</c> weights.</param>
    /// <param name="config">The <c>text_encoder/config.json</c>.</param>
    /// <param name="sequenceLength">Fixed token count L (226 for CogVideoX).</param>
    /// <param name="computeType">float32, or a half type: then the attention and feed-forward matmuls run in it
    /// while the residual stream, RMS norms, attention bias and softmax inputs stay float32 (T5 overflows in fp16;
    /// docs/model.md §6.2).</param>
    public static GraphBuilder Build(Checkpoint ckpt, T5EncoderConfig config, int sequenceLength = 226, ElementType computeType = ElementType.Float32)
    {
        var g = new GraphBuilder("t5_encoder", computeType);
        int d = config.DModel, h = config.NumHeads, dkv = config.DKv, inner = h * dkv;
        float eps = (float)config.LayerNormEpsilon;

        var ids = g.Input(GraphNames.TextEncoder.InputIds, ElementType.Int64, "batch", sequenceLength);
        string embedName = ckpt.Contains("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
        if (embedName == "shared.weight") ckpt.Ignore("encoder.embed_tokens.weight"); // tied copy when present
        var table = g.Weight(embedName, ckpt.Tensor(embedName, config.VocabSize, d), ElementType.Float32);
        var x = g.Gather(table, ids);

        var bias = g.Weight("encoder.position_bias", new ArrayWeight(
            PositionBias(ckpt, config, sequenceLength), 1, h, sequenceLength, sequenceLength), ElementType.Float32);

        for (int i = 0; i < config.NumLayers; i++)
            x = Block(g, ckpt, config, $"encoder.block.{i}", x, bias, sequenceLength, eps, d, h, inner);

        x = RmsNorm(g, ckpt, "encoder.final_layer_norm", x, d, eps);
        g.Output(x, GraphNames.TextEncoder.LastHiddenState, ElementType.Float32, "batch", sequenceLength, d);
        ckpt.EnsureAllUsed();
        return g;
    }

    /// <summary>One encoder block: self-attention sub-layer then gated-GELU feed-forward sub-layer, each pre-norm with a residual.</summary>
    private static Value Block(GraphBuilder g, Checkpoint ckpt, T5EncoderConfig config, string prefix, Value x, Value bias, int length, float eps, int d, int heads, int inner)
    {
        using var _ = g.Scope(prefix);
        if (prefix != "encoder.block.0") ckpt.Ignore($"{prefix}.layer.0.SelfAttention.relative_attention_bias.weight");
        var n = RmsNorm(g, ckpt, $"{prefix}.layer.0.layer_norm", x, d, eps);
        x = g.Add(x, SelfAttention(g, ckpt, $"{prefix}.layer.0.SelfAttention", n, bias, d, heads, inner));
        n = RmsNorm(g, ckpt, $"{prefix}.layer.1.layer_norm", x, d, eps);
        return g.Add(x, GatedGeluFeedForward(g, ckpt, $"{prefix}.layer.1.DenseReluDense", n, d, config.DFf));
    }

    /// <summary>T5 attention: no 1/√d scaling, additive relative position bias, fused op.</summary>
    private static Value SelfAttention(GraphBuilder g, Checkpoint ckpt, string prefix, Value x, Value bias, int d, int heads, int inner)
    {
        using var _ = g.Scope(prefix);
        var xc = ToCompute(g, x);
        var q = g.Linear(ckpt, prefix + ".q", xc, d, inner, bias: false);
        var k = g.Linear(ckpt, prefix + ".k", xc, d, inner, bias: false);
        var v = g.Linear(ckpt, prefix + ".v", xc, d, inner, bias: false);
        var b = g.ComputeType == ElementType.Float32 ? bias : g.Cast(bias, g.ComputeType);
        var a = g.MultiHeadAttention(q, k, v, heads, scale: 1.0f, attentionBias: b);
        return ToFloat32(g, g.Linear(ckpt, prefix + ".o", a, inner, d, bias: false));
    }

    /// <summary><c>T5DenseGatedActDense</c>: wo(gelu_new(wi_0·x) ⊙ wi_1·x).</summary>
    private static Value GatedGeluFeedForward(GraphBuilder g, Checkpoint ckpt, string prefix, Value x, int d, int dff)
    {
        using var _ = g.Scope(prefix);
        var xc = ToCompute(g, x);
        var gate = g.GeluTanh(g.Linear(ckpt, prefix + ".wi_0", xc, d, dff, bias: false));
        var lin = g.Linear(ckpt, prefix + ".wi_1", xc, d, dff, bias: false);
        return ToFloat32(g, g.Linear(ckpt, prefix + ".wo", g.Mul(gate, lin), dff, d, bias: false));
    }

    /// <summary><c>T5LayerNorm</c> (RMS norm, no mean subtraction, no bias), in float32.</summary>
    private static Value RmsNorm(GraphBuilder g, Checkpoint ckpt, string prefix, Value x, int d, float eps)
    {
        using var _ = g.Scope(prefix);
        var variance = g.ReduceMean(g.Mul(x, x), -1);
        var inv = g.Node("Reciprocal", g.Sqrt(g.Add(variance, g.ConstantFloat32([eps]))));
        var w = g.Weight(prefix + ".weight", ckpt.Tensor(prefix + ".weight", d), ElementType.Float32);
        return g.Mul(w, g.Mul(x, inv));
    }

    private static Value ToCompute(GraphBuilder g, Value x) => g.ComputeType == ElementType.Float32 ? x : g.Cast(x, g.ComputeType);

    private static Value ToFloat32(GraphBuilder g, Value x) => g.ComputeType == ElementType.Float32 ? x : g.Cast(x, ElementType.Float32);

    /// <summary>
    /// The [heads, L, L] bias (flattened): bias[h, i, j] = table[bucket(j − i), h] from block 0's
    /// <c>relative_attention_bias</c>, bidirectional bucketing as T5 (half the buckets per direction, exact
    /// below half of those, logarithmic up to the max distance), with the log arithmetic in float32 as torch.
    /// </summary>
    internal static float[] PositionBias(Checkpoint ckpt, T5EncoderConfig config, int length)
    {
        int heads = config.NumHeads, buckets = config.RelativeAttentionNumBuckets;
        var source = ckpt.Tensor("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", buckets, heads);
        var table = new float[buckets * heads];
        source.ReadFloats(table);
        var bias = new float[(long)heads * length * length];
        for (int i = 0; i < length; i++)
            for (int j = 0; j < length; j++)
            {
                int bucket = RelativePositionBucket(j - i, buckets, config.RelativeAttentionMaxDistance);
                for (int hh = 0; hh < heads; hh++)
                    bias[((long)hh * length + i) * length + j] = table[bucket * heads + hh];
            }
        return bias;
    }

    /// <summary>T5's bidirectional relative position bucket of <paramref name="relativePosition"/> = key − query.</summary>
    internal static int RelativePositionBucket(int relativePosition, int numBuckets, int maxDistance)
    {
        numBuckets /= 2;
        int bucket = relativePosition > 0 ? numBuckets : 0;
        int n = Math.Abs(relativePosition);
        int maxExact = numBuckets / 2;
        if (n < maxExact) return bucket + n;
        // float32 like torch: log(n / max_exact) / log(max_distance / max_exact) * (num_buckets - max_exact)
        float scaled = MathF.Log(n / (float)maxExact) / (float)Math.Log(maxDistance / (double)maxExact) * (numBuckets - maxExact);
        int large = maxExact + (int)scaled;
        return bucket + Math.Min(large, numBuckets - 1);
    }
}
