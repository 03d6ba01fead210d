namespace Tora.Contracts;

/// <summary>
/// Every phase a generation reports (<c>progress.phase</c> of the resource and its events, the keys of its timings),
/// each defined once, in the order a generation passes through them. The worker's pipeline reports the phases from
/// <see cref="EncodeText"/> to <see cref="WaitingForStorage"/>; the service's store writes the other four when it
/// claims, hands back or finishes a generation's row (docs/architecture.md).
/// </summary>
public static class GenerationPhases
{
    /// <summary>Service: a worker claimed the row and is loading the job.</summary>
    public const string Starting = "starting";

    /// <summary>T5 of the prompt and the negative prompt (docs/model.md §4.1).</summary>
    public const string EncodeText = "encode_text";

    /// <summary>Image-to-video only: the first frame through the VAE encoder (docs/model.md §4.4).</summary>
    public const string EncodeImage = "encode_image";

    /// <summary>Trajectories → flow video → VAE → trajectory encoder (docs/model.md §2, §3).</summary>
    public const string EncodeMotion = "encode_motion";

    /// <summary>The denoising loop; reported once per step (docs/model.md §5).</summary>
    public const string Denoise = "denoise";

    /// <summary>The chunked VAE decode to 8-bit frames (docs/model.md §5.8).</summary>
    public const string Decode = "decode";

    /// <summary>Frames → MP4.</summary>
    public const string EncodeVideo = "encode_video";

    /// <summary>The worker uploads the video and its thumbnail.</summary>
    public const string Storing = "storing";

    /// <summary>The worker waits for an unavailable blob store (<c>Tora:Worker:StorageRetryWindow</c>).</summary>
    public const string WaitingForStorage = "waiting_for_storage";

    /// <summary>Service: succeeded, the video is stored.</summary>
    public const string Done = "done";

    /// <summary>Service: queued again while its job waits for a Hangfire retry.</summary>
    public const string RetryWait = "retry_wait";

    /// <summary>Service: queued again by a stopping worker; the same job reclaims it.</summary>
    public const string HandedBack = "handed_back";
}
