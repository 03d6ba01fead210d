using System.Text.Json.Serialization;

namespace Tora.Models.Checkpoints;

/// <summary><c>vae/config.json</c> of an <c>AutoencoderKLCogVideoX</c> (diffusers layout, docs/model.md §4.3).</summary>
public sealed record CogVideoXVaeConfig
{
    /// <summary>Video channels in.</summary>
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 3;
    /// <summary>Video channels out.</summary>
    [JsonPropertyName("out_channels")] public int OutChannels { get; init; } = 3;
    /// <summary>Channels per level (encoder order; the decoder runs them reversed).</summary>
    [JsonPropertyName("block_out_channels")] public int[] BlockOutChannels { get; init; } = [128, 256, 256, 512];
    /// <summary>Latent channels (the encoder emits twice as many: mean and log-variance).</summary>
    [JsonPropertyName("latent_channels")] public int LatentChannels { get; init; } = 16;
    /// <summary>ResNet blocks per encoder level (the decoder has one more per level).</summary>
    [JsonPropertyName("layers_per_block")] public int LayersPerBlock { get; init; } = 3;
    /// <summary>Activation (only silu).</summary>
    [JsonPropertyName("act_fn")] public string ActFn { get; init; } = "silu";
    /// <summary>GroupNorm epsilon of the encoder's ResNet blocks (the other norms use 1e-6 fixed, as diffusers).</summary>
    [JsonPropertyName("norm_eps")] public double NormEps { get; init; } = 1e-6;
    /// <summary>GroupNorm groups.</summary>
    [JsonPropertyName("norm_num_groups")] public int NormNumGroups { get; init; } = 32;
    /// <summary>Temporal compression (4: two time-halving levels).</summary>
    [JsonPropertyName("temporal_compression_ratio")] public double TemporalCompressionRatio { get; init; } = 4;
    /// <summary>Training video height in pixels.</summary>
    [JsonPropertyName("sample_height")] public int SampleHeight { get; init; } = 480;
    /// <summary>Training video width in pixels.</summary>
    [JsonPropertyName("sample_width")] public int SampleWidth { get; init; } = 720;
    /// <summary>Latent scaling factor (0.7 for CogVideoX-5B).</summary>
    [JsonPropertyName("scaling_factor")] public double ScalingFactor { get; init; } = 1.15258426;
    /// <summary>Latent shift (must be null).</summary>
    [JsonPropertyName("shift_factor")] public double? ShiftFactor { get; init; }
    /// <summary>Quant conv after the encoder (must be false).</summary>
    [JsonPropertyName("use_quant_conv")] public bool UseQuantConv { get; init; }
    /// <summary>Post-quant conv before the decoder (must be false).</summary>
    [JsonPropertyName("use_post_quant_conv")] public bool UsePostQuantConv { get; init; }
    /// <summary>Down block types (only CogVideoXDownBlock3D).</summary>
    [JsonPropertyName("down_block_types")] public string[] DownBlockTypes { get; init; } = ["CogVideoXDownBlock3D", "CogVideoXDownBlock3D", "CogVideoXDownBlock3D", "CogVideoXDownBlock3D"];
    /// <summary>Up block types (only CogVideoXUpBlock3D).</summary>
    [JsonPropertyName("up_block_types")] public string[] UpBlockTypes { get; init; } = ["CogVideoXUpBlock3D", "CogVideoXUpBlock3D", "CogVideoXUpBlock3D", "CogVideoXUpBlock3D"];

    /// <summary>Time-halving levels: log2 of the temporal compression (the first levels of the encoder, the first up blocks of the decoder).</summary>
    public int TemporalCompressLevels => (int)Math.Round(Math.Log2(TemporalCompressionRatio));

    /// <summary>Spatial compression: 2 per level except the last.</summary>
    public int SpatialCompression => 1 << (BlockOutChannels.Length - 1);

    /// <summary>The CogVideoX-5B VAE.</summary>
    public static CogVideoXVaeConfig CogVideoX5B => new() { ScalingFactor = 0.7 };

    /// <summary>Reads and validates <c>config.json</c>.</summary>
    /// <exception cref="CheckpointException">Unsupported or invalid configuration.</exception>
    public static CogVideoXVaeConfig Load(string path) => Validate(ConfigJson.Read<CogVideoXVaeConfig>(path), path);

    /// <summary>Checks that the configuration is one the VAE graphs implement.</summary>
    /// <exception cref="CheckpointException">It is not.</exception>
    public static CogVideoXVaeConfig Validate(CogVideoXVaeConfig c, string path)
    {
        void Require(bool ok, string what) { if (!ok) throw new CheckpointException($"{path}: unsupported VAE config: {what}"); }
        Require(c.BlockOutChannels is { Length: >= 2 } && c.BlockOutChannels.All(ch => ch > 0), "block_out_channels needs at least two positive entries");
        Require(c.NormNumGroups > 0 && c.BlockOutChannels.All(ch => ch % c.NormNumGroups == 0), "every channel count must be a multiple of norm_num_groups");
        Require(c.InChannels > 0 && c.OutChannels > 0 && c.LatentChannels > 0 && c.LayersPerBlock > 0, "channel and layer counts must be positive");
        Require(c.ActFn == "silu", $"act_fn '{c.ActFn}'");
        Require(c.DownBlockTypes.Length == c.BlockOutChannels.Length && c.DownBlockTypes.All(t => t == "CogVideoXDownBlock3D"), "down_block_types must be CogVideoXDownBlock3D, one per level");
        Require(c.UpBlockTypes.Length == c.BlockOutChannels.Length && c.UpBlockTypes.All(t => t == "CogVideoXUpBlock3D"), "up_block_types must be CogVideoXUpBlock3D, one per level");
        Require(c.TemporalCompressionRatio >= 1 && Math.Abs(Math.Pow(2, c.TemporalCompressLevels) - c.TemporalCompressionRatio) < 1e-9
            && c.TemporalCompressLevels < c.BlockOutChannels.Length, "temporal_compression_ratio must be a power of two below 2^(levels)");
        Require(c.ScalingFactor > 0, "scaling_factor must be positive");
        Require(c.ShiftFactor is null or 0, "shift_factor is not supported");
        Require(!c.UseQuantConv && !c.UsePostQuantConv, "quant convs are not supported (CogVideoX has none)");
        return c;
    }
}
