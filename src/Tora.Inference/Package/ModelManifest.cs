using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tora.Inference.Package;

/// <summary>
/// <c>manifest.json</c> of a model package written by <c>tora model build</c> (docs/model.md §6.1): what was
/// compiled from which checkpoint, and the exact interface of every graph, so the runtime can check a
/// package before loading multi-GB sessions.
/// </summary>
public sealed record ModelManifest
{
    /// <summary>The format version this code writes and understands.</summary>
    public const int CurrentFormatVersion = 2;

    /// <summary>File name inside the package folder.</summary>
    public const string FileName = "manifest.json";

    /// <summary>Format version of the package (see <see cref="CurrentFormatVersion"/>).</summary>
    public required int FormatVersion { get; init; }

    /// <summary>Version of the compiler that wrote the package.</summary>
    public required string BuilderVersion { get; init; }

    /// <summary>Model family: <c>tora-t2v</c> or <c>tora-i2v</c>.</summary>
    public required string ModelType { get; init; }

    /// <summary>The checkpoint the package was compiled from.</summary>
    public required SourceCheckpoint Source { get; init; }

    /// <summary>Weight/activation precision of the graphs: <c>fp32</c>, <c>fp16</c> or <c>bf16</c>.</summary>
    public required string Precision { get; init; }

    /// <summary>ONNX IR version of every graph.</summary>
    public required long IrVersion { get; init; }

    /// <summary>Default-domain opset of every graph (plus <c>com.microsoft</c> 1).</summary>
    public required long Opset { get; init; }

    /// <summary>The fixed video geometry the graphs are compiled for.</summary>
    public required PackageGeometry Geometry { get; init; }

    /// <summary>Tokens per prompt (T5 input length, padded/truncated; 226).</summary>
    public required int TextLength { get; init; }

    /// <summary>Transformer dimensions the host needs (RoPE table, timestep, fuser inputs).</summary>
    public required TransformerInfo Transformer { get; init; }

    /// <summary>The checkpoint's <c>scheduler_config.json</c>, verbatim.</summary>
    public required JsonElement SchedulerConfig { get; init; }

    /// <summary>Folder (relative to the package) with the tokenizer files, or null when the source had none.</summary>
    public string? TokenizerFolder { get; init; }

    /// <summary>VAE constants the host needs (scaling, chunking); null in packages without the VAE graphs.</summary>
    public VaeInfo? Vae { get; init; }

    /// <summary>The graphs by component name: <c>text_encoder</c>, <c>trajectory_encoder</c>, <c>transformer</c>, <c>vae_encoder</c>, <c>vae_decoder</c>.</summary>
    public required IReadOnlyDictionary<string, ComponentManifest> Components { get; init; }

    /// <summary>JSON options used to read and write manifests (snake_case, indented).</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Writes <c>manifest.json</c> into <paramref name="packageFolder"/>.</summary>
    public void Write(string packageFolder) =>
        File.WriteAllText(Path.Combine(packageFolder, FileName), JsonSerializer.Serialize(this, JsonOptions));

    /// <summary>Reads and checks the manifest of a package.</summary>
    /// <exception cref="InvalidDataException">Missing, malformed or of a format version this code does not understand.</exception>
    public static ModelManifest Read(string packageFolder)
    {
        var path = Path.Combine(packageFolder, FileName);
        if (!File.Exists(path)) throw new InvalidDataException($"{packageFolder} is not a model package: {FileName} is missing");
        ModelManifest? m;
        try
        {
            m = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllBytes(path), JsonOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: malformed manifest ({e.Message})", e);
        }
        if (m is null) throw new InvalidDataException($"{path}: empty manifest");
        if (m.FormatVersion != CurrentFormatVersion)
            throw new InvalidDataException($"{path}: package format version {m.FormatVersion} is not supported (this build reads version {CurrentFormatVersion}); rebuild the package with this version's 'tora model build'");
        return m;
    }
}

/// <summary>The source checkpoint of a package.</summary>
/// <param name="Path">The folder given to <c>--from</c>, as given.</param>
/// <param name="Files">Every file read, with its hash.</param>
/// <param name="Layout"><c>diffusers</c> (a pipeline folder) or <c>sat</c> (the original SAT <c>ckpts/</c> folder).</param>
/// <param name="Variant"><c>t2v</c> or <c>i2v</c>: which model of the source was compiled.</param>
/// <param name="Semantics">The numerical behaviour of the implementation the weights come from; null in older packages (diffusers).</param>
public sealed record SourceCheckpoint(string Path, IReadOnlyList<SourceFile> Files, string Layout = "diffusers", string? Variant = null, SourceSemantics? Semantics = null);

/// <summary>
/// Where the SAT and diffusers implementations of Tora differ numerically, not by naming (docs/model.md §4.2,
/// §4.4, §5.7, §9), and which one a package follows.
/// </summary>
/// <param name="Implementation"><c>sat</c> or <c>diffusers</c>.</param>
/// <param name="OutputNormEps">eps of the transformer's output LayerNorm, compiled into the graph (SAT 1e-6, diffusers 1e-5).</param>
/// <param name="ImageConditioning">
/// I2V only: how the image enters the transformer. <c>sat</c>: RGB resized to the video size with bicubic
/// resampling, VAE posterior sample × scaling factor as latent frame 0, 12 zero frames after it, concatenated with
/// the noisy latents on channels (32), no noise on the image, the base model's learned position embedding not added.
/// </param>
/// <param name="UnconditionalText">What the unconditional CFG branch gets: <c>zeros</c> (SAT) or <c>empty-prompt</c> (diffusers: T5 of "").</param>
public sealed record SourceSemantics(string Implementation, double OutputNormEps, string? ImageConditioning, string UnconditionalText);

/// <summary>One source file.</summary>
/// <param name="Path">Path relative to the source folder, '/'-separated.</param>
/// <param name="Bytes">Size.</param>
/// <param name="Sha256">Lower-case hex SHA-256.</param>
public sealed record SourceFile(string Path, long Bytes, string Sha256);

/// <summary>Video and latent geometry (docs/model.md §4.2, §4.3).</summary>
/// <param name="Frames">Video frames (49).</param>
/// <param name="Height">Video height in pixels (480).</param>
/// <param name="Width">Video width in pixels (720).</param>
/// <param name="LatentFrames">Latent frames ((Frames − 1) / 4 + 1 = 13).</param>
/// <param name="LatentHeight">Latent height (60).</param>
/// <param name="LatentWidth">Latent width (90).</param>
/// <param name="LatentChannels">Latent channels of the noise (16).</param>
/// <param name="PatchSize">Transformer patch size (2).</param>
/// <param name="VideoTokens">Video tokens LatentFrames·(LatentHeight/2)·(LatentWidth/2) (17 550).</param>
public sealed record PackageGeometry(int Frames, int Height, int Width, int LatentFrames, int LatentHeight, int LatentWidth,
    int LatentChannels, int PatchSize, int VideoTokens);

/// <summary>Transformer facts the host needs.</summary>
/// <param name="NumLayers">Blocks (one mgf_gamma_i/mgf_beta_i pair each).</param>
/// <param name="NumAttentionHeads">Heads.</param>
/// <param name="AttentionHeadDim">Head dim (RoPE table width).</param>
/// <param name="InnerDim">Hidden size D.</param>
/// <param name="InChannels">Latent input channels (16 T2V, 32 I2V).</param>
/// <param name="OutChannels">Predicted channels.</param>
/// <param name="TextEmbedDim">Text embedding width.</param>
/// <param name="SpatialInterpolationScale">RoPE grid scale (config).</param>
/// <param name="TemporalInterpolationScale">RoPE temporal scale (config).</param>
/// <param name="SampleHeight">Latent height of the training geometry (RoPE base grid).</param>
/// <param name="SampleWidth">Latent width of the training geometry (RoPE base grid).</param>
public sealed record TransformerInfo(int NumLayers, int NumAttentionHeads, int AttentionHeadDim, int InnerDim, int InChannels,
    int OutChannels, int TextEmbedDim, double SpatialInterpolationScale, double TemporalInterpolationScale, int SampleHeight, int SampleWidth);

/// <summary>VAE facts the host needs to run the <c>vae_encoder</c> / <c>vae_decoder</c> chunk loops (docs/model.md §4.3).</summary>
/// <param name="ScalingFactor">Latent scaling factor (0.7): the encoder's sample is multiplied by it, the decoder's input divided.</param>
/// <param name="TemporalCompression">Video frames per latent frame after the first (4).</param>
/// <param name="SpatialCompression">Pixels per latent pixel along each axis (8).</param>
/// <param name="LatentChannels">Latent channels (16).</param>
public sealed record VaeInfo(double ScalingFactor, int TemporalCompression, int SpatialCompression, int LatentChannels);

/// <summary>One ONNX graph of the package.</summary>
/// <param name="File">The model file, relative to the package.</param>
/// <param name="DataFiles">External data files next to it (empty when the weights are embedded).</param>
/// <param name="Precision">Weight precision of this graph (fp32 islands aside).</param>
/// <param name="Inputs">Graph inputs in order.</param>
/// <param name="Outputs">Graph outputs in order.</param>
public sealed record ComponentManifest(string File, IReadOnlyList<string> DataFiles, string Precision,
    IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs);

/// <summary>A graph input or output.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="ElementType">float32, float16, bfloat16, int64.</param>
/// <param name="Shape">Dimensions: a number, or a symbol such as "batch" (the CFG batch), "flow_batch", "flow_tokens".</param>
public sealed record TensorSpec(string Name, string ElementType, IReadOnlyList<string> Shape);
