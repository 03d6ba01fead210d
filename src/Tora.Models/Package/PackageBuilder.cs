using System.Diagnostics;
using Tora.Inference.Package;
using Tora.Models.Architectures;
using Tora.Models.Checkpoints;
using Tora.Models.Graph;

namespace Tora.Models.Package;

/// <summary>Package precision.</summary>
public enum Precision
{
    /// <summary>float32 everywhere (CPU, tests).</summary>
    Fp32,
    /// <summary>float16 weights and activations with float32 islands (T5 residual stream and norms, LayerNorm statistics, fuser GroupNorm).</summary>
    Fp16,
    /// <summary>bfloat16 weights and activations with the same float32 islands.</summary>
    Bf16,
}

/// <summary>Which parts of a pipeline a package holds.</summary>
[Flags]
public enum PackageParts
{
    /// <summary>The transformer and its trajectory encoder (always present).</summary>
    Transformer = 1,
    /// <summary>The T5 text encoder.</summary>
    TextEncoder = 2,
    /// <summary>The VAE encoder and decoder chunk graphs.</summary>
    Vae = 4,
    /// <summary>Everything: a package the service can run.</summary>
    All = Transformer | TextEncoder | Vae,
}

/// <summary>
/// Compiles a diffusers-layout Tora pipeline folder into a model package: <c>text_encoder.onnx</c>,
/// <c>trajectory_encoder.onnx</c>, <c>transformer.onnx</c>, <c>vae_encoder.onnx</c>, <c>vae_decoder.onnx</c> (each with <c>.onnx.data</c> when over the
/// external-data threshold), the tokenizer files, and <c>manifest.json</c> (docs/model.md §6.1). Weights
/// stream from the memory-mapped checkpoint into the output one tensor at a time.
/// </summary>
public static class PackageBuilder
{
    /// <summary>Component names in the manifest.</summary>
    public const string TextEncoder = "text_encoder", TrajectoryEncoderComponent = "trajectory_encoder", Transformer = "transformer";

    /// <summary>Component names of the VAE chunk graphs in the manifest.</summary>
    public const string VaeEncoderComponent = "vae_encoder", VaeDecoderComponent = "vae_decoder";

    /// <summary>Text tokens of every CogVideoX prompt (docs/model.md §4.1).</summary>
    public const int TextLength = 226;

    /// <summary>Builds the package from a diffusers pipeline folder.</summary>
    /// <param name="source">The pipeline folder (model_index.json, transformer/, text_encoder/, vae/, scheduler/, tokenizer/).</param>
    /// <param name="output">The package folder; must not exist or be empty.</param>
    /// <param name="precision">Precision of the graphs.</param>
    /// <param name="log">Progress lines.</param>
    /// <param name="transformerSource">A transformer folder (config.json + weights) to use instead of
    /// <c>source/transformer</c>: an image-to-video transformer released alone borrows the text encoder, VAE,
    /// tokenizer and scheduler of the text-to-video pipeline folder (tests/data/fixtures/README.md: tiny-tora-i2v).</param>
    /// <param name="parts">Which parts to compile (default all); the folder only needs the components of these parts.</param>
    /// <exception cref="CheckpointException">The source is incomplete or does not fit the architecture.</exception>
    /// <exception cref="IOException">The output folder is not empty.</exception>
    public static ModelManifest Build(string source, string output, Precision precision, Action<string>? log = null, string? transformerSource = null,
        PackageParts parts = PackageParts.All) =>
        Build(DiffusersPipelineSource.Open(source, transformerSource, parts), output, precision, log, parts);

    /// <summary>Builds the package from a source of any layout (diffusers folder, SAT <c>ckpts/</c>).</summary>
    /// <param name="source">The opened source.</param>
    /// <param name="output">The package folder; must not exist or be empty.</param>
    /// <param name="precision">Precision of the graphs.</param>
    /// <param name="log">Progress lines.</param>
    /// <param name="parts">Which parts to compile (default all). A partial package serves measurements such as the
    /// GPU step benchmark (bench/README.md), where the 9.5 GB text encoder and the VAE would only cost disk and time.</param>
    /// <exception cref="CheckpointException">The source is incomplete or does not fit the architecture.</exception>
    /// <exception cref="IOException">The output folder is not empty.</exception>
    /// <exception cref="ArgumentException"><paramref name="parts"/> leaves out the transformer.</exception>
    public static ModelManifest Build(PipelineSource source, string output, Precision precision, Action<string>? log = null, PackageParts parts = PackageParts.All)
    {
        log ??= _ => { };
        if (!parts.HasFlag(PackageParts.Transformer)) throw new ArgumentException("a package always holds the transformer", nameof(parts));
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            throw new IOException($"{output} is not empty; give a new folder for the package");
        Directory.CreateDirectory(output);

        var computeType = precision switch { Precision.Fp16 => ElementType.Float16, Precision.Bf16 => ElementType.BFloat16, _ => ElementType.Float32 };
        var components = new Dictionary<string, ComponentManifest>();
        var clock = Stopwatch.StartNew();

        if (parts.HasFlag(PackageParts.TextEncoder))
        {
            var encoderConfig = source.TextEncoder ?? throw new CheckpointException($"{source.Path}: the source has no text encoder");
            using var ckpt = source.OpenTextEncoder();
            var g = T5Encoder.Build(ckpt, encoderConfig, TextLength, computeType);
            components[TextEncoder] = Save(g, output, TextEncoder, precision);
            log($"{TextEncoder}: {g.NodeCount} nodes, {g.WeightBytes / 1e6:F1} MB of weights ({clock.Elapsed.TotalSeconds:F0} s)");
        }

        var config = source.Transformer;
        var geometry = LatentGeometry.FromConfig(config);
        using (var ckpt = source.OpenTransformer())
        {
            var te = TrajectoryEncoder.Build(ckpt, config, geometry, computeType);
            var tr = ToraTransformer.Build(ckpt, config, geometry, computeType);
            ckpt.EnsureAllUsed();
            components[TrajectoryEncoderComponent] = Save(te, output, TrajectoryEncoderComponent, precision);
            log($"{TrajectoryEncoderComponent}: {te.NodeCount} nodes, {te.WeightBytes / 1e6:F1} MB of weights ({clock.Elapsed.TotalSeconds:F0} s)");
            components[Transformer] = Save(tr, output, Transformer, precision);
            log($"{Transformer}: {tr.NodeCount} nodes, {tr.WeightBytes / 1e6:F1} MB of weights ({clock.Elapsed.TotalSeconds:F0} s)");
        }

        var vae = parts.HasFlag(PackageParts.Vae) ? BuildVae(source, output, geometry, config, components, log, clock) : null;

        string? tokenizer = null;
        if (source.TokenizerFolder is { } tokenizerSource)
        {
            tokenizer = "tokenizer";
            var dest = Directory.CreateDirectory(Path.Combine(output, tokenizer)).FullName;
            foreach (var f in source.TokenizerFiles ?? Directory.GetFiles(tokenizerSource)) File.Copy(f, Path.Combine(dest, Path.GetFileName(f)));
        }

        // 8 (CogVideoX) when a transformer-only source has no VAE config.
        int spatialScale = source.Vae?.SpatialCompression ?? 8;
        var manifest = new ModelManifest
        {
            FormatVersion = ModelManifest.CurrentFormatVersion,
            BuilderVersion = typeof(PackageBuilder).Assembly.GetName().Version?.ToString() ?? "0",
            ModelType = config.InChannels == 16 ? "tora-t2v" : "tora-i2v",
            Source = new SourceCheckpoint(Path.GetFullPath(source.Path), source.HashSources(), source.Layout, source.Variant, source.Semantics),
            Precision = precision.ToString().ToLowerInvariant(),
            IrVersion = GraphBuilder.IrVersion,
            Opset = GraphBuilder.Opset,
            Geometry = new PackageGeometry(config.SampleFrames, geometry.LatentHeight * spatialScale, geometry.LatentWidth * spatialScale,
                geometry.LatentFrames, geometry.LatentHeight, geometry.LatentWidth, config.OutChannels, geometry.PatchSize, geometry.VideoTokens),
            TextLength = TextLength,
            Transformer = new TransformerInfo(config.NumLayers, config.NumAttentionHeads, config.AttentionHeadDim, config.InnerDim, config.InChannels,
                config.OutChannels, config.TextEmbedDim, config.SpatialInterpolationScale, config.TemporalInterpolationScale, config.SampleHeight, config.SampleWidth),
            SchedulerConfig = source.SchedulerConfig,
            TokenizerFolder = tokenizer,
            Vae = vae,
            Components = components,
        };
        manifest.Write(output);
        log($"manifest written ({clock.Elapsed.TotalSeconds:F0} s)");
        return manifest;
    }

    /// <summary>
    /// The VAE encoder and decoder chunk graphs (CogVideoXVae) for the package geometry, always float32: the
    /// VAE's GroupNorms over multi-GB activations are left in full precision until the GPU work measures a
    /// half-precision variant (docs/model.md §6.2).
    /// </summary>
    private static VaeInfo BuildVae(PipelineSource source, string output, LatentGeometry geometry, ToraTransformerConfig transformer,
        Dictionary<string, ComponentManifest> components, Action<string> log, Stopwatch clock)
    {
        var config = source.Vae ?? throw new CheckpointException($"{source.Path}: the source has no VAE");
        if (config.LatentChannels != transformer.OutChannels)
            throw new CheckpointException($"{source.Path}: the VAE has {config.LatentChannels} latent channels but the transformer predicts {transformer.OutChannels}");
        using var ckpt = source.OpenVae();
        int s = config.SpatialCompression;
        var encoder = CogVideoXVae.BuildEncoder(ckpt, config);
        var decoder = CogVideoXVae.BuildDecoderChunk(ckpt, config);
        ckpt.EnsureAllUsed();
        foreach (var (name, g) in new[] { (VaeEncoderComponent, encoder), (VaeDecoderComponent, decoder) })
        {
            components[name] = Save(g, output, name, Precision.Fp32);
            log($"{name}: {g.NodeCount} nodes, {g.WeightBytes / 1e6:F1} MB of weights ({clock.Elapsed.TotalSeconds:F0} s)");
        }
        return new VaeInfo(config.ScalingFactor, (int)config.TemporalCompressionRatio, s, config.LatentChannels);
    }

    private static ComponentManifest Save(GraphBuilder g, string output, string name, Precision precision)
    {
        var files = g.Save(Path.Combine(output, name + ".onnx"));
        static TensorSpec Spec(GraphPort p) => new(p.Name, p.Type.Name(), p.Shape.Select(d => d.ToString()).ToList());
        return new ComponentManifest(Path.GetFileName(files[0]), files.Skip(1).Select(Path.GetFileName).ToList()!,
            precision.ToString().ToLowerInvariant(), g.Inputs.Select(Spec).ToList(), g.Outputs.Select(Spec).ToList());
    }
}
