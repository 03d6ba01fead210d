using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tora.Inference.Package;
using YamlDotNet.RepresentationModel;

namespace Tora.Models.Checkpoints.Sat;

/// <summary>Settings of a SAT import that the checkpoint files do not carry.</summary>
public sealed record SatImportOptions
{
    /// <summary><c>t2v</c> or <c>i2v</c>; null: the only one present.</summary>
    public string? Variant { get; init; }

    /// <summary>
    /// The SAT model YAML (<c>sat/configs/tora/model/cogvideox_5b_tora*.yaml</c>): heads, RoPE head width,
    /// latent grid, frames, scale factor. Null: the CogVideoX-5B Tora values.
    /// </summary>
    public string? ModelConfig { get; init; }

    /// <summary>VAE GroupNorm groups: hard-coded 32 in SAT's <c>cp_enc_dec.py</c>, so no YAML can say it (2 for the tiny fixtures).</summary>
    public int VaeNormGroups { get; init; } = 32;
}

/// <summary>
/// The original SAT <c>ckpts/</c> folder of alibaba/Tora as its README has users lay it out:
/// <c>tora/t2v/mp_rank_00_model_states.pt</c> and/or <c>tora/i2v/…</c> (DeepSpeed engine state dicts: DiT with
/// Trajectory Extractor and fusers, plus copies of T5 and the VAE), <c>vae/3d-vae.pt</c>, and
/// <c>t5-v1_1-xxl/</c> (the HF T5 encoder's <c>config.json</c>, weights and tokenizer files). Architecture
/// numbers come from tensor shapes, the model YAML (<see cref="SatImportOptions.ModelConfig"/>) or the
/// CogVideoX-5B defaults. Like SAT, the engine file's T5 and VAE copies override the separate files (SAT loads
/// those first, then the engine file over them).
/// </summary>
public sealed class SatPipelineSource : PipelineSource, IDisposable
{
    /// <summary>The engine file inside <c>tora/&lt;variant&gt;/</c>.</summary>
    public const string EngineFile = "mp_rank_00_model_states.pt";

    /// <summary>Tokenizer files copied from the T5 folder.</summary>
    private static readonly string[] TokenizerNames = ["spiece.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "tokenizer.json"];

    private TorchCheckpointFile? _engine;
    private readonly string _t5Folder;
    private readonly string? _vaeFile;
    private readonly string? _yaml;

    private SatPipelineSource(TorchCheckpointFile engine, string t5Folder, string? vaeFile, string? yaml)
    {
        _engine = engine;
        _t5Folder = t5Folder;
        _vaeFile = vaeFile;
        _yaml = yaml;
    }

    /// <inheritdoc />
    public override string Layout => "sat";

    /// <inheritdoc />
    public override SourceSemantics Semantics => new("sat", Transformer.OutputNormEps ?? Transformer.NormEps,
        Variant == "i2v" ? "sat: image resized with bicubic resampling, VAE posterior sample x scaling factor as latent frame 0, zero latent frames after it, concatenated with the noisy latents on channels, no noise on the image, no learned position embedding" : null,
        "zeros");

    /// <summary>Whether <paramref name="folder"/> looks like a SAT <c>ckpts/</c> folder.</summary>
    public static bool Detect(string folder) =>
        File.Exists(System.IO.Path.Combine(folder, "tora", "t2v", EngineFile)) || File.Exists(System.IO.Path.Combine(folder, "tora", "i2v", EngineFile));

    /// <summary>Opens a SAT <c>ckpts/</c> folder: reads the engine file's tensor index and derives the configs.</summary>
    /// <exception cref="CheckpointException">Missing files, ambiguous variant, or shapes that do not fit.</exception>
    /// <exception cref="InvalidDataException">A checkpoint file is corrupt, truncated or names a forbidden pickle global.</exception>
    public static SatPipelineSource Open(string folder, SatImportOptions options)
    {
        if (!Directory.Exists(folder)) throw new CheckpointException($"{folder}: no such folder");
        var variants = new[] { "t2v", "i2v" }.Where(v => File.Exists(System.IO.Path.Combine(folder, "tora", v, EngineFile))).ToList();
        string variant = options.Variant ?? (variants.Count switch
        {
            0 => throw new CheckpointException($"{folder} is not a SAT ckpts folder: no tora/t2v/{EngineFile} or tora/i2v/{EngineFile}"),
            1 => variants[0],
            _ => throw new CheckpointException($"{folder} holds both tora/t2v and tora/i2v; choose one with --variant t2v|i2v"),
        });
        if (!variants.Contains(variant)) throw new CheckpointException($"{folder}: tora/{variant}/{EngineFile} is missing");
        var t5 = System.IO.Path.Combine(folder, "t5-v1_1-xxl");
        if (!File.Exists(System.IO.Path.Combine(t5, "config.json")))
            throw new CheckpointException($"{folder} is not a complete SAT ckpts folder: t5-v1_1-xxl/config.json is missing");
        var vaeFile = System.IO.Path.Combine(folder, "vae", "3d-vae.pt");
        var yaml = options.ModelConfig is null ? null : SatYaml.Load(options.ModelConfig);

        var engine = TorchCheckpointFile.Open(System.IO.Path.Combine(folder, "tora", variant, EngineFile));
        try
        {
            var unknown = SatMapping.UnknownEngineTensors(engine).ToList();
            if (unknown.Count > 0)
                throw new CheckpointException($"{engine.Path}: {unknown.Count} unknown tensor(s) outside model.diffusion_model / conditioner / first_stage_model, e.g. '{string.Join("', '", unknown.Take(3))}'");
            bool engineVae = engine.Tensors.Keys.Any(k => k.StartsWith(SatMapping.VaePrefix, StringComparison.Ordinal));
            if (!engineVae && !File.Exists(vaeFile))
                throw new CheckpointException($"{folder} is not a complete SAT ckpts folder: vae/3d-vae.pt is missing (and {engine.Path} holds no VAE copy)");
            var transformer = TransformerConfig(engine, yaml, variant);
            Dictionary<string, StoredTensor> vaeTensors;
            TorchCheckpointFile? vae = null;
            try
            {
                if (engineVae) vaeTensors = SatMapping.Vae(engine, SatMapping.VaePrefix)!;
                else
                {
                    vae = TorchCheckpointFile.Open(vaeFile);
                    vaeTensors = SatMapping.Vae(vae, "") ?? throw new CheckpointException($"{vaeFile}: no VAE tensors");
                }
                var vaeConfig = VaeConfig(vaeTensors, engineVae ? engine.Path : vaeFile, yaml, options.VaeNormGroups, transformer);
                var source = new SatPipelineSource(engine, t5, engineVae ? null : vaeFile, options.ModelConfig)
                {
                    Path = folder,
                    Transformer = transformer,
                    TextEncoder = T5EncoderConfig.Load(System.IO.Path.Combine(t5, "config.json")),
                    Vae = vaeConfig,
                    SchedulerConfig = SchedulerConfigFor(yaml),
                    TokenizerFolder = t5,
                    TokenizerFiles = TokenizerNames.Select(n => System.IO.Path.Combine(t5, n)).Where(File.Exists).ToList(),
                };
                if (source.TokenizerFiles!.Count == 0) source = source.WithoutTokenizer();
                return source;
            }
            finally
            {
                vae?.Dispose();
            }
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    private SatPipelineSource WithoutTokenizer() => new(_engine!, _t5Folder, _vaeFile, _yaml)
    {
        Path = Path, Transformer = Transformer, TextEncoder = TextEncoder, Vae = Vae, SchedulerConfig = SchedulerConfig,
    };

    private TorchCheckpointFile Engine => _engine ?? throw new ObjectDisposedException(nameof(SatPipelineSource));

    /// <summary>The engine file in use.</summary>
    public string EnginePath => Engine.Path;

    /// <inheritdoc />
    public override Checkpoint OpenTextEncoder()
    {
        var copy = SatMapping.TextEncoder(Engine);
        if (copy is not null)
            return Checkpoint.FromTensors($"{Engine.Path} ({SatMapping.TextEncoderPrefix}*)", copy, [Engine.Path], []);
        return Checkpoint.Open(_t5Folder);
    }

    /// <inheritdoc />
    public override Checkpoint OpenTransformer() =>
        Checkpoint.FromTensors($"{Engine.Path} ({SatMapping.TransformerPrefix}*)", SatMapping.Transformer(Engine), [Engine.Path], [],
            n => SatLayout.TryTransformerName(n) is { } sat ? SatMapping.TransformerPrefix + sat : null);

    /// <inheritdoc />
    public override Checkpoint OpenVae()
    {
        // Open always reads the SAT VAE's config (a SAT source is never opened without one).
        int levels = (Vae ?? throw new InvalidOperationException("the SAT source has no VAE config")).BlockOutChannels.Length;
        if (_vaeFile is null)
            return Checkpoint.FromTensors($"{Engine.Path} ({SatMapping.VaePrefix}*)", SatMapping.Vae(Engine, SatMapping.VaePrefix)!, [Engine.Path], [],
                n => SatMapping.VaePrefix + SatLayout.VaeName(n, levels));
        var file = TorchCheckpointFile.Open(_vaeFile);
        return Checkpoint.FromTensors(_vaeFile, SatMapping.Vae(file, "")!, [_vaeFile], [file], n => SatLayout.VaeName(n, levels));
    }

    /// <inheritdoc />
    public override IReadOnlyList<string> SourceFiles()
    {
        var files = new List<string> { Engine.Path };
        if (_vaeFile is not null) files.Add(_vaeFile);
        if (SatMapping.TextEncoder(Engine) is null)
            files.AddRange(Directory.GetFiles(_t5Folder).Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal) || f.EndsWith(".index.json", StringComparison.Ordinal)));
        files.Add(System.IO.Path.Combine(_t5Folder, "config.json"));
        files.AddRange(TokenizerFiles ?? []);
        if (_yaml is not null) files.Add(_yaml);
        return files.Distinct().ToList();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _engine?.Dispose();
        _engine = null;
    }

    private static long[] ShapeOf(TorchCheckpointFile f, string name) =>
        f.Tensors.TryGetValue(SatMapping.TransformerPrefix + name, out var t) ? t.Shape
            : throw new CheckpointException($"{f.Path}: missing tensor '{SatMapping.TransformerPrefix}{name}'");

    /// <summary>The transformer config from shapes (tiny-tora-sat README "Architecture numbers"), the YAML and the SAT constants.</summary>
    private static ToraTransformerConfig TransformerConfig(TorchCheckpointFile f, SatYaml? yaml, string variant)
    {
        var proj = ShapeOf(f, "mixins.patch_embed.proj.weight");
        if (proj.Length != 4 || proj[2] != proj[3]) throw new CheckpointException($"{f.Path}: '{SatMapping.TransformerPrefix}mixins.patch_embed.proj.weight' has shape [{string.Join(", ", proj)}], expected [hidden, channels, patch, patch]");
        int hidden = (int)proj[0], inChannels = (int)proj[1], patch = (int)proj[2];
        int headDim = (int)ShapeOf(f, "mixins.adaln_layer.query_layernorm_list.0.weight")[0];
        int layers = f.Tensors.Keys.Select(k => k.StartsWith(SatMapping.TransformerPrefix + "transformer.layers.", StringComparison.Ordinal)
            ? k[(SatMapping.TransformerPrefix.Length + "transformer.layers.".Length)..].Split('.')[0] : null)
            .Where(s => s is not null).Distinct().Count();
        int outChannels = (int)(ShapeOf(f, "mixins.final_layer.linear.weight")[0] / (patch * patch));
        int heads = yaml?.Int("model.network_config.params.num_attention_heads") ?? hidden / headDim;
        int yamlHeadDim = yaml?.Int("model.network_config.params.modules.pos_embed_config.params.hidden_size_head") ?? headDim;
        if (heads * headDim != hidden || yamlHeadDim != headDim)
            throw new CheckpointException($"{f.Path}: {heads} heads × head dim {headDim} (q-norm length; YAML says {yamlHeadDim}) does not give the hidden size {hidden}");
        if (yaml?.Int("model.network_config.params.in_channels") is { } yin && yin != inChannels)
            throw new CheckpointException($"{f.Path}: the patch embedding takes {inChannels} channels but the YAML says in_channels {yin}");
        if ((variant == "i2v") != (inChannels == 32))
            throw new CheckpointException($"{f.Path}: a tora/{variant} checkpoint with {inChannels} input channels (T2V has 16, I2V 32)");
        int latentHeight = yaml?.Int("model.network_config.params.latent_height") ?? 60;
        int latentWidth = yaml?.Int("model.network_config.params.latent_width") ?? 90;
        int frames = yaml?.Int("model.network_config.params.num_frames") ?? 49;
        int compress = yaml?.Int("model.network_config.params.time_compressed_rate") ?? 4;
        int textLength = yaml?.Int("model.network_config.params.modules.pos_embed_config.params.text_length") ?? 226;
        if (textLength != 226) throw new CheckpointException($"{f.Path}: text_length {textLength} is not supported (226)");
        // The RoPE table SAT keeps as a buffer was built for the training grid: a cross-check of the latent size.
        if (f.Tensors.TryGetValue(SatMapping.TransformerPrefix + "mixins.pos_embed.freqs_sin", out var freqs))
        {
            long expected = ((frames - 1) / compress + 1) * (long)(latentHeight / patch) * (latentWidth / patch);
            if (freqs.Shape[0] != expected)
                throw new CheckpointException($"{f.Path}: the RoPE table has {freqs.Shape[0]} rows but a {latentHeight}×{latentWidth} latent grid of {frames} frames needs {expected}; give the model YAML (--sat-config)");
        }
        return new ToraTransformerConfig
        {
            NumAttentionHeads = heads, AttentionHeadDim = headDim, InChannels = inChannels, OutChannels = outChannels,
            TimeEmbedDim = (int)ShapeOf(f, "time_embed.0.weight")[0], TextEmbedDim = (int)ShapeOf(f, "mixins.patch_embed.text_proj.weight")[1],
            NumLayers = layers, SampleHeight = latentHeight, SampleWidth = latentWidth, SampleFrames = frames, PatchSize = patch,
            TemporalCompressionRatio = compress, MaxTextSeqLength = textLength,
            // SwissArmyTransformer's layernorm_epsilon default for the block and final norms; FinalLayerMixin's own 1e-6 (docs/model.md §4.2).
            NormEps = 1e-5, OutputNormEps = 1e-6,
        };
    }

    /// <summary>The VAE config from the (diffusers-named) VAE tensors' shapes, the YAML's scale factor and the group setting.</summary>
    private static CogVideoXVaeConfig VaeConfig(Dictionary<string, StoredTensor> t, string path, SatYaml? yaml, int groups, ToraTransformerConfig transformer)
    {
        long[] Shape(string n) => t.TryGetValue(n, out var s) ? s.Shape : throw new CheckpointException($"{path}: missing VAE tensor for '{n}'");
        int levels = t.Keys.Where(k => k.StartsWith("encoder.down_blocks.", StringComparison.Ordinal)).Select(k => k.Split('.')[2]).Distinct().Count();
        int perLevel = t.Keys.Where(k => k.StartsWith("encoder.down_blocks.0.resnets.", StringComparison.Ordinal)).Select(k => k.Split('.')[4]).Distinct().Count();
        var channels = Enumerable.Range(0, levels).Select(i => (int)Shape($"encoder.down_blocks.{i}.resnets.0.conv1.conv.weight")[0]).ToArray();
        var config = new CogVideoXVaeConfig
        {
            InChannels = (int)Shape("encoder.conv_in.conv.weight")[1],
            OutChannels = (int)Shape("decoder.conv_out.conv.weight")[0],
            BlockOutChannels = channels,
            LatentChannels = (int)Shape("decoder.conv_in.conv.weight")[1],
            LayersPerBlock = perLevel,
            NormNumGroups = groups,
            ScalingFactor = yaml?.Double("model.scale_factor") ?? 0.7,
            SampleHeight = transformer.SampleHeight * (1 << (levels - 1)),
            SampleWidth = transformer.SampleWidth * (1 << (levels - 1)),
        };
        return CogVideoXVaeConfig.Validate(config, path);
    }

    /// <summary>The diffusers form of SAT's denoiser/sampler settings (docs/model.md §5.1): the same zero-terminal-SNR v-prediction schedule.</summary>
    private static JsonElement SchedulerConfigFor(SatYaml? yaml)
    {
        var node = new JsonObject
        {
            ["_class_name"] = "CogVideoXDDIMScheduler",
            ["beta_end"] = 0.012,
            ["beta_schedule"] = "scaled_linear",
            ["beta_start"] = 0.00085,
            ["clip_sample"] = false,
            ["clip_sample_range"] = 1.0,
            ["num_train_timesteps"] = yaml?.Int("model.denoiser_config.params.num_idx") ?? 1000,
            ["prediction_type"] = "v_prediction",
            ["rescale_betas_zero_snr"] = true,
            ["sample_max_value"] = 1.0,
            ["set_alpha_to_one"] = true,
            ["snr_shift_scale"] = yaml?.Double("model.denoiser_config.params.discretization_config.params.shift_scale") ?? 1.0,
            ["steps_offset"] = 0,
            ["timestep_spacing"] = "trailing",
            ["trained_betas"] = null,
        };
        return JsonDocument.Parse(node.ToJsonString()).RootElement.Clone();
    }
}

/// <summary>A SAT OmegaConf YAML, read as plain data (YamlDotNet's representation model: no types instantiated).</summary>
internal sealed class SatYaml
{
    private readonly YamlMappingNode _root;
    private readonly string _path;

    private SatYaml(YamlMappingNode root, string path) => (_root, _path) = (root, path);

    public static SatYaml Load(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: SAT config file is missing");
        try
        {
            var stream = new YamlStream();
            using var reader = new StreamReader(path);
            stream.Load(reader);
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
                throw new CheckpointException($"{path}: not a SAT model YAML (no mapping at the top)");
            return new SatYaml(root, path);
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new CheckpointException($"{path}: malformed YAML ({e.Message})");
        }
    }

    private string? Scalar(string dotted)
    {
        YamlNode node = _root;
        foreach (var key in dotted.Split('.'))
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next)) return null;
            node = next;
        }
        return (node as YamlScalarNode)?.Value;
    }

    public int? Int(string dotted) => Scalar(dotted) is { } s
        ? int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new CheckpointException($"{_path}: {dotted} = '{s}' is not an integer")
        : null;

    public double? Double(string dotted) => Scalar(dotted) is { } s
        ? double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new CheckpointException($"{_path}: {dotted} = '{s}' is not a number")
        : null;
}
