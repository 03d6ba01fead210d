using Tora.Contracts;
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
