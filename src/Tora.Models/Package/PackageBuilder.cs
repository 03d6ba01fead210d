using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
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
/// external-data threshold), the tokenizer files, and <c>manifest.json</c> (PRODUCT.md §3). Weights
/// stream from the memory-mapped checkpoint into the output one tensor at a time.
/// </summary>
public static class PackageBuilder
{
    /// <summary>Component names in the manifest.</summary>
    public const string TextEncoder = "text_encoder", TrajectoryEncoderComponent = "trajectory_encoder", Transformer = "transformer";

    /// <summary>Component names of the VAE chunk graphs in the manifest.</summary>
    public const string VaeEncoderComponent = "vae_encoder", VaeDecoderComponent = "vae_decoder";

    /// <summary>Text tokens of every CogVideoX prompt (tora-reference §4.1).</summary>
    public const int TextLength = 226;

    /// <summary>Builds the package.</summary>
    /// <param name="source">The pipeline folder (model_index.json, transformer/, text_encoder/, vae/, scheduler/, tokenizer/).</param>
    /// <param name="output">The package folder; must not exist or be empty.</param>
    /// <param name="precision">Precision of the graphs.</param>
    /// <param name="log">Progress lines.</param>
    /// <param name="parts">Which parts to compile (default all). A partial package serves measurements such as the
    /// GPU step benchmark (issue 10), where the 9.5 GB text encoder and the VAE would only cost disk and time.</param>
    /// <exception cref="CheckpointException">The source is incomplete or does not fit the architecture.</exception>
    /// <exception cref="IOException">The output folder is not empty.</exception>
    public static ModelManifest Build(string source, string output, Precision precision, Action<string>? log = null, PackageParts parts = PackageParts.All)
    {
        log ??= _ => { };
        if (!Directory.Exists(source)) throw new CheckpointException($"{source}: no such folder");
        if (!parts.HasFlag(PackageParts.Transformer)) throw new ArgumentException("a package always holds the transformer", nameof(parts));
        var requiredFiles = new List<string> { "transformer/config.json", "scheduler/scheduler_config.json" };
        if (parts.HasFlag(PackageParts.TextEncoder)) requiredFiles.Add("text_encoder/config.json");
        if (parts.HasFlag(PackageParts.Vae)) requiredFiles.Add("vae/config.json");
        foreach (var required in requiredFiles)
            if (!File.Exists(Path.Combine(source, required)))
                throw new CheckpointException($"{source} is not a Tora diffusers pipeline folder: {required} is missing");
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            throw new IOException($"{output} is not empty; give a new folder for the package");
        Directory.CreateDirectory(output);

        var computeType = precision switch { Precision.Fp16 => ElementType.Float16, Precision.Bf16 => ElementType.BFloat16, _ => ElementType.Float32 };
        var components = new Dictionary<string, ComponentManifest>();
        var clock = Stopwatch.StartNew();

        if (parts.HasFlag(PackageParts.TextEncoder))
        {
            var encoderConfig = T5EncoderConfig.Load(Path.Combine(source, "text_encoder", "config.json"));
            using var ckpt = Checkpoint.Open(Path.Combine(source, "text_encoder"));
            var g = T5Encoder.Build(ckpt, encoderConfig, TextLength, computeType);
            components[TextEncoder] = Save(g, output, TextEncoder, precision);
            log($"{TextEncoder}: {g.NodeCount} nodes, {g.WeightBytes / 1e6:F1} MB of weights ({clock.Elapsed.TotalSeconds:F0} s)");
        }

        var config = ToraTransformerConfig.Load(Path.Combine(source, "transformer", "config.json"));
        var geometry = VideoGeometry.FromConfig(config);
        using (var ckpt = Checkpoint.Open(Path.Combine(source, "transformer")))
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
        var tokenizerSource = Path.Combine(source, "tokenizer");
        if (Directory.Exists(tokenizerSource))
        {
            tokenizer = "tokenizer";
            var dest = Directory.CreateDirectory(Path.Combine(output, tokenizer)).FullName;
            foreach (var f in Directory.GetFiles(tokenizerSource)) File.Copy(f, Path.Combine(dest, Path.GetFileName(f)));
        }

        int spatialScale = VaeSpatialScale(source);
        var manifest = new ModelManifest
        {
            FormatVersion = ModelManifest.CurrentFormatVersion,
            BuilderVersion = typeof(PackageBuilder).Assembly.GetName().Version?.ToString() ?? "0",
            ModelType = config.InChannels == 16 ? "tora-t2v" : "tora-i2v",
            Source = new SourceCheckpoint(Path.GetFullPath(source), HashSources(source)),
            Precision = precision.ToString().ToLowerInvariant(),
            IrVersion = GraphBuilder.IrVersion,
            Opset = GraphBuilder.Opset,
            Geometry = new PackageGeometry(config.SampleFrames, geometry.LatentHeight * spatialScale, geometry.LatentWidth * spatialScale,
                geometry.LatentFrames, geometry.LatentHeight, geometry.LatentWidth, config.OutChannels, geometry.PatchSize, geometry.VideoTokens),
            TextLength = TextLength,
            Transformer = new TransformerInfo(config.NumLayers, config.NumAttentionHeads, config.AttentionHeadDim, config.InnerDim, config.InChannels,
                config.OutChannels, config.TextEmbedDim, config.SpatialInterpolationScale, config.TemporalInterpolationScale, config.SampleHeight, config.SampleWidth),
            SchedulerConfig = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(source, "scheduler", "scheduler_config.json"))).RootElement.Clone(),
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
    /// half-precision variant (onnx-and-performance.md §1.2).
    /// </summary>
    private static VaeInfo BuildVae(string source, string output, VideoGeometry geometry, ToraTransformerConfig transformer,
        Dictionary<string, ComponentManifest> components, Action<string> log, Stopwatch clock)
    {
        var folder = Path.Combine(source, "vae");
        var config = CogVideoXVaeConfig.Load(Path.Combine(folder, "config.json"));
        if (config.LatentChannels != transformer.OutChannels)
            throw new CheckpointException($"{folder}: the VAE has {config.LatentChannels} latent channels but the transformer predicts {transformer.OutChannels}");
        using var ckpt = Checkpoint.Open(folder);
        int s = config.SpatialCompression;
        var encoder = CogVideoXVae.BuildEncoder(ckpt, config, geometry.LatentHeight * s, geometry.LatentWidth * s);
        var decoder = CogVideoXVae.BuildDecoderChunk(ckpt, config, geometry.LatentHeight, geometry.LatentWidth);
        ckpt.EnsureAllUsed();
        foreach (var (name, g) in new[] { (VaeEncoderComponent, encoder), (VaeDecoderComponent, decoder) })
        {
            components[name] = Save(g, output, name, Precision.Fp32);
            log($"{name}: {g.NodeCount} nodes, {g.WeightBytes / 1e6:F1} MB of weights ({clock.Elapsed.TotalSeconds:F0} s)");
        }
        return new VaeInfo(config.ScalingFactor, (int)config.TemporalCompressionRatio, config.LatentChannels);
    }

    private static ComponentManifest Save(GraphBuilder g, string output, string name, Precision precision)
    {
        var files = g.Save(Path.Combine(output, name + ".onnx"));
        static TensorSpec Spec(GraphPort p) => new(p.Name, p.Type.Name(), p.Shape.Select(d => d.ToString()).ToList());
        return new ComponentManifest(Path.GetFileName(files[0]), files.Skip(1).Select(Path.GetFileName).ToList()!,
            precision.ToString().ToLowerInvariant(), g.Inputs.Select(Spec).ToList(), g.Outputs.Select(Spec).ToList());
    }

    /// <summary>2^(levels − 1) from <c>vae/config.json</c>'s <c>block_out_channels</c>; 8 (CogVideoX) when the VAE is absent.</summary>
    private static int VaeSpatialScale(string source)
    {
        var path = Path.Combine(source, "vae", "config.json");
        if (!File.Exists(path)) return 8;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        return doc.RootElement.TryGetProperty("block_out_channels", out var b) ? 1 << (b.GetArrayLength() - 1) : 8;
    }

    /// <summary>SHA-256 of every file of the components the package is compiled from.</summary>
    private static List<SourceFile> HashSources(string source)
    {
        var files = new List<string>();
        if (File.Exists(Path.Combine(source, "model_index.json"))) files.Add(Path.Combine(source, "model_index.json"));
        foreach (var component in new[] { "text_encoder", "transformer", "vae", "scheduler", "tokenizer" })
        {
            var dir = Path.Combine(source, component);
            if (Directory.Exists(dir)) files.AddRange(Directory.GetFiles(dir).Order(StringComparer.Ordinal));
        }
        return files.Select(f =>
        {
            using var s = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            var hash = Convert.ToHexStringLower(SHA256.HashData(s));
            return new SourceFile(Path.GetRelativePath(source, f).Replace('\\', '/'), new FileInfo(f).Length, hash);
        }).ToList();
    }
}
