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

/// <summary>
/// Compiles a diffusers-layout Tora pipeline folder into a model package: <c>text_encoder.onnx</c>,
/// <c>trajectory_encoder.onnx</c>, <c>transformer.onnx</c> (each with <c>.onnx.data</c> when over the
/// external-data threshold), the tokenizer files, and <c>manifest.json</c> (PRODUCT.md §3). Weights
/// stream from the memory-mapped checkpoint into the output one tensor at a time.
/// </summary>
public static class PackageBuilder
{
    /// <summary>Component names in the manifest.</summary>
    public const string TextEncoder = "text_encoder", TrajectoryEncoderComponent = "trajectory_encoder", Transformer = "transformer",
        VaeEncoder = "vae_encoder", VaeDecoder = "vae_decoder";

    /// <summary>Text tokens of every CogVideoX prompt (tora-reference §4.1).</summary>
    public const int TextLength = 226;

    /// <summary>Builds the package.</summary>
    /// <param name="source">The pipeline folder (model_index.json, transformer/, text_encoder/, vae/, scheduler/, tokenizer/).</param>
    /// <param name="output">The package folder; must not exist or be empty.</param>
    /// <param name="precision">Precision of the graphs.</param>
    /// <param name="log">Progress lines.</param>
    /// <param name="transformerSource">A transformer folder (config.json + weights) to use instead of
    /// <c>source/transformer</c>: an image-to-video transformer released alone borrows the text encoder, VAE,
    /// tokenizer and scheduler of the text-to-video pipeline folder (fixtures README: tiny-tora-i2v).</param>
    /// <exception cref="CheckpointException">The source is incomplete or does not fit the architecture.</exception>
    /// <exception cref="IOException">The output folder is not empty.</exception>
    public static ModelManifest Build(string source, string output, Precision precision, Action<string>? log = null, string? transformerSource = null)
    {
        log ??= _ => { };
        if (!Directory.Exists(source)) throw new CheckpointException($"{source}: no such folder");
        var transformerFolder = transformerSource ?? Path.Combine(source, "transformer");
        if (transformerSource is not null && !File.Exists(Path.Combine(transformerSource, "config.json")))
            throw new CheckpointException($"{transformerSource} is not a transformer folder: config.json is missing");
        foreach (var required in (transformerSource is null ? new[] { "transformer/config.json" } : [])
                     .Concat(["text_encoder/config.json", "scheduler/scheduler_config.json"]))
            if (!File.Exists(Path.Combine(source, required)))
                throw new CheckpointException($"{source} is not a Tora diffusers pipeline folder: {required} is missing");
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            throw new IOException($"{output} is not empty; give a new folder for the package");
        Directory.CreateDirectory(output);

        var computeType = precision switch { Precision.Fp16 => ElementType.Float16, Precision.Bf16 => ElementType.BFloat16, _ => ElementType.Float32 };
        var components = new Dictionary<string, ComponentManifest>();
        var clock = Stopwatch.StartNew();

        var encoderConfig = T5EncoderConfig.Load(Path.Combine(source, "text_encoder", "config.json"));
        using (var ckpt = Checkpoint.Open(Path.Combine(source, "text_encoder")))
        {
            var g = T5Encoder.Build(ckpt, encoderConfig, TextLength, computeType);
            components[TextEncoder] = Save(g, output, TextEncoder, precision);
            log($"{TextEncoder}: {g.NodeCount} nodes, {g.WeightBytes / 1e6:F1} MB of weights ({clock.Elapsed.TotalSeconds:F0} s)");
        }

        var config = ToraTransformerConfig.Load(Path.Combine(transformerFolder, "config.json"));
        var geometry = VideoGeometry.FromConfig(config);
        using (var ckpt = Checkpoint.Open(transformerFolder))
        {
            var te = TrajectoryEncoder.Build(ckpt, config, geometry, computeType);
            var tr = ToraTransformer.Build(ckpt, config, geometry, computeType);
            ckpt.EnsureAllUsed();
            components[TrajectoryEncoderComponent] = Save(te, output, TrajectoryEncoderComponent, precision);
            log($"{TrajectoryEncoderComponent}: {te.NodeCount} nodes, {te.WeightBytes / 1e6:F1} MB of weights ({clock.Elapsed.TotalSeconds:F0} s)");
            components[Transformer] = Save(tr, output, Transformer, precision);
            log($"{Transformer}: {tr.NodeCount} nodes, {tr.WeightBytes / 1e6:F1} MB of weights ({clock.Elapsed.TotalSeconds:F0} s)");
        }

        // The VAE as two chunk graphs (tora-reference §4.3): the encoder for the flow video and the first
        // frame, the decoder for the final latents; both carry the causal-conv caches as explicit inputs/outputs.
        // A folder without vae/ (tora model random) gives a package that can be inspected but not generate with.
        VaeInfo? vae = null;
        int spatialScale = 8;
        if (File.Exists(Path.Combine(source, "vae", "config.json")))
        {
            var vaeConfig = CogVideoXVaeConfig.Load(Path.Combine(source, "vae", "config.json"));
            spatialScale = vaeConfig.SpatialCompression;
            using var ckpt = Checkpoint.Open(Path.Combine(source, "vae"));
            var enc = CogVideoXVae.BuildEncoder(ckpt, vaeConfig, geometry.LatentHeight * spatialScale, geometry.LatentWidth * spatialScale, computeType);
            var dec = CogVideoXVae.BuildDecoderChunk(ckpt, vaeConfig, geometry.LatentHeight, geometry.LatentWidth, computeType);
            ckpt.EnsureAllUsed();
            components[VaeEncoder] = Save(enc, output, VaeEncoder, precision);
            log($"{VaeEncoder}: {enc.NodeCount} nodes, {enc.WeightBytes / 1e6:F1} MB of weights ({clock.Elapsed.TotalSeconds:F0} s)");
            components[VaeDecoder] = Save(dec, output, VaeDecoder, precision);
            log($"{VaeDecoder}: {dec.NodeCount} nodes, {dec.WeightBytes / 1e6:F1} MB of weights ({clock.Elapsed.TotalSeconds:F0} s)");
            vae = new VaeInfo(vaeConfig.ScalingFactor, (int)Math.Round(vaeConfig.TemporalCompressionRatio), spatialScale, vaeConfig.LatentChannels);
        }
        else
        {
            log("no vae/ folder: the package has no VAE graphs (it cannot generate videos)");
        }

        string? tokenizer = null;
        var tokenizerSource = Path.Combine(source, "tokenizer");
        if (Directory.Exists(tokenizerSource))
        {
            tokenizer = "tokenizer";
            var dest = Directory.CreateDirectory(Path.Combine(output, tokenizer)).FullName;
            foreach (var f in Directory.GetFiles(tokenizerSource)) File.Copy(f, Path.Combine(dest, Path.GetFileName(f)));
        }

        var manifest = new ModelManifest
        {
            FormatVersion = ModelManifest.CurrentFormatVersion,
            BuilderVersion = typeof(PackageBuilder).Assembly.GetName().Version?.ToString() ?? "0",
            ModelType = config.InChannels == 16 ? "tora-t2v" : "tora-i2v",
            Source = new SourceCheckpoint(Path.GetFullPath(source), HashSources(source, transformerSource)),
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

    private static ComponentManifest Save(GraphBuilder g, string output, string name, Precision precision)
    {
        var files = g.Save(Path.Combine(output, name + ".onnx"));
        static TensorSpec Spec(GraphPort p) => new(p.Name, p.Type.Name(), p.Shape.Select(d => d.ToString()).ToList());
        return new ComponentManifest(Path.GetFileName(files[0]), files.Skip(1).Select(Path.GetFileName).ToList()!,
            precision.ToString().ToLowerInvariant(), g.Inputs.Select(Spec).ToList(), g.Outputs.Select(Spec).ToList());
    }

    /// <summary>SHA-256 of every file of the components the package is compiled from.</summary>
    private static List<SourceFile> HashSources(string source, string? transformerSource)
    {
        var files = new List<string>();
        if (File.Exists(Path.Combine(source, "model_index.json"))) files.Add(Path.Combine(source, "model_index.json"));
        foreach (var component in new[] { "text_encoder", "transformer", "vae", "scheduler", "tokenizer" })
        {
            var dir = component == "transformer" && transformerSource is not null ? transformerSource : Path.Combine(source, component);
            if (Directory.Exists(dir)) files.AddRange(Directory.GetFiles(dir).Order(StringComparer.Ordinal));
        }
        // Files of a borrowed transformer folder are named relative to the pipeline folder (with ../ when outside it).
        return files.Select(f =>
        {
            using var s = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            var hash = Convert.ToHexStringLower(SHA256.HashData(s));
            return new SourceFile(Path.GetRelativePath(source, f).Replace('\\', '/'), new FileInfo(f).Length, hash);
        }).ToList();
    }
}
