using System.Globalization;
using System.Text.RegularExpressions;
using Tora.Models.Graph;

namespace Tora.Models.Checkpoints.Sat;

/// <summary>
/// A graph tensor taken from a SAT tensor: all of it, or row chunks of it concatenated (the fused QKV split,
/// the 12-chunk AdaLN re-grouping). Rows along dim 0 of a contiguous tensor are contiguous element ranges,
/// so every part is read straight from the mapped storage.
/// </summary>
internal sealed class SatTensor(TorchCheckpointFile file, TorchTensor source, long[] shape, (long Start, long Count)[] parts, string description) : StoredTensor
{
    public override long[] Shape => shape;
    public override string DType => source.DType;
    public override ElementType? ElementType => source.ElementType;
    public override string SourceName => description;
    public TorchTensor Source => source;

    public override WeightSource Open() => new Reader(this);

    private sealed class Reader(SatTensor t) : WeightSource
    {
        public override long[] Shape => t.Shape;

        public override void ReadFloats(Span<float> destination)
        {
            int at = 0;
            foreach (var (start, count) in t._parts)
            {
                t._file.ReadFloats(t.Source, start, destination.Slice(at, checked((int)count)));
                at += (int)count;
            }
        }
    }

    private readonly TorchCheckpointFile _file = file;
    private readonly (long Start, long Count)[] _parts = parts;

    /// <summary>The whole tensor under a new name.</summary>
    public static SatTensor Whole(TorchCheckpointFile file, TorchTensor t) => new(file, t, t.Shape, [(0, t.ElementCount)], t.Name);

    /// <summary>Row chunks <paramref name="chunks"/> of a tensor cut into <paramref name="of"/> equal chunks along dim 0, concatenated.</summary>
    public static SatTensor Rows(TorchCheckpointFile file, TorchTensor t, int of, int[] chunks, string label)
    {
        if (t.Shape.Length == 0 || t.Shape[0] % of != 0)
            throw new CheckpointException($"{file.Path}: tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}]; dim 0 must split into {of} equal parts");
        long rows = t.Shape[0] / of, perRow = t.Shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        var shape = t.Shape.ToArray();
        shape[0] = rows * chunks.Length;
        return new(file, t, shape, chunks.Select(c => (c * rows * perRow, rows * perRow)).ToArray(), $"{t.Name} ({label})");
    }
}

/// <summary>
/// SAT → diffusers tensor names (tiny-tora-sat README "Name mapping"; docs/model.md §4.2): the transformer
/// under <c>model.diffusion_model.</c> with Tora's Trajectory Extractor and fusers, the T5 copy under
/// <c>conditioner.embedders.0.transformer.</c>, the VAE under <c>first_stage_model.</c> or in <c>3d-vae.pt</c>.
/// Names nobody maps fail by name; SAT-only buffers are dropped deliberately.
/// </summary>
public static partial class SatMapping
{
    /// <summary>Prefix of the DiT (with TE and fusers) in the engine state dict.</summary>
    public const string TransformerPrefix = "model.diffusion_model.";
    /// <summary>Prefix of the T5 encoder copy.</summary>
    public const string TextEncoderPrefix = "conditioner.embedders.0.transformer.";
    /// <summary>Prefix of the VAE copy.</summary>
    public const string VaePrefix = "first_stage_model.";

    /// <summary>
    /// SAT-only transformer tensors, dropped: the RoPE tables (recomputed by the host), the never-used absolute
    /// position table, and I2V's learned position embedding, which Tora never adds (docs/model.md §4.4).
    /// </summary>
    private static readonly string[] DroppedTransformer =
        ["mixins.pos_embed.freqs_sin", "mixins.pos_embed.freqs_cos", "transformer.position_embeddings.weight", "mixins.pos_embed.pos_embedding"];

    /// <summary>The transformer tensors of <paramref name="file"/> under their diffusers names.</summary>
    /// <exception cref="CheckpointException">A tensor under the prefix that the mapping does not know, or a fused tensor that does not split.</exception>
    public static Dictionary<string, StoredTensor> Transformer(TorchCheckpointFile file)
    {
        var result = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
        void Put(string name, StoredTensor t)
        {
            if (!result.TryAdd(name, t)) throw new CheckpointException($"{file.Path}: two SAT tensors map to '{name}'");
        }
        foreach (var (full, t) in file.Tensors)
        {
            if (!full.StartsWith(TransformerPrefix, StringComparison.Ordinal)) continue;
            var n = full[TransformerPrefix.Length..];
            if (DroppedTransformer.Contains(n)) continue;
            Match m;
            if ((m = QkvRegex().Match(n)).Success)
            {
                var b = $"transformer_blocks.{m.Groups[1].Value}.attn1";
                string kind = m.Groups[2].Value;
                string[] parts = ["to_q", "to_k", "to_v"];
                for (int i = 0; i < 3; i++) Put($"{b}.{parts[i]}.{kind}", SatTensor.Rows(file, t, 3, [i], $"{parts[i][3]} third"));
            }
            else if ((m = AdaLnRegex().Match(n)).Success)
            {
                // SAT's 12 chunks: shift, scale, gate (attention), shift, scale, gate (MLP), then the same for text;
                // diffusers' norm1 takes video+text of the attention half, norm2 of the MLP half.
                var b = $"transformer_blocks.{m.Groups[1].Value}";
                Put($"{b}.norm1.linear.{m.Groups[2].Value}", SatTensor.Rows(file, t, 12, [0, 1, 2, 6, 7, 8], "chunks 0-2, 6-8 of 12"));
                Put($"{b}.norm2.linear.{m.Groups[2].Value}", SatTensor.Rows(file, t, 12, [3, 4, 5, 9, 10, 11], "chunks 3-5, 9-11 of 12"));
            }
            else if (RenameTransformer(n) is { } renamed)
            {
                Put(renamed, SatTensor.Whole(file, t));
            }
            else
            {
                throw new CheckpointException($"{file.Path}: unknown SAT transformer tensor '{full}'");
            }
        }
        if (result.Count == 0) throw new CheckpointException($"{file.Path}: no transformer tensors (no '{TransformerPrefix}*' names)");
        return result;
    }

    /// <summary>
    /// Transformer tensors renamed by prefix alone, SAT → diffusers (the rest of the name is the same on both sides);
    /// <see cref="SatLayout.TransformerName"/> reads the table backwards.
    /// </summary>
    internal static readonly (string Sat, string Diffusers)[] TransformerPrefixes =
    [
        ("mixins.patch_embed.proj.", "patch_embed.proj."),
        ("mixins.patch_embed.text_proj.", "patch_embed.text_proj."),
        ("time_embed.0.", "time_embedding.linear_1."),
        ("time_embed.2.", "time_embedding.linear_2."),
        ("transformer.final_layernorm.", "norm_final."),
        ("mixins.final_layer.norm_final.", "norm_out.norm."),
        ("mixins.final_layer.adaLN_modulation.1.", "norm_out.linear."),
        ("mixins.final_layer.linear.", "proj_out."),
        ("mixins.adaln_layer.fuser_list.", "fuser."),
        ("traj_extractor.", "traj_extractor."),
    ];

    /// <summary>
    /// The modules of block <c>l</c> stored whole: SAT <c>transformer.layers.l.{Sat}</c> is diffusers
    /// <c>transformer_blocks.l.{Diffusers}</c>; <see cref="SatLayout.TransformerName"/> reads the table backwards.
    /// </summary>
    internal static readonly (string Sat, string Diffusers)[] LayerModules =
    [
        ("input_layernorm", "norm1.norm"),
        ("attention.dense", "attn1.to_out.0"),
        ("post_attention_layernorm", "norm2.norm"),
        ("mlp.dense_h_to_4h", "ff.net.0.proj"),
        ("mlp.dense_4h_to_h", "ff.net.2"),
    ];

    private static string? RenameTransformer(string n)
    {
        foreach (var (sat, diffusers) in TransformerPrefixes)
            if (n.StartsWith(sat, StringComparison.Ordinal)) return diffusers + n[sat.Length..];
        var m = LayerRegex().Match(n);
        if (m.Success && Array.Find(LayerModules, p => p.Sat == m.Groups[2].Value).Diffusers is { } inner)
            return $"transformer_blocks.{m.Groups[1].Value}.{inner}.{m.Groups[3].Value}";
        m = QkNormRegex().Match(n);
        if (m.Success) return $"transformer_blocks.{m.Groups[2].Value}.attn1.norm_{(m.Groups[1].Value == "query" ? "q" : "k")}.{m.Groups[3].Value}";
        return null;
    }

    /// <summary>The T5 encoder copy of an engine state dict under its transformers names (the tied <c>encoder.embed_tokens.weight</c> dropped), or null when the file has none.</summary>
    public static Dictionary<string, StoredTensor>? TextEncoder(TorchCheckpointFile file)
    {
        var result = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
        foreach (var (full, t) in file.Tensors)
        {
            if (!full.StartsWith(TextEncoderPrefix, StringComparison.Ordinal)) continue;
            var n = full[TextEncoderPrefix.Length..];
            if (n == "encoder.embed_tokens.weight") continue; // tied to shared.weight (save_pretrained writes it once)
            result[n] = SatTensor.Whole(file, t);
        }
        return result.Count == 0 ? null : result;
    }

    /// <summary>
    /// The VAE under its diffusers names, from <c>3d-vae.pt</c> (<paramref name="prefix"/> "") or an engine copy
    /// (<see cref="VaePrefix"/>); <c>loss.*</c> (the training discriminator) dropped, as SAT's <c>ignore_keys</c>.
    /// Null when the file has no such tensors.
    /// </summary>
    /// <exception cref="CheckpointException">A VAE tensor the mapping does not know.</exception>
    public static Dictionary<string, StoredTensor>? Vae(TorchCheckpointFile file, string prefix)
    {
        var names = file.Tensors.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        // SAT's decoder.up.I counts from the full-resolution stage; diffusers' up_blocks from the deepest.
        int levels = names.Select(k => UpRegex().Match(k[prefix.Length..])).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) + 1).DefaultIfEmpty(0).Max();
        var result = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
        foreach (var full in names)
        {
            var n = full[prefix.Length..];
            if (n.StartsWith("loss", StringComparison.Ordinal)) continue;
            if (prefix.Length == 0 && !n.StartsWith("encoder.", StringComparison.Ordinal) && !n.StartsWith("decoder.", StringComparison.Ordinal))
                throw new CheckpointException($"{file.Path}: unknown VAE tensor '{full}'");
            var d = n.Replace("nin_shortcut", "conv_shortcut", StringComparison.Ordinal);
            d = MidRegex().Replace(d, m => $"{m.Groups[1].Value}coder.mid_block.resnets.{(m.Groups[2].Value == "1" ? 0 : 1)}.");
            d = DownRegex().Replace(d, m => $"encoder.down_blocks.{m.Groups[1].Value}." + (m.Groups[2].Value == "downsample" ? "downsamplers.0" : "resnets"));
            d = UpRegex().Replace(d, m => $"decoder.up_blocks.{levels - 1 - int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)}." + (m.Groups[2].Value == "upsample" ? "upsamplers.0" : "resnets"));
            if (!result.TryAdd(d, SatTensor.Whole(file, file.Tensors[full]))) throw new CheckpointException($"{file.Path}: two SAT tensors map to '{d}'");
        }
        return result.Count == 0 ? null : result;
    }

    /// <summary>Engine tensors outside the three known groups (fail by name: not a Tora SAT checkpoint, or a newer one).</summary>
    public static IEnumerable<string> UnknownEngineTensors(TorchCheckpointFile file) =>
        file.Tensors.Keys.Where(k => !k.StartsWith(TransformerPrefix, StringComparison.Ordinal) && !k.StartsWith(TextEncoderPrefix, StringComparison.Ordinal)
            && !k.StartsWith(VaePrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal);

    [GeneratedRegex(@"^transformer\.layers\.(\d+)\.attention\.query_key_value\.(weight|bias)$")]
    private static partial Regex QkvRegex();

    [GeneratedRegex(@"^mixins\.adaln_layer\.adaLN_modulations\.(\d+)\.1\.(weight|bias)$")]
    private static partial Regex AdaLnRegex();

    [GeneratedRegex(@"^transformer\.layers\.(\d+)\.(.+)\.(weight|bias)$")]
    private static partial Regex LayerRegex();

    [GeneratedRegex(@"^mixins\.adaln_layer\.(query|key)_layernorm_list\.(\d+)\.(weight|bias)$")]
    private static partial Regex QkNormRegex();

    [GeneratedRegex(@"^(en|de)coder\.mid\.block_([12])\.")]
    private static partial Regex MidRegex();

    [GeneratedRegex(@"^encoder\.down\.(\d+)\.(block|downsample)")]
    private static partial Regex DownRegex();

    [GeneratedRegex(@"^decoder\.up\.(\d+)\.(block|upsample)")]
    private static partial Regex UpRegex();
}

/// <summary>The inverse of <see cref="SatMapping"/>: SAT names and shapes of a Tora engine (for random SAT checkpoints and messages).</summary>
public static partial class SatLayout
{
    /// <summary>The SAT name (after <see cref="SatMapping.TransformerPrefix"/>) a diffusers transformer tensor comes from, and how many diffusers tensors share it along dim 0 (3 for q/k/v, 2 for the AdaLN halves).</summary>
    public static (string Name, int Fused) TransformerName(string d)
    {
        foreach (var (sat, diffusers) in SatMapping.TransformerPrefixes)
            if (d.StartsWith(diffusers, StringComparison.Ordinal)) return (sat + d[diffusers.Length..], 1);
        var m = BlockRegex().Match(d);
        if (!m.Success) throw new ArgumentException($"not a transformer tensor name: '{d}'", nameof(d));
        string l = m.Groups[1].Value, inner = m.Groups[2].Value, kind = m.Groups[3].Value;
        if (Array.Find(SatMapping.LayerModules, p => p.Diffusers == inner).Sat is { } module)
            return ($"transformer.layers.{l}.{module}.{kind}", 1);
        return inner switch
        {
            "attn1.norm_q" => ($"mixins.adaln_layer.query_layernorm_list.{l}.{kind}", 1),
            "attn1.norm_k" => ($"mixins.adaln_layer.key_layernorm_list.{l}.{kind}", 1),
            "attn1.to_q" or "attn1.to_k" or "attn1.to_v" => ($"transformer.layers.{l}.attention.query_key_value.{kind}", 3),
            "norm1.linear" or "norm2.linear" => ($"mixins.adaln_layer.adaLN_modulations.{l}.1.{kind}", 2),
            _ => throw new ArgumentException($"not a transformer tensor name: '{d}'", nameof(d)),
        };
    }

    /// <summary><see cref="TransformerName"/>'s name, or null for a name that is not a transformer tensor.</summary>
    public static string? TryTransformerName(string d)
    {
        try
        {
            return TransformerName(d).Name;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The SAT name of a diffusers VAE tensor (<paramref name="levels"/>: VAE levels, for the reversed decoder index).</summary>
    public static string VaeName(string d, int levels)
    {
        var s = d.Replace("conv_shortcut", "nin_shortcut", StringComparison.Ordinal);
        s = VaeMidRegex().Replace(s, m => $"{m.Groups[1].Value}coder.mid.block_{(m.Groups[2].Value == "0" ? 1 : 2)}.");
        s = VaeDownRegex().Replace(s, m => $"encoder.down.{m.Groups[1].Value}." + (m.Groups[2].Value == "downsamplers.0" ? "downsample" : "block"));
        s = VaeUpRegex().Replace(s, m => $"decoder.up.{levels - 1 - int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)}." + (m.Groups[2].Value == "upsamplers.0" ? "upsample" : "block"));
        return s;
    }

    /// <summary>
    /// Every tensor of a SAT engine file (<c>mp_rank_00_model_states.pt</c> <c>module</c>): the transformer with
    /// its SAT-only buffers, the T5 copy (the tied <c>encoder.embed_tokens.weight</c> is written as an alias) and the VAE copy.
    /// </summary>
    public static IReadOnlyList<CheckpointTensor> Engine(ToraTransformerConfig c, T5EncoderConfig t5, CogVideoXVaeConfig vae)
    {
        var list = new List<CheckpointTensor>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in CheckpointLayout.ToraTransformer(c))
        {
            var (name, fused) = TransformerName(t.Name);
            if (!seen.Add(name)) continue;
            var shape = t.Shape.ToArray();
            if (fused > 1) shape[0] *= fused;
            list.Add(new(SatMapping.TransformerPrefix + name, shape, t.Kind));
        }
        long tokens = ((c.SampleFrames - 1) / c.TemporalCompressionRatio + 1) * (long)(c.SampleHeight / c.PatchSize) * (c.SampleWidth / c.PatchSize);
        list.Add(new(SatMapping.TransformerPrefix + "mixins.pos_embed.freqs_sin", [tokens, c.AttentionHeadDim], TensorKind.Bias));
        list.Add(new(SatMapping.TransformerPrefix + "mixins.pos_embed.freqs_cos", [tokens, c.AttentionHeadDim], TensorKind.Bias));
        list.Add(new(SatMapping.TransformerPrefix + "transformer.position_embeddings.weight", [64, c.InnerDim], TensorKind.Embedding));
        if (c.InChannels == 32)
            list.Add(new(SatMapping.TransformerPrefix + "mixins.pos_embed.pos_embedding", [1, 226 + tokens, c.InnerDim], TensorKind.Embedding));
        list.AddRange(CheckpointLayout.T5Encoder(t5).Select(t => t with { Name = SatMapping.TextEncoderPrefix + t.Name }));
        list.AddRange(CogVideoXVaeLayout.Tensors(vae).Select(t => t with { Name = SatMapping.VaePrefix + VaeName(t.Name, vae.BlockOutChannels.Length) }));
        return list;
    }

    [GeneratedRegex(@"^transformer_blocks\.(\d+)\.(.+)\.(weight|bias)$")]
    private static partial Regex BlockRegex();

    [GeneratedRegex(@"^(en|de)coder\.mid_block\.resnets\.([01])\.")]
    private static partial Regex VaeMidRegex();

    [GeneratedRegex(@"^encoder\.down_blocks\.(\d+)\.(resnets|downsamplers\.0)")]
    private static partial Regex VaeDownRegex();

    [GeneratedRegex(@"^decoder\.up_blocks\.(\d+)\.(resnets|upsamplers\.0)")]
    private static partial Regex VaeUpRegex();
}
