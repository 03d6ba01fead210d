namespace Tora.Inference;

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
