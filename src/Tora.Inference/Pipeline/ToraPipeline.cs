using System.Diagnostics;
using Tora.Inference.Embeddings;
using Tora.Inference.Noise;
using Tora.Inference.Sampling;
using Tora.Inference.Text;
using Tora.Motion.Trajectories;
using Tora.Inference.Vae;
using Tora.Motion.Video;

namespace Tora.Inference.Pipeline;

/// <summary>
/// The Tora pipeline over one model package (docs/model.md §4–5, §7, the diffusers T2V/I2V semantics):
/// prompt → T5, trajectories → flow video → VAE → trajectory encoder, (first frame → VAE), noise → DPM-Solver++(2M)
/// loop of the CFG-batched transformer → chunked VAE decode → 8-bit frames → MP4. Every random draw comes from the
/// request's noise source in the original's order: image posterior, flow posterior, initial latents, scheduler.
/// One job at a time; sessions are reused across jobs (or released per stage in low-memory mode).
/// </summary>
public sealed class ToraPipeline : IDisposable
{
    private readonly ModelPackage _package;
    private readonly OrtSessionFactory _factory;
    private readonly PackageSessions _sessions;
    private readonly PromptEncoder _prompts;
    private readonly Action<string> _log;
    private readonly float[] _ropeCos, _ropeSin;
    private readonly VaeTiling? _vaeTiling;

    /// <summary>Opens <paramref name="package"/> (checked, tokenizer loaded; sessions are created on first use).</summary>
    /// <exception cref="GenerationException">The package is unusable, or CUDA was required and is not usable.</exception>
    public ToraPipeline(ModelPackage package, ExecutionOptions? options = null)
    {
        options ??= new ExecutionOptions();
        _package = package;
        _log = options.Log ?? (_ => { });
        _factory = new OrtSessionFactory(options);
        // The CPU provider has no bfloat16 MatMul: a bf16 package would fail at its first session, mid-job.
        if (package.Manifest.Precision == Bf16 && !_factory.UsesCuda)
            throw new GenerationException(GenerationErrorCodes.ModelUnavailable,
                $"the bf16 model package {package.Folder} needs CUDA, and {_factory.Reason}; use an fp32 package ('tora model build --precision fp32') on the CPU");
        _sessions = new PackageSessions(package, _factory, options.LowMemory, _log);
        T5Tokenizer tokenizer;
        try
        {
            tokenizer = T5Tokenizer.Load(package.TokenizerFolder);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException or ArgumentException)
        {
            throw new GenerationException(GenerationErrorCodes.ModelUnavailable, $"{package.TokenizerFolder}: the tokenizer cannot be loaded: {e.Message}");
        }
        var m = package.Manifest;
        try
        {
            _vaeTiling = options.VaeTiling.Resolve(m.Geometry.Height, m.Geometry.Width, package.Vae.SpatialCompression, options.LowMemory, _log);
        }
        catch (ArgumentException e)
        {
            throw new GenerationException(GenerationErrorCodes.ModelUnavailable, e.Message, e);
        }
        // SAT-imported packages: the unconditional branch is all zeros (docs/model.md §5.4, issue 12's semantics).
        _prompts = new PromptEncoder(tokenizer, m.TextLength, m.Transformer.TextEmbedDim,
            zeroUnconditional: m.Source.Semantics?.UnconditionalText == "zeros");
        // The 3D RoPE table of the video tokens depends only on the geometry (diffusers: base grid = sample size / patch).
        var g = m.Geometry;
        (_ropeCos, _ropeSin) = RotaryPositionalEmbedding3D.Compute(m.Transformer.AttentionHeadDim, g.LatentFrames,
            g.LatentHeight / g.PatchSize, g.LatentWidth / g.PatchSize, m.Transformer.SampleHeight / g.PatchSize, m.Transformer.SampleWidth / g.PatchSize);
    }

    /// <summary>The manifest precision that only the CUDA provider can run.</summary>
    public const string Bf16 = "bf16";

    /// <summary>The package.</summary>
    public ModelPackage Package => _package;

    /// <summary>The execution provider in use.</summary>
    public string ExecutionProvider => _factory.ProviderName;

    /// <summary>Why that provider.</summary>
    public string ExecutionProviderReason => _factory.Reason;

    /// <summary>The prompt encoder (tokenizer and T5 with the negative-prompt cache).</summary>
    public PromptEncoder Prompts => _prompts;

    /// <summary>The VAE tile size in use; null: whole frames.</summary>
    public VaeTiling? VaeTiling => _vaeTiling;

    /// <summary>Components whose sessions are loaded now.</summary>
    public IReadOnlyCollection<string> LoadedComponents => _sessions.Loaded;

    /// <summary>The latent shape <c>[1, T, C, h, w]</c> of a job.</summary>
    public int[] LatentShape => [1, _package.Geometry.LatentFrames, _package.Geometry.LatentChannels, _package.Geometry.LatentHeight, _package.Geometry.LatentWidth];

    /// <summary>Runs one generation (the paper's figure, top to bottom).</summary>
    /// <exception cref="GenerationException">The request does not fit the package (code <c>invalid_input</c> or <c>unsupported_size</c>).</exception>
    /// <exception cref="OperationCanceledException">Cancelled (checked between phases and between steps).</exception>
    public async Task<ToraResult> GenerateAsync(ToraRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        var job = new JobClock(CheckRequest(request), progress, cancellationToken);
        var text = job.Run(GenerationPhases.EncodeText, () => EncodeText(request));
        var image = request.FirstFrame is null ? null : job.Run(GenerationPhases.EncodeImage, () => EncodeFirstFrame(request));
        float[] latents;
        using (var motion = job.Run(GenerationPhases.EncodeMotion, () => EncodeMotion(request)))
        {
            latents = PrepareLatents(request);
            job.Run(GenerationPhases.Denoise, () => Denoise(request, job, latents, text, motion, image));
        }
        _sessions.Release(ModelPackage.TrajectoryEncoder); // after the modulations it allocated are freed
        var frames = job.Run(GenerationPhases.Decode, () => Decode(latents));
        await job.RunAsync(GenerationPhases.EncodeVideo, () => EncodeVideoAsync(request, frames, cancellationToken));
        return new ToraResult(frames, _package.Geometry.Frames, _package.Geometry.Height, _package.Geometry.Width, latents, LatentShape,
            job.PhaseMilliseconds, _factory.ProviderName);
    }

    private int CheckRequest(ToraRequest request)
    {
        var g = _package.Geometry;
        static GenerationException Invalid(string message) => new(GenerationErrorCodes.InvalidInput, message);
        if (request.Frames is { } f && f != g.Frames)
            throw new GenerationException(GenerationErrorCodes.UnsupportedSize, $"this model package generates {g.Frames} frames, not {f}");
        if (request.Steps < 1 || request.Steps > _package.SchedulerConfig.NumTrainTimesteps)
            throw Invalid($"steps must be 1..{_package.SchedulerConfig.NumTrainTimesteps}, got {request.Steps}");
        if (!double.IsFinite(request.GuidanceScale) || request.GuidanceScale < 0)
            throw Invalid($"the guidance scale must be a finite number ≥ 0, got {request.GuidanceScale}");
        if (_package.IsImageToVideo && request.FirstFrame is null)
            throw Invalid("this is an image-to-video model package: give a first frame");
        if (!_package.IsImageToVideo && request.FirstFrame is not null)
            throw Invalid("this is a text-to-video model package: it takes no first frame (use an image-to-video package)");
        if (request.Motion.Validate() is { Count: > 0 } motionErrors)
            throw Invalid("invalid motion controls: " + string.Join("; ", motionErrors.Select(e => $"{e.Field} {e.Message}")));
        if (request.OutputPath is not null && (request.Fps is < 1 or > 240 || request.Crf is < 0 or > 51))
            throw Invalid($"fps must be 1..240 and crf 0..51, got {request.Fps} and {request.Crf}");
        return request.Steps;
    }

    /// <summary>T5 of the negative prompt and the prompt, batched <c>[uncond, cond]</c> (docs/model.md §5.3, §5.4).</summary>
    private float[] EncodeText(ToraRequest request)
    {
        var guidance = new ClassifierFreeGuidance(request.GuidanceScale, request.DynamicCfg);
        var embeddings = _prompts.EncodeForGuidance(_sessions.Get(ModelPackage.TextEncoder), request.Prompt, request.NegativePrompt, guidance.Enabled);
        _sessions.Release(ModelPackage.TextEncoder);
        return embeddings;
    }

    /// <summary>Image-to-video: the padded first-frame latents (its posterior draw comes first, docs/model.md §5.5); null for text-to-video.</summary>
    private float[]? EncodeFirstFrame(ToraRequest request)
    {
        if (request.FirstFrame is null) return null;
        using var encoder = NewVaeEncoder();
        var latents = FirstFrameEncoder.Encode(request.FirstFrame, encoder, _package.Vae.ScalingFactor, _package.Geometry.LatentFrames, request.Noise);
        if (request.Trajectories.Count == 0 && request.FlowVideo is null) _sessions.Release(ModelPackage.VaeEncoder);
        return latents;
    }

    /// <summary>The fuser modulations from the trajectories, or motion guidance off (§3, docs/model.md §7).</summary>
    private MotionGuidance EncodeMotion(ToraRequest request)
    {
        var g = _package.Geometry;
        if (request.Trajectories.Count == 0 && request.FlowVideo is null) return MotionGuidance.Off(_sessions.Get(ModelPackage.Transformer));
        var video = new VideoGeometry(g.Frames, g.Height, g.Width);
        using var encoder = NewVaeEncoder();
        var trajectoryEncoder = _sessions.Get(ModelPackage.TrajectoryEncoder);
        var motion = request.FlowVideo is { } flow
            ? MotionGuidance.FromFlowVideo(flow, video, encoder, _package.Vae.ScalingFactor, trajectoryEncoder, request.Noise, _factory.DeviceMemory, request.Motion.Strength)
            : MotionGuidance.FromTrajectories(request.Trajectories, video, encoder, _package.Vae.ScalingFactor, trajectoryEncoder, request.Noise, _factory.DeviceMemory, request.Motion.Strength);
        _sessions.Release(ModelPackage.VaeEncoder);
        return motion;
    }

    private VaeEncoder NewVaeEncoder() => new(_sessions.Get(ModelPackage.VaeEncoder), _package.Geometry.Height, _package.Geometry.Width,
        _package.Vae.TemporalCompression, _factory.DeviceMemory, _vaeTiling);

    /// <summary>Initial latents: one standard-normal draw × <c>init_noise_sigma</c> (1, docs/model.md §5.1).</summary>
    private float[] PrepareLatents(ToraRequest request)
    {
        var shape = LatentShape;
        var latents = new float[shape.Aggregate(1, (a, b) => a * b)];
        request.Noise.Draw(shape, latents, NoiseConsumer.InitialLatents);
        return latents;
    }

    /// <summary>The step loop: batched transformer, CFG (dynamic from the timestep value), DPM-Solver++(2M) step (docs/model.md §5.2, §5.3).</summary>
    private void Denoise(ToraRequest request, JobClock job, float[] latents, float[] text, MotionGuidance motion, float[]? image)
    {
        var g = _package.Geometry;
        var scheduler = new CogVideoXDpmScheduler(_package.SchedulerConfig, request.Steps);
        var guidance = new ClassifierFreeGuidance(request.GuidanceScale, request.DynamicCfg);
        var loop = new DenoisingLoop(scheduler, guidance, LatentShape);
        using var transformer = new DenoisingTransformer(_sessions.Get(ModelPackage.Transformer), guidance.Enabled ? 2 : 1,
            g.LatentFrames, g.LatentChannels, g.LatentHeight, g.LatentWidth, text, _ropeCos, _ropeSin, motion, image, request.Motion, request.Steps);
        DenoisingStepObserver? observe = request.OnStep is { } onStep ? (step, values) => onStep(step, values) : null;
        loop.Run(latents, transformer, request.Noise, job.DenoiseProgress, job.CancellationToken, observe);
        _sessions.Release(ModelPackage.Transformer);
    }

    /// <summary>Latents ÷ scaling factor → VAE decoder in the original's chunks → 8-bit frames, diffusers rounding (docs/model.md §5.8).</summary>
    private byte[] Decode(float[] latents)
    {
        using var decoder = new VaeDecoder(_sessions.Get(ModelPackage.VaeDecoder), _package.Vae.ScalingFactor,
            _package.Geometry.LatentHeight, _package.Geometry.LatentWidth, _package.Vae.TemporalCompression, _factory.DeviceMemory, _vaeTiling);
        var frames = decoder.DecodeToUint8(latents, _package.Geometry.LatentFrames, FrameLayout.FramesFirst);
        _sessions.Release(ModelPackage.VaeDecoder);
        return frames;
    }

    /// <summary>The MP4 (H.264, yuv420p, CRF 18 by default), with the trajectories drawn over it when asked (docs/model.md §5.8).</summary>
    private async Task EncodeVideoAsync(ToraRequest request, byte[] frames, CancellationToken cancellationToken)
    {
        if (request.OutputPath is null) return;
        var g = _package.Geometry;
        var video = new RgbVideo(frames, g.Frames, g.Height, g.Width);
        if (request.OverlayTrajectory && request.Trajectories.Count > 0)
            video = TrajectoryPreview.DrawPaths(video, TrajectoryResampler.ToVideo(request.Trajectories, new VideoGeometry(g.Frames, g.Height, g.Width)));
        await Mp4Writer.WriteAsync(video, request.OutputPath, new Mp4Options { Fps = request.Fps, Crf = request.Crf }, cancellationToken);
    }

    /// <inheritdoc />
    public void Dispose() => _sessions.Dispose();

    /// <summary>Phase timings, progress reports and cancellation checks of one job.</summary>
    private sealed class JobClock(int totalSteps, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Dictionary<string, double> _phases = [];
        private int _step;

        public IReadOnlyDictionary<string, double> PhaseMilliseconds => _phases;

        public CancellationToken CancellationToken => cancellationToken;

        public void ThrowIfCancelled() => cancellationToken.ThrowIfCancellationRequested();

        /// <summary>The denoising loop's per-step progress as the job's <c>denoise</c> phase.</summary>
        public IProgress<DenoisingProgress> DenoiseProgress => _denoise ??= new DenoisePhase(this);

        private DenoisePhase? _denoise;

        private sealed class DenoisePhase(JobClock job) : IProgress<DenoisingProgress>
        {
            public void Report(DenoisingProgress value) => job.Report(GenerationPhases.Denoise, value.Step);
        }

        public void Report(string phase, int step)
        {
            _step = step;
            progress?.Report(new GenerationProgress(phase, step, totalSteps, _clock.Elapsed));
        }

        public T Run<T>(string phase, Func<T> work)
        {
            ThrowIfCancelled();
            Report(phase, _step);
            var start = _clock.Elapsed;
            var result = work();
            _phases[phase] = _phases.GetValueOrDefault(phase) + (_clock.Elapsed - start).TotalMilliseconds;
            return result;
        }

        public void Run(string phase, Action work) => Run<object?>(phase, () => { work(); return null; });

        public async Task RunAsync(string phase, Func<Task> work)
        {
            ThrowIfCancelled();
            Report(phase, _step);
            var start = _clock.Elapsed;
            await work();
            _phases[phase] = _phases.GetValueOrDefault(phase) + (_clock.Elapsed - start).TotalMilliseconds;
        }
    }
}
