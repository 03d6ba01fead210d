namespace Tora.Models.Checkpoints;

/// <summary>One tensor of an official checkpoint: name, shape, and whether it is an int64 buffer.</summary>
/// <param name="Name">State-dict name.</param>
/// <param name="Shape">Shape.</param>
/// <param name="Kind">What the values are (for random initialisation).</param>
public sealed record CheckpointTensor(string Name, long[] Shape, TensorKind Kind)
{
    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>What a tensor holds, so random checkpoints get plausible values.</summary>
public enum TensorKind
{
    /// <summary>A Linear/Conv weight: uniform ±1/√fan_in.</summary>
    Weight,
    /// <summary>A bias: small.</summary>
    Bias,
    /// <summary>A norm scale: around 1.</summary>
    NormScale,
    /// <summary>BatchNorm running variance: positive, around 1.</summary>
    RunningVariance,
    /// <summary>An embedding table: unit normal-ish.</summary>
    Embedding,
    /// <summary>An int64 counter (BatchNorm num_batches_tracked).</summary>
    Counter,
}

/// <summary>
/// The state-dict names and shapes of the official diffusers-layout checkpoints, derived from the module
/// definitions (diffusers <c>ToraTransformer3DModel</c> with its <c>CogVideoXBlock</c>s, <c>TrajExtractor</c> and
/// <c>MGF</c>s; transformers <c>T5EncoderModel</c>) for a given config. The graph builders read exactly these.
/// </summary>
public static class CheckpointLayout
{
    /// <summary>The <c>transformer/</c> tensors of a Tora checkpoint.</summary>
    public static IReadOnlyList<CheckpointTensor> ToraTransformer(ToraTransformerConfig c)
    {
        var list = new List<CheckpointTensor>();
        long D = c.InnerDim, E = c.TimeEmbedDim, p = c.PatchSize, dh = c.AttentionHeadDim;
        void Linear(string n, long inF, long outF) { list.Add(new($"{n}.weight", [outF, inF], TensorKind.Weight)); list.Add(new($"{n}.bias", [outF], TensorKind.Bias)); }
        void Norm(string n, long dim) { list.Add(new($"{n}.weight", [dim], TensorKind.NormScale)); list.Add(new($"{n}.bias", [dim], TensorKind.Bias)); }
        void Conv2d(string n, long inC, long outC, long k) { list.Add(new($"{n}.weight", [outC, inC, k, k], TensorKind.Weight)); list.Add(new($"{n}.bias", [outC], TensorKind.Bias)); }
        void BatchNorm(string n, long ch)
        {
            Norm(n, ch);
            list.Add(new($"{n}.running_mean", [ch], TensorKind.Bias));
            list.Add(new($"{n}.running_var", [ch], TensorKind.RunningVariance));
            list.Add(new($"{n}.num_batches_tracked", [], TensorKind.Counter));
        }

        // TrajExtractor(patch 2, nums_rb 2, cin 16, channels [128] * num_layers, sk=True): no in_conv/skep.
        Conv2d("traj_extractor.conv_in", 16 * p * p, 128, 3);
        for (int k = 0; k < 2 * c.NumLayers; k++)
        {
            Conv2d($"traj_extractor.body.{k}.block1", 128, 128, 3);
            Conv2d($"traj_extractor.body.{k}.block2", 128, 128, 3);
            BatchNorm($"traj_extractor.body.{k}.bn1", 128);
            BatchNorm($"traj_extractor.body.{k}.bn2", 128);
        }
        for (int i = 0; i < c.NumLayers; i++)
        {
            foreach (var which in new[] { "gamma", "beta" })
            {
                Conv2d($"fuser.{i}.flow_{which}_spatial", 128, D / 4, 3);
                list.Add(new($"fuser.{i}.flow_{which}_temporal.weight", [D, D / 4, 3], TensorKind.Weight));
                list.Add(new($"fuser.{i}.flow_{which}_temporal.bias", [D], TensorKind.Bias));
            }
            Norm($"fuser.{i}.flow_cond_norm", D);
        }
        Conv2d("patch_embed.proj", c.InChannels, D, p);
        Linear("patch_embed.text_proj", c.TextEmbedDim, D);
        Linear("time_embedding.linear_1", D, E);
        Linear("time_embedding.linear_2", E, E);
        for (int i = 0; i < c.NumLayers; i++)
        {
            var b = $"transformer_blocks.{i}";
            Linear($"{b}.norm1.linear", E, 6 * D);
            Norm($"{b}.norm1.norm", D);
            Norm($"{b}.attn1.norm_q", dh);
            Norm($"{b}.attn1.norm_k", dh);
            Linear($"{b}.attn1.to_q", D, D);
            Linear($"{b}.attn1.to_k", D, D);
            Linear($"{b}.attn1.to_v", D, D);
            Linear($"{b}.attn1.to_out.0", D, D);
            Linear($"{b}.norm2.linear", E, 6 * D);
            Norm($"{b}.norm2.norm", D);
            Linear($"{b}.ff.net.0.proj", D, 4 * D);
            Linear($"{b}.ff.net.2", 4 * D, D);
        }
        Norm("norm_final", D);
        Linear("norm_out.linear", E, 2 * D);
        Norm("norm_out.norm", D);
        Linear("proj_out", D, p * p * c.OutChannels);
        return list;
    }

    /// <summary>The <c>text_encoder/</c> tensors of a T5 v1.1 encoder (transformers <c>T5EncoderModel.save_pretrained</c>: the tied embedding saved once as <c>shared.weight</c>).</summary>
    public static IReadOnlyList<CheckpointTensor> T5Encoder(T5EncoderConfig c)
    {
        var list = new List<CheckpointTensor> { new("shared.weight", [c.VocabSize, c.DModel], TensorKind.Embedding) };
        long d = c.DModel, inner = (long)c.NumHeads * c.DKv;
        for (int i = 0; i < c.NumLayers; i++)
        {
            var a = $"encoder.block.{i}.layer.0";
            list.Add(new($"{a}.SelfAttention.q.weight", [inner, d], TensorKind.Weight));
            list.Add(new($"{a}.SelfAttention.k.weight", [inner, d], TensorKind.Weight));
            list.Add(new($"{a}.SelfAttention.v.weight", [inner, d], TensorKind.Weight));
            list.Add(new($"{a}.SelfAttention.o.weight", [d, inner], TensorKind.Weight));
            if (i == 0) list.Add(new($"{a}.SelfAttention.relative_attention_bias.weight", [c.RelativeAttentionNumBuckets, c.NumHeads], TensorKind.Embedding));
            list.Add(new($"{a}.layer_norm.weight", [d], TensorKind.NormScale));
            var f = $"encoder.block.{i}.layer.1";
            list.Add(new($"{f}.DenseReluDense.wi_0.weight", [c.DFf, d], TensorKind.Weight));
            list.Add(new($"{f}.DenseReluDense.wi_1.weight", [c.DFf, d], TensorKind.Weight));
            list.Add(new($"{f}.DenseReluDense.wo.weight", [d, c.DFf], TensorKind.Weight));
            list.Add(new($"{f}.layer_norm.weight", [d], TensorKind.NormScale));
        }
        list.Add(new("encoder.final_layer_norm.weight", [d], TensorKind.NormScale));
        return list;
    }
}
