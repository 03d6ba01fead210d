using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Tora.Contracts;
using Tora.Inference.Noise;
using Tora.Inference.Sampling;
using Tora.Inference.Vae;
using Tora.Motion.Trajectories;
using Tora.Motion.Video;

namespace Tora.Inference.Pipeline;

/// <summary>
/// The Tora pipeline over one model package (docs/model.md §4–5, §7, the diffusers T2V/I2V semantics):
/// prompt → T5, trajectories → flow video → VAE → trajectory encoder, (first frame → VAE), noise → DPM-Solver++(2M)
/// loop of the CFG-batched transformer → chunked VAE decode → 8-bit frames → MP4. Every random draw comes from the
/// request's noise source in the original's order: image posterior, flow posterior, initial latents, scheduler.
/// <see cref="GenerateAsync"/> follows diffusers' <c>CogVideoXPipeline.__call__</c> step by step, with its step
/// numbers and names. One job at a time; each graph is a <see cref="ModelComponent"/> whose session is reused across
/// jobs (or unloaded between phases by the <see cref="LowMemoryPolicy"/>).
/// </summary>
public sealed class ToraPipeline : IDisposable
{
    private readonly ModelPackage _package;
    private readonly OrtSessionFactory _factory;
    private readonly TextEncoderModel _textEncoder;
    private readonly VaeEncoderModel _vaeEncoder;
    private readonly TrajectoryEncoderModel _trajectoryEncoder;
    private readonly TransformerModel _transformer;
    private readonly VaeDecoderModel _vaeDecoder;
    private readonly ModelComponent[] _components;
    private readonly LowMemoryPolicy _memory;

    /// <summary>Opens <paramref name="package"/> (checked, tokenizer loaded; sessions are created on first use).</summary>
    /// <exception cref="GenerationException">The package is unusable, or CUDA was required and is not usable.</exception>
    public ToraPipeline(ModelPackage package, ExecutionOptions? options = null)
    {
        options ??= new ExecutionOptions();
        _package = package;
        var log = options.Log ?? (_ => { });
        _factory = new OrtSessionFactory(options);
        // The CPU provider has no bfloat16 MatMul: a bf16 package would fail at its first session, mid-job.
        if (package.Manifest.Precision == Bf16 && !_factory.UsesCuda)
            throw new GenerationException(GenerationErrorCodes.ModelUnavailable,
                $"the bf16 model package {package.Folder} needs CUDA, and {_factory.Reason}; use an fp32 package ('tora model build --precision fp32') on the CPU");
        var g = package.Geometry;
        try
        {
            VaeTiling = options.VaeTiling.Resolve(g.Height, g.Width, package.Vae.SpatialCompression, options.LowMemory, log);
        }
        catch (ArgumentException e)
        {
            throw new GenerationException(GenerationErrorCodes.ModelUnavailable, e.Message, e);
        }
        _textEncoder = TextEncoderModel.Open(package, _factory, log);
        _vaeEncoder = new VaeEncoderModel(package, _factory, log, VaeTiling);
        _trajectoryEncoder = new TrajectoryEncoderModel(package, _factory, log);
        _transformer = new TransformerModel(package, _factory, log);
        _vaeDecoder = new VaeDecoderModel(package, _factory, log, VaeTiling);
        _components = [_textEncoder, _vaeEncoder, _trajectoryEncoder, _transformer, _vaeDecoder];
        // Each component's last phase in a job: the VAE encoder serves the first frame and the motion input; the
        // trajectory encoder allocated the modulations the loop reads, freed when the loop ends.
        _memory = new LowMemoryPolicy(options.LowMemory, new Dictionary<string, ModelComponent[]>
        {
            [GenerationPhases.EncodeText] = [_textEncoder],
            [GenerationPhases.EncodeMotion] = [_vaeEncoder],
            [GenerationPhases.Denoise] = [_transformer, _trajectoryEncoder],
            [GenerationPhases.Decode] = [_vaeDecoder],
        });
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
    public PromptEncoder Prompts => _textEncoder.Prompts;

    /// <summary>The VAE tile size in use; null: whole frames.</summary>
    public VaeTiling? VaeTiling { get; }

    /// <summary>Graphs whose sessions are loaded now.</summary>
    public IReadOnlyCollection<string> LoadedComponents => _components.Where(c => c.IsLoaded).Select(c => c.Graph).ToArray();

    /// <summary>The latent shape <c>[1, T, C, h, w]</c> of a job.</summary>
    public int[] LatentShape => [1, _package.Geometry.LatentFrames, _package.Geometry.LatentChannels, _package.Geometry.LatentHeight, _package.Geometry.LatentWidth];

    /// <summary>Runs one generation, in the steps of diffusers' <c>CogVideoXPipeline.__call__</c>.</summary>
    /// <exception cref="GenerationException">The request does not fit the package (code <c>invalid_input</c> or <c>unsupported_size</c>).</exception>
    /// <exception cref="OperationCanceledException">Cancelled (checked between phases and between steps).</exception>
    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        // 1. Check inputs. Raise error if not correct
        var video = CheckInputs(request);

        // 2. Default call parameters
        var guidance = new ClassifierFreeGuidance(request.GuidanceScale, request.DynamicCfg);
        bool doClassifierFreeGuidance = guidance.Enabled;
        var noise = request.ResolveNoise();
        var job = new JobClock(request.Steps, progress, _memory, cancellationToken);

        // 3. Encode input prompt
        float[] promptEmbeds;
        using (job.Phase(GenerationPhases.EncodeText))
            promptEmbeds = _textEncoder.EncodePrompt(request.Prompt, request.NegativePrompt, doClassifierFreeGuidance);

        // 4. Prepare timesteps
        var scheduler = new CogVideoXDpmScheduler(_package.SchedulerConfig, request.Steps);

        // 5. Prepare latents: the first frame's (image-to-video) and the motion input's before the initial noise,
        // the original's order of draws (docs/model.md §5.5).
        float[]? imageLatents = null;
        if (request.FirstFrame is { } firstFrame)
            using (job.Phase(GenerationPhases.EncodeImage))
                imageLatents = _vaeEncoder.EncodeFirstFrame(firstFrame, noise);
        MotionGuidance motion;
        using (job.Phase(GenerationPhases.EncodeMotion))
            motion = request.Trajectories.Count == 0 && request.FlowVideo is null
                ? _transformer.MotionOff()
                : _trajectoryEncoder.Encode(request, _vaeEncoder, noise);
        using var motionScope = motion; // freed here only when a step before the loop fails
        var latents = new float[LatentShape.Aggregate(1, (a, b) => a * b)];
        noise.Draw(LatentShape, latents, NoiseConsumer.InitialLatents); // × init_noise_sigma = 1 (docs/model.md §5.1)

        // 6. Prepare extra step kwargs: the scheduler's own draws come from the same noise source (no eta)
        var loop = new DenoisingLoop(scheduler, guidance, LatentShape);

        // 7. Create rotary embeds (the geometry's table, computed once when the package was opened)
        var (ropeCos, ropeSin) = (_transformer.RopeCos, _transformer.RopeSin);

        // 8. Denoising loop: the CFG-batched transformer, guidance, one DPM-Solver++(2M) step (docs/model.md §5.2, §5.3)
        // The modulations are freed with the loop, before the phase ends and the low-memory policy unloads the
        // trajectory encoder that allocated them (also when the loop is cancelled).
        using (job.Phase(GenerationPhases.Denoise))
        using (motion)
        using (var transformer = _transformer.Bind(doClassifierFreeGuidance ? 2 : 1, promptEmbeds, ropeCos, ropeSin, motion, imageLatents,
                   request.Motion, request.Steps))
            loop.Run(latents, transformer, noise, job, cancellationToken, request.OnStep);

        // Decode: latents → VAE decoder → 8-bit frames (docs/model.md §5.8)
        byte[] pixels;
        using (job.Phase(GenerationPhases.Decode))
            pixels = _vaeDecoder.Decode(latents);

        // Export: the MP4, with the trajectories drawn over it when asked
        using (job.Phase(GenerationPhases.EncodeVideo))
            await EncodeVideoAsync(request, video, pixels, cancellationToken);

        var config = _package.SchedulerConfig;
        return new GenerationResult
        {
            VideoPath = request.OutputPath,
            Geometry = video,
            Fps = request.Fps,
            Pixels = pixels,
            FinalLatents = latents,
            LatentShape = LatentShape,
            PhaseMilliseconds = job.PhaseMilliseconds,
            ModelPackageHash = _package.ManifestHash,
            Scheduler = $"CogVideoXDPMScheduler {config.TimestepSpacing} {config.PredictionType} steps={request.Steps} cfg={request.GuidanceScale} dynamic_cfg={request.DynamicCfg}",
            OnnxRuntimeVersion = OrtEnv.Instance().GetVersionString(),
            ExecutionProvider = _factory.ProviderName,
        };
    }

    /// <summary>The checks the package decides; returns the video geometry of the job.</summary>
    private VideoGeometry CheckInputs(GenerationRequest request)
    {
        var g = _package.Geometry;
        var video = new VideoGeometry(g.Frames, g.Height, g.Width);
        static GenerationException Invalid(string message) => new(GenerationErrorCodes.InvalidInput, message);
        if (request.Geometry is { } asked && asked != video)
            throw new GenerationException(GenerationErrorCodes.UnsupportedSize,
                $"this model package generates {g.Frames} frames of {g.Width}x{g.Height}, not {asked.Frames} of {asked.Width}x{asked.Height}");
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
        return video;
    }

    /// <summary>The MP4 (H.264, yuv420p, CRF 18 by default), with the trajectories drawn over it when asked (docs/model.md §5.8).</summary>
    private static async Task EncodeVideoAsync(GenerationRequest request, VideoGeometry geometry, byte[] pixels, CancellationToken cancellationToken)
    {
        if (request.OutputPath is null) return;
        var video = new RgbVideo(pixels, geometry.Frames, geometry.Height, geometry.Width);
        if (request.OverlayTrajectory && request.Trajectories.Count > 0)
            video = TrajectoryPreview.DrawPaths(video, TrajectoryResampler.ToVideo(request.Trajectories, geometry));
        await Mp4Writer.WriteAsync(video, request.OutputPath, new Mp4Options { Fps = request.Fps, Crf = request.Crf }, cancellationToken);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var c in _components) c.Dispose();
    }

    /// <summary>
    /// Phase timings, progress reports and cancellation checks of one job, and the low-memory policy after each
    /// phase. The denoising loop reports its steps here, timed on the job's clock.
    /// </summary>
    private sealed class JobClock(int totalSteps, IProgress<GenerationProgress>? progress, LowMemoryPolicy memory, CancellationToken cancellationToken)
        : IProgress<GenerationProgress>
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Dictionary<string, double> _phases = [];
        private int _step;

        public IReadOnlyDictionary<string, double> PhaseMilliseconds => _phases;

        /// <summary>Starts <paramref name="phase"/> (after a cancellation check); disposing the scope ends it.</summary>
        public PhaseScope Phase(string phase)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Report(phase, _step);
            return new PhaseScope(this, phase, _clock.Elapsed);
        }

        public void Report(GenerationProgress value) => Report(value.Phase, value.Step);

        private void Report(string phase, int step)
        {
            _step = step;
            progress?.Report(new GenerationProgress(phase, step, totalSteps, _clock.Elapsed));
        }

        private void End(string phase, TimeSpan start)
        {
            _phases[phase] = _phases.GetValueOrDefault(phase) + (_clock.Elapsed - start).TotalMilliseconds;
            memory.AfterPhase(phase);
        }

        public readonly struct PhaseScope(JobClock job, string phase, TimeSpan start) : IDisposable
        {
            public void Dispose() => job.End(phase, start);
        }
    }
}
