using System.Security.Cryptography;
using Tora.Contracts;
using Tora.Inference.Package;
using Tora.Inference.Sampling;

namespace Tora.Inference.Pipeline;

/// <summary>
/// A model package on disk, checked before any session is created (docs/model.md §6.1): the manifest is of a format
/// version this build reads, names a model type it runs, and lists every graph the pipeline needs, whose files
/// exist; the scheduler configuration parses; the tokenizer is present.
/// </summary>
public sealed class ModelPackage
{
    /// <summary>Component names in the manifest (the model compiler's names).</summary>
    public const string TextEncoder = "text_encoder", TrajectoryEncoder = "trajectory_encoder", Transformer = "transformer",
        VaeEncoder = "vae_encoder", VaeDecoder = "vae_decoder";

    /// <summary>Model types this pipeline runs.</summary>
    public const string TextToVideo = "tora-t2v", ImageToVideo = "tora-i2v";

    private static readonly string[] Required = [TextEncoder, TrajectoryEncoder, Transformer, VaeEncoder, VaeDecoder];

    private ModelPackage(string folder, ModelManifest manifest, VaeInfo vae, CogVideoXSchedulerConfig scheduler, string tokenizer, string hash)
    {
        Folder = folder;
        Manifest = manifest;
        Vae = vae;
        SchedulerConfig = scheduler;
        TokenizerFolder = tokenizer;
        ManifestHash = hash;
    }

    /// <summary>The package folder (absolute).</summary>
    public string Folder { get; }

    /// <summary>The manifest.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>The VAE facts.</summary>
    public VaeInfo Vae { get; }

    /// <summary>The scheduler configuration of the checkpoint.</summary>
    public CogVideoXSchedulerConfig SchedulerConfig { get; }

    /// <summary>The tokenizer folder (absolute).</summary>
    public string TokenizerFolder { get; }

    /// <summary>Lower-case hex SHA-256 of <c>manifest.json</c> (identifies the package in reproducibility records).</summary>
    public string ManifestHash { get; }

    /// <summary>True for an image-to-video package (32-channel transformer).</summary>
    public bool IsImageToVideo => Manifest.ModelType == ImageToVideo;

    /// <summary>The geometry the graphs are compiled for.</summary>
    public PackageGeometry Geometry => Manifest.Geometry;

    /// <summary>Absolute path of a component's graph.</summary>
    public string GraphPath(string component) => Path.Combine(Folder, Manifest.Components[component].File);

    /// <summary>Opens and checks the package in <paramref name="folder"/>.</summary>
    /// <exception cref="GenerationException">It is missing, malformed, incomplete or of an unknown format (code <c>model_unavailable</c>).</exception>
    public static ModelPackage Open(string folder)
    {
        static GenerationException Bad(string message) => new(GenerationErrorCodes.ModelUnavailable, message);
        if (!Directory.Exists(folder)) throw Bad($"model package folder '{folder}' does not exist");
        folder = Path.GetFullPath(folder);
        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.Read(folder);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw Bad(e.Message);
        }
        if (manifest.ModelType is not (TextToVideo or ImageToVideo))
            throw Bad($"{folder}: model type '{manifest.ModelType}' is not one this pipeline runs ({TextToVideo}, {ImageToVideo})");
        foreach (var name in Required)
        {
            if (manifest.Components is null || !manifest.Components.TryGetValue(name, out var c))
                throw Bad(name.StartsWith("vae", StringComparison.Ordinal)
                    ? $"{folder}: the package has no {name} graph (it was built from a folder without vae/); rebuild it with 'tora model build' from a pipeline folder with vae/"
                    : $"{folder}: the manifest lists no {name} graph");
            foreach (var file in c.DataFiles.Prepend(c.File))
                if (!File.Exists(Path.Combine(folder, file))) throw Bad($"{folder}: {file} ({name}) is missing");
        }
        if (manifest.Vae is null) throw Bad($"{folder}: the manifest has no vae section; rebuild the package with this version's 'tora model build'");
        if (manifest.TokenizerFolder is null || !File.Exists(Path.Combine(folder, manifest.TokenizerFolder, "spiece.model")))
            throw Bad($"{folder}: the package has no tokenizer (tokenizer/spiece.model); build it from a pipeline folder with tokenizer/");
        int expectedChannels = manifest.ModelType == ImageToVideo ? 2 * manifest.Geometry.LatentChannels : manifest.Geometry.LatentChannels;
        if (manifest.Transformer.InChannels != expectedChannels)
            throw Bad($"{folder}: a {manifest.ModelType} transformer takes {expectedChannels} channels, this one {manifest.Transformer.InChannels}");
        CogVideoXSchedulerConfig scheduler;
        try
        {
            scheduler = CogVideoXSchedulerConfig.Parse(manifest.SchedulerConfig.GetRawText(), $"{folder}: scheduler config");
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidDataException or NotSupportedException or System.Text.Json.JsonException)
        {
            throw Bad(e.Message);
        }
        var hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, ModelManifest.FileName))));
        return new ModelPackage(folder, manifest, manifest.Vae, scheduler, Path.Combine(folder, manifest.TokenizerFolder), hash);
    }
}
