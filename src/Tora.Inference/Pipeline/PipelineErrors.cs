namespace Tora.Inference.Pipeline;

/// <summary>
/// A failure of one generation that running it again would not fix: an unusable model package, or a request the
/// package cannot serve (another video size, an undecodable first frame, invalid trajectories). The message is one
/// clear line; <see cref="Code"/> is the stable error code the service shows (<c>model_unavailable</c>,
/// <c>invalid_input</c>, <c>unsupported_size</c>).
/// </summary>
public sealed class ToraPipelineException(string code, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Error code of an unusable package.</summary>
    public const string ModelUnavailable = "model_unavailable";

    /// <summary>Error code of an input the pipeline cannot use.</summary>
    public const string InvalidInput = "invalid_input";

    /// <summary>Error code of a video geometry the package was not compiled for.</summary>
    public const string UnsupportedSize = "unsupported_size";

    /// <summary>The stable error code.</summary>
    public string Code { get; } = code;
}
