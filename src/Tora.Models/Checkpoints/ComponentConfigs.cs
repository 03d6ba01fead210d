using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tora.Models.Checkpoints;

/// <summary><c>transformer/config.json</c> of a <c>ToraTransformer3DModel</c> (diffusers layout).</summary>
public sealed record ToraTransformerConfig
{
    /// <summary>Attention heads.</summary>
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 48;
    /// <summary>Channels per head.</summary>
    [JsonPropertyName("attention_head_dim")] public int AttentionHeadDim { get; init; } = 64;
    /// <summary>Latent input channels (16 T2V, 32 I2V).</summary>
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 16;
    /// <summary>Latent output channels.</summary>
    [JsonPropertyName("out_channels")] public int OutChannels { get; init; } = 16;
    /// <summary>Cosine half first in the timestep sinusoid.</summary>
    [JsonPropertyName("flip_sin_to_cos")] public bool FlipSinToCos { get; init; } = true;
    /// <summary>Timestep frequency shift.</summary>
    [JsonPropertyName("freq_shift")] public int FreqShift { get; init; }
    /// <summary>Width of the conditioning embedding.</summary>
    [JsonPropertyName("time_embed_dim")] public int TimeEmbedDim { get; init; } = 512;
    /// <summary>CogVideoX 1.5 ofs embedding (unsupported: must be null).</summary>
    [JsonPropertyName("ofs_embed_dim")] public int? OfsEmbedDim { get; init; }
    /// <summary>Width of the text encoder output.</summary>
    [JsonPropertyName("text_embed_dim")] public int TextEmbedDim { get; init; } = 4096;
    /// <summary>Transformer blocks.</summary>
    [JsonPropertyName("num_layers")] public int NumLayers { get; init; } = 42;
    /// <summary>Bias on q/k/v projections.</summary>
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; } = true;
    /// <summary>Latent width of the training geometry.</summary>
    [JsonPropertyName("sample_width")] public int SampleWidth { get; init; } = 90;
    /// <summary>Latent height of the training geometry.</summary>
    [JsonPropertyName("sample_height")] public int SampleHeight { get; init; } = 60;
    /// <summary>Frames of the training geometry (49: see diffusers' note).</summary>
    [JsonPropertyName("sample_frames")] public int SampleFrames { get; init; } = 49;
    /// <summary>Spatial patch size.</summary>
    [JsonPropertyName("patch_size")] public int PatchSize { get; init; } = 2;
    /// <summary>Temporal patch size (CogVideoX 1.5 only; must be null).</summary>
    [JsonPropertyName("patch_size_t")] public int? PatchSizeT { get; init; }
    /// <summary>VAE temporal compression.</summary>
    [JsonPropertyName("temporal_compression_ratio")] public int TemporalCompressionRatio { get; init; } = 4;
    /// <summary>Text tokens.</summary>
    [JsonPropertyName("max_text_seq_length")] public int MaxTextSeqLength { get; init; } = 226;
    /// <summary>Feed-forward activation.</summary>
    [JsonPropertyName("activation_fn")] public string ActivationFn { get; init; } = "gelu-approximate";
    /// <summary>Timestep MLP activation.</summary>
    [JsonPropertyName("timestep_activation_fn")] public string TimestepActivationFn { get; init; } = "silu";
    /// <summary>Affine LayerNorms.</summary>
    [JsonPropertyName("norm_elementwise_affine")] public bool NormElementwiseAffine { get; init; } = true;
    /// <summary>LayerNorm epsilon.</summary>
    [JsonPropertyName("norm_eps")] public double NormEps { get; init; } = 1e-5;
    /// <summary>
    /// Epsilon of the output LayerNorm (<c>norm_out.norm</c>) when it differs from <see cref="NormEps"/>: not a
    /// diffusers key; set by the SAT importer, whose <c>final_layer.norm_final</c> uses 1e-6 (docs/model.md §4.2, §9.14).
    /// </summary>
    [JsonPropertyName("output_norm_eps")] public double? OutputNormEps { get; init; }
    /// <summary>Spatial interpolation scale of the RoPE grid.</summary>
    [JsonPropertyName("spatial_interpolation_scale")] public double SpatialInterpolationScale { get; init; } = 1.875;
    /// <summary>Temporal interpolation scale of the RoPE grid.</summary>
    [JsonPropertyName("temporal_interpolation_scale")] public double TemporalInterpolationScale { get; init; } = 1.0;
    /// <summary>3D RoPE on (must be true).</summary>
    [JsonPropertyName("use_rotary_positional_embeddings")] public bool UseRotaryPositionalEmbeddings { get; init; } = true;
    /// <summary>Learned positional embedding (must be false: Tora never adds it, docs/model.md §4.4).</summary>
    [JsonPropertyName("use_learned_positional_embeddings")] public bool UseLearnedPositionalEmbeddings { get; init; }
    /// <summary>Bias on the patch embedding.</summary>
    [JsonPropertyName("patch_bias")] public bool PatchBias { get; init; } = true;

    /// <summary>heads × head dim.</summary>
    [JsonIgnore] public int InnerDim => NumAttentionHeads * AttentionHeadDim;

    /// <summary>The CogVideoX-5B Tora T2V configuration (official release).</summary>
    public static ToraTransformerConfig CogVideoX5B => new();

    /// <summary>Reads and validates <c>config.json</c>.</summary>
    /// <exception cref="CheckpointException">Unsupported or invalid configuration.</exception>
    public static ToraTransformerConfig Load(string path) => Validate(ConfigJson.Read<ToraTransformerConfig>(path), path);

    private static ToraTransformerConfig Validate(ToraTransformerConfig c, string path)
    {
        void Require(bool ok, string what) { if (!ok) throw new CheckpointException($"{path}: unsupported transformer config: {what}"); }
        Require(c.NumAttentionHeads > 0 && c.AttentionHeadDim > 0 && c.AttentionHeadDim % 2 == 0, "heads and head dim must be positive, head dim even");
        Require(c.NumLayers > 0, "num_layers must be positive");
        Require(c.InnerDim % 32 == 0, "inner dim must be a multiple of the 32 GroupNorm groups of the Motion-guidance Fuser");
        Require(c.InnerDim % 4 == 0, "inner dim must be a multiple of 4");
        Require(c.OfsEmbedDim is null, "ofs_embed_dim (CogVideoX 1.5) is not supported");
        Require(c.PatchSizeT is null, "patch_size_t (CogVideoX 1.5) is not supported");
        Require(c.UseRotaryPositionalEmbeddings && !c.UseLearnedPositionalEmbeddings, "rotary embeddings on, learned positional embeddings off");
        Require(c.ActivationFn == "gelu-approximate", $"activation_fn '{c.ActivationFn}'");
        Require(c.TimestepActivationFn == "silu", $"timestep_activation_fn '{c.TimestepActivationFn}'");
        Require(c.NormElementwiseAffine, "norm_elementwise_affine must be true");
        Require(c.PatchBias && c.AttentionBias, "patch_bias and attention_bias must be true");
        return c;
    }
}

/// <summary><c>text_encoder/config.json</c> of a T5 v1.1 encoder (transformers layout).</summary>
public sealed record T5EncoderConfig
{
    /// <summary>Vocabulary size.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 32128;
    /// <summary>Model width.</summary>
    [JsonPropertyName("d_model")] public int DModel { get; init; } = 4096;
    /// <summary>Channels per head.</summary>
    [JsonPropertyName("d_kv")] public int DKv { get; init; } = 64;
    /// <summary>Feed-forward width.</summary>
    [JsonPropertyName("d_ff")] public int DFf { get; init; } = 10240;
    /// <summary>Encoder layers.</summary>
    [JsonPropertyName("num_layers")] public int NumLayers { get; init; } = 24;
    /// <summary>Heads.</summary>
    [JsonPropertyName("num_heads")] public int NumHeads { get; init; } = 64;
    /// <summary>Relative position buckets.</summary>
    [JsonPropertyName("relative_attention_num_buckets")] public int RelativeAttentionNumBuckets { get; init; } = 32;
    /// <summary>Largest distinguished relative distance.</summary>
    [JsonPropertyName("relative_attention_max_distance")] public int RelativeAttentionMaxDistance { get; init; } = 128;
    /// <summary>RMSNorm epsilon.</summary>
    [JsonPropertyName("layer_norm_epsilon")] public double LayerNormEpsilon { get; init; } = 1e-6;
    /// <summary>Feed-forward kind (v1.1: gated-gelu).</summary>
    [JsonPropertyName("feed_forward_proj")] public string FeedForwardProj { get; init; } = "gated-gelu";
    /// <summary>Padding token id.</summary>
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; }
    /// <summary>End-of-sequence token id.</summary>
    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 1;

    /// <summary>The T5 v1.1 XXL encoder used by CogVideoX.</summary>
    public static T5EncoderConfig XXL => new();

    /// <summary>Reads and validates <c>config.json</c>.</summary>
    /// <exception cref="CheckpointException">Unsupported or invalid configuration.</exception>
    public static T5EncoderConfig Load(string path)
    {
        var c = ConfigJson.Read<T5EncoderConfig>(path);
        if (c.FeedForwardProj != "gated-gelu")
            throw new CheckpointException($"{path}: unsupported T5 feed_forward_proj '{c.FeedForwardProj}' (T5 v1.1 uses gated-gelu)");
        if (c.DModel <= 0 || c.NumHeads <= 0 || c.DKv <= 0 || c.NumLayers <= 0 || c.DFf <= 0 || c.VocabSize <= 0)
            throw new CheckpointException($"{path}: T5 dimensions must be positive");
        return c;
    }
}

/// <summary>Reads component <c>config.json</c> files with clear errors.</summary>
public static class ConfigJson
{
    /// <summary>Deserialises <paramref name="path"/> as <typeparamref name="T"/> (unknown keys ignored).</summary>
    /// <exception cref="CheckpointException">Missing or malformed file.</exception>
    public static T Read<T>(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: config file is missing");
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllBytes(path)) ?? throw new CheckpointException($"{path}: empty config");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: malformed config ({e.Message})");
        }
    }

    /// <summary>Writes a config record as indented JSON.</summary>
    public static void Write<T>(string path, T config) =>
        File.WriteAllText(path, JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true }));
}
