using System.Security.Cryptography;
using System.Text.Json;
using Tora.Inference.Package;
using Tora.Models.Package;

namespace Tora.Models.Checkpoints;

/// <summary>
/// What <see cref="Package.PackageBuilder"/> compiles from: the component configs and checkpoints of one Tora
/// model, whatever the folder layout they were published in (diffusers pipeline folder, SAT <c>ckpts/</c>).
/// </summary>
public abstract class PipelineSource
{
    /// <summary>The folder given to <c>--from</c>.</summary>
    public required string Path { get; init; }

    /// <summary><c>diffusers</c> or <c>sat</c>.</summary>
    public abstract string Layout { get; }

    /// <summary><c>t2v</c> or <c>i2v</c>.</summary>
    public string Variant => Transformer.InChannels == 16 ? "t2v" : "i2v";

    /// <summary>Transformer configuration.</summary>
    public required ToraTransformerConfig Transformer { get; init; }

    /// <summary>T5 configuration; null when the source was opened without it (a transformer-only package).</summary>
    public required T5EncoderConfig? TextEncoder { get; init; }

    /// <summary>VAE configuration; null when the source was opened without it (a transformer-only package).</summary>
    public required CogVideoXVaeConfig? Vae { get; init; }

    /// <summary>The scheduler configuration (diffusers <c>scheduler_config.json</c> form).</summary>
    public required JsonElement SchedulerConfig { get; init; }

    /// <summary>Folder with the tokenizer files to copy, or null.</summary>
    public string? TokenizerFolder { get; init; }

    /// <summary>Files to copy from <see cref="TokenizerFolder"/> (null: all).</summary>
    public IReadOnlyList<string>? TokenizerFiles { get; init; }

    /// <summary>The numerical semantics of the source implementation.</summary>
    public abstract SourceSemantics Semantics { get; }

    /// <summary>Opens the T5 encoder weights.</summary>
    public abstract Checkpoint OpenTextEncoder();

    /// <summary>Opens the transformer weights (DiT, Trajectory Extractor, fusers).</summary>
    public abstract Checkpoint OpenTransformer();

    /// <summary>Opens the VAE weights.</summary>
    public abstract Checkpoint OpenVae();

    /// <summary>Every file the package is compiled from, relative to <see cref="Path"/>.</summary>
    public abstract IReadOnlyList<string> SourceFiles();

    /// <summary>SHA-256 of every source file (the manifest's record of what was read).</summary>
    public List<SourceFile> HashSources() => SourceFiles().Select(f =>
    {
        using var s = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var hash = Convert.ToHexStringLower(SHA256.HashData(s));
        // Files outside the source folder (a SAT model YAML) are recorded by their full path.
        var relative = System.IO.Path.GetRelativePath(Path, f);
        if (relative.StartsWith("..", StringComparison.Ordinal)) relative = System.IO.Path.GetFullPath(f);
        return new SourceFile(relative.Replace('\\', '/'), s.Length, hash);
    }).ToList();
}

/// <summary>
/// A diffusers pipeline folder: <c>transformer/</c>, <c>text_encoder/</c>, <c>vae/</c>, <c>scheduler/</c>,
/// <c>tokenizer/</c>; the transformer may come from another folder (an image-to-video transformer released alone
/// borrows the text-to-video pipeline's other components).
/// </summary>
public sealed class DiffusersPipelineSource : PipelineSource
{
    /// <summary>The transformer folder: <c>&lt;Path&gt;/transformer</c>, or the borrowed one.</summary>
    public required string TransformerFolder { get; init; }

    /// <inheritdoc />
    public override string Layout => "diffusers";

    /// <inheritdoc />
    public override SourceSemantics Semantics => new("diffusers", Transformer.OutputNormEps ?? Transformer.NormEps,
        Variant == "i2v" ? "diffusers: image resized with Lanczos resampling, otherwise as sat (latent frame 0 + zero frames, channel concatenation)" : null,
        "empty-prompt");

    /// <summary>Whether <paramref name="folder"/> looks like a diffusers pipeline folder.</summary>
    public static bool Detect(string folder) => File.Exists(System.IO.Path.Combine(folder, "transformer", "config.json"));

    /// <summary>Opens a pipeline folder.</summary>
    /// <param name="source">The pipeline folder.</param>
    /// <param name="transformerFolder">A transformer folder (config.json + weights) to use instead of
    /// <c>source/transformer</c> (e.g. the image-to-video transformer with the text-to-video pipeline's VAE, text
    /// encoder, tokenizer and scheduler); null for the pipeline's own.</param>
    /// <param name="parts">The parts to be compiled: text_encoder/ and vae/ are only required (and read) for theirs.</param>
    /// <exception cref="CheckpointException">A required file is missing or a config is unsupported.</exception>
    public static DiffusersPipelineSource Open(string source, string? transformerFolder = null, PackageParts parts = PackageParts.All)
    {
        if (!Directory.Exists(source)) throw new CheckpointException($"{source}: no such folder");
        if (transformerFolder is not null && !File.Exists(System.IO.Path.Combine(transformerFolder, "config.json")))
            throw new CheckpointException($"{transformerFolder} is not a transformer folder: config.json is missing");
        var required = new List<string>();
        if (transformerFolder is null) required.Add("transformer/config.json");
        required.Add("scheduler/scheduler_config.json");
        bool textEncoder = parts.HasFlag(PackageParts.TextEncoder), vae = parts.HasFlag(PackageParts.Vae);
        if (textEncoder) required.Add("text_encoder/config.json");
        if (vae) required.Add("vae/config.json");
        foreach (var file in required)
            if (!File.Exists(System.IO.Path.Combine(source, file)))
                throw new CheckpointException($"{source} is not a Tora diffusers pipeline folder: {file} is missing");
        transformerFolder ??= System.IO.Path.Combine(source, "transformer");
        var tokenizer = System.IO.Path.Combine(source, "tokenizer");
        return new DiffusersPipelineSource
        {
            Path = source,
            TransformerFolder = transformerFolder,
            Transformer = ToraTransformerConfig.Load(System.IO.Path.Combine(transformerFolder, "config.json")),
            TextEncoder = textEncoder ? T5EncoderConfig.Load(System.IO.Path.Combine(source, "text_encoder", "config.json")) : null,
            Vae = vae ? CogVideoXVaeConfig.Load(System.IO.Path.Combine(source, "vae", "config.json")) : null,
            SchedulerConfig = JsonDocument.Parse(File.ReadAllBytes(System.IO.Path.Combine(source, "scheduler", "scheduler_config.json"))).RootElement.Clone(),
            TokenizerFolder = Directory.Exists(tokenizer) ? tokenizer : null,
        };
    }

    /// <inheritdoc />
    public override Checkpoint OpenTextEncoder() => Checkpoint.Open(System.IO.Path.Combine(Path, "text_encoder"));

    /// <inheritdoc />
    public override Checkpoint OpenTransformer() => Checkpoint.Open(TransformerFolder);

    /// <inheritdoc />
    public override Checkpoint OpenVae() => Checkpoint.Open(System.IO.Path.Combine(Path, "vae"));

    /// <inheritdoc />
    public override IReadOnlyList<string> SourceFiles()
    {
        var files = new List<string>();
        if (File.Exists(System.IO.Path.Combine(Path, "model_index.json"))) files.Add(System.IO.Path.Combine(Path, "model_index.json"));
        foreach (var component in new[] { "text_encoder", "transformer", "vae", "scheduler", "tokenizer" })
        {
            // A borrowed transformer folder outside the pipeline folder is recorded by its full path (HashSources).
            var dir = component == "transformer" ? TransformerFolder : System.IO.Path.Combine(Path, component);
            if (Directory.Exists(dir)) files.AddRange(Directory.GetFiles(dir).Order(StringComparer.Ordinal));
        }
        return files;
    }
}
