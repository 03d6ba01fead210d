namespace Tora.Inference;

/// <summary>
/// The phase names a running generation reports (<see cref="GenerationProgress.Phase"/>, the resource's
/// <c>progress.phase</c>, the keys of the timings), each defined once. The store itself writes <c>starting</c>
/// when a job claims its row and <c>handed_back</c> when a stopping worker returns it.
/// </summary>
public static class GenerationPhases
{
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
}
