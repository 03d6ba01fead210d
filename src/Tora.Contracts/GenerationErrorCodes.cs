namespace Tora.Contracts;

/// <summary>
/// Every code a generation can end with (<c>error.code</c> of a failed or cancelled generation), each defined once:
/// the pipeline's failures, the worker's, and the service's cancellations.
/// </summary>
public static class GenerationErrorCodes
{
    /// <summary>No usable model package: none configured, missing files, a manifest this version does not understand, CUDA required but unusable.</summary>
    public const string ModelUnavailable = "model_unavailable";

    /// <summary>An input the pipeline cannot use (an undecodable first frame, a first frame for a text-to-video package, invalid trajectories).</summary>
    public const string InvalidInput = "invalid_input";

    /// <summary>A video geometry the package was not compiled for.</summary>
    public const string UnsupportedSize = "unsupported_size";

    /// <summary>The first-frame image or the flow video of the request is gone from blob storage.</summary>
    public const string InputMissing = "input_missing";

    /// <summary>ONNX Runtime failed while running a graph.</summary>
    public const string InferenceFailed = "inference_failed";

    /// <summary>ffmpeg could not write the MP4.</summary>
    public const string VideoEncodingFailed = "video_encoding_failed";

    /// <summary>The blob store stayed unavailable past the worker's retry window (also the API's 503 problem code).</summary>
    public const string StorageUnavailable = "storage_unavailable";

    /// <summary>The worker failed unexpectedly on every attempt.</summary>
    public const string InternalError = "internal_error";

    /// <summary>Cancelled by the client (<c>POST …/cancel</c>, or its job deleted).</summary>
    public const string Cancelled = "cancelled";

    /// <summary>The request's <c>cancel_after</c> passed before it finished.</summary>
    public const string DeadlineExceeded = "deadline_exceeded";
}
