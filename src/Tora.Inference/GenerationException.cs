namespace Tora.Inference;

/// <summary>
/// A failure of one generation that running it again would not fix: an unusable model package, or a request the
/// package cannot serve (another video size, an undecodable first frame, invalid trajectories). The message is one
/// clear line; <see cref="Code"/> is the stable error code the service shows (<see cref="GenerationErrorCodes"/>).
/// The pipeline, the generators and the worker all throw this one type.
/// </summary>
/// <param name="code">A stable snake_case code from <see cref="GenerationErrorCodes"/>.</param>
/// <param name="message">A clear one-line message.</param>
/// <param name="inner">The exception behind it, if any.</param>
public sealed class GenerationException(string code, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The stable error code (for example <c>model_unavailable</c>).</summary>
    public string Code { get; } = code;
}

/// <summary>The stable codes a generation fails with (<c>error.code</c> of a failed generation), each defined once.</summary>
public static class GenerationErrorCodes
{
    /// <summary>No usable model package: none configured, missing files, a manifest this version does not understand, CUDA required but unusable.</summary>
    public const string ModelUnavailable = "model_unavailable";

    /// <summary>An input the pipeline cannot use (an undecodable first frame, a first frame for a text-to-video package, invalid trajectories).</summary>
    public const string InvalidInput = "invalid_input";

    /// <summary>A video geometry the package was not compiled for.</summary>
    public const string UnsupportedSize = "unsupported_size";

    /// <summary>The first-frame image of the request is gone from blob storage.</summary>
    public const string InputMissing = "input_missing";

    /// <summary>ONNX Runtime failed while running a graph.</summary>
    public const string InferenceFailed = "inference_failed";

    /// <summary>ffmpeg could not write the MP4.</summary>
    public const string VideoEncodingFailed = "video_encoding_failed";

    /// <summary>The worker failed unexpectedly on every attempt.</summary>
    public const string InternalError = "internal_error";
}
